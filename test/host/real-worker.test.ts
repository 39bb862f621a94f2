// The host services with the real GPU worker (dist/gpu-worker/main.js, forked through
// nodeLauncher; run `npx tsc -p tsconfig.build.json` first) and the reference fixture model on
// the CPU backend: jobs run end to end, and a worker killed by SIGKILL in the middle of a job is
// restarted, the job failed with its cause, and the next job done. The fixture's weights are
// random, so the text is gibberish: these tests check the plumbing, not the words.
import { afterEach, describe, expect, it } from 'vitest';
import { makeHost, type TestHost } from './helpers/host.js';
import { fixtureImage } from './helpers/images.js';
import { addonPath, requireFile, workerEntry } from '../helpers/paths.js';

let current: TestHost | null = null;
afterEach(async () => {
  await current?.host.stop();
  current = null;
});

async function realHost(maxNewTokens: number): Promise<TestHost> {
  requireFile(addonPath, 'run npm run build:native');
  const t = await makeHost({ workerEntry: requireFile(workerEntry, 'run npx tsc -p tsconfig.build.json') });
  t.host.settings.update({ backend: 'cpu', maxNewTokens, contextLength: 8192, temperature: 0 });
  return t;
}

describe('host services with the real worker (CPU, fixture model)', () => {
  it('analyses images end to end: streamed tokens, parsed answer, timings, history', async () => {
    current = await realHost(24);
    const { host, waitFor, of } = current;
    const ids = await host.submitJobs([fixtureImage('shapes_200x150.png'), fixtureImage('tall_90x300.png')]);
    for (const id of ids) {
      const done = await waitFor('job.updated', (j) => j.id === id && ['done', 'failed'].includes(j.state), 60_000);
      expect(done.error).toBeNull();
      expect(done.state).toBe('done');
      expect(done.timings.totalMs).toBeGreaterThan(0);
      expect(done.timings.visionMs).toBeGreaterThan(0);
      expect(host.history.get(id)).toMatchObject({ state: 'done', modelPath: expect.stringMatching(/model-f32\.gguf$/), mmprojPath: expect.stringMatching(/mmproj-f16\.gguf$/) });
    }
    const tokens = of('job.token').filter((t) => t.jobId === ids[0]);
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.some((t) => t.part === 'description')).toBe(true);
    expect(of('model.status').at(-1)).toMatchObject({ state: 'loaded', backend: 'cpu' });
  });

  it('a real worker killed by SIGKILL mid-job: restarted, the job failed with its cause, the next job done', async () => {
    current = await realHost(3000); // long enough to be killed while it streams (prompt + 3000 < the fixture's 4096 context)
    const { host, waitFor } = current;
    const [first, second] = await host.submitJobs([fixtureImage('wide_640x360.png'), fixtureImage('gradient_56x84.png')]);
    let seen = 0;
    host.on('bridgeEvent', ({ event, payload }) => {
      if (event === 'job.token' && (payload as { jobId: string }).jobId === first && ++seen === 2) process.kill(host.worker.getStatus().pid!, 'SIGKILL');
    });
    const failed = await waitFor('job.updated', (j) => j.id === first && j.state !== 'pending' && j.state !== 'running', 60_000);
    expect(failed).toMatchObject({ state: 'failed', error: { code: 'WORKER_CRASHED', message: 'the GPU worker was killed by SIGKILL' } });
    host.settings.update({ maxNewTokens: 16 });
    const done = await waitFor('job.updated', (j) => j.id === second && j.state !== 'pending' && j.state !== 'running', 60_000);
    expect(done.error).toBeNull();
    expect(done.state).toBe('done');
    expect(host.worker.getStatus()).toMatchObject({ state: 'ready', restarts: 1 });
    expect(host.history.get(first!)).toMatchObject({ state: 'failed', error: { code: 'WORKER_CRASHED' } });
    expect(host.history.get(second!)!.state).toBe('done');
  });
});
