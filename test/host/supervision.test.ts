// Crash mechanics with a scripted worker (test/host/helpers/fake-worker.ts) forked through
// nodeLauncher: a worker killed by SIGKILL mid-job is restarted, the job is failed with its
// cause, the next job succeeds (the model is loaded again) and the history has every row; a
// stuck cancel is escalated to a kill; crash loops are damped by the backoff and end in
// "failed"; telemetry reaches the window at about 10 Hz.
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerSupervisor } from '../../electron/worker-host/supervisor.js';
import { nodeLauncher } from '../../electron/worker-host/node-launcher.js';
import type { WorkerStatus } from '../../electron/contract/bridge.js';
import { writeFakeWorker } from './helpers/fake-worker.js';
import { makeHost, type TestHost } from './helpers/host.js';
import { fixtureImage } from './helpers/images.js';

let current: TestHost | null = null;
let supervisor: WorkerSupervisor | null = null;
afterEach(async () => {
  await current?.host.stop();
  current = null;
  await supervisor?.stop();
  supervisor = null;
});

function imageCopy(name: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'kotaro-img-')), name);
  copyFileSync(fixtureImage('shapes_200x150.png'), path);
  return path;
}

describe('worker supervision through the host services', () => {
  it('a worker killed by SIGKILL mid-job: job failed with the cause, worker restarted, next job done, nothing lost', async () => {
    const fake = writeFakeWorker();
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile, FAKE_TOKEN_MS: '40' } });
    const { host, waitFor, of } = current;
    const [first, second] = await host.submitJobs([imageCopy('first.png'), imageCopy('second.png')]);
    // Kill the worker from outside once the first job has streamed two tokens.
    let tokens = 0;
    const killed = new Promise<number>((resolve) => {
      host.on('bridgeEvent', ({ event, payload }) => {
        if (event === 'job.token' && (payload as { jobId: string }).jobId === first && ++tokens === 2) {
          const pid = host.worker.getStatus().pid!;
          process.kill(pid, 'SIGKILL');
          resolve(pid);
        }
      });
    });
    const deadPid = await killed;
    const failed = await waitFor('job.updated', (j) => j.id === first && j.state === 'failed');
    expect(failed.error).toEqual({ code: 'WORKER_CRASHED', message: 'the GPU worker was killed by SIGKILL' });
    expect(failed.streamText).toContain('w1'); // partial output kept as evidence
    const done = await waitFor('job.updated', (j) => j.id === second && j.state === 'done');
    expect(done).toMatchObject({ description: 'w1 w2 w3', comments: ['w4', 'w5'] });

    const status = host.worker.getStatus();
    expect(status.restarts).toBe(1);
    expect(status.pid).not.toBe(deadPid);
    // The window heard of the restart and of the model going away and coming back.
    expect(of('worker.status').map((s) => s.state)).toEqual(expect.arrayContaining(['restarting', 'ready']));
    const modelStates = of('model.status').map((s) => s.state);
    expect(modelStates.lastIndexOf('unloaded')).toBeGreaterThan(modelStates.indexOf('loaded'));
    expect(modelStates.at(-1)).toBe('loaded');
    // The fresh worker was given the model again before the second job.
    const requests = fake.log().filter((e) => e.event === 'request').map((e) => e.type);
    expect(requests.filter((t) => t === 'model.load')).toHaveLength(2);
    expect(requests.filter((t) => t === 'job.analyze')).toHaveLength(2);
    expect(requests.filter((t) => t === 'telemetry.configure')).toHaveLength(2); // once per worker process
    // Nothing lost: both jobs are in the history with their final state and cause.
    expect(host.history.get(first!)).toMatchObject({ state: 'failed', error: { code: 'WORKER_CRASHED' }, ownerPid: null });
    expect(host.history.get(second!)).toMatchObject({ state: 'done', description: 'w1 w2 w3' });
  });

  it('a worker that aborts mid-job (as on a CUDA fault): the job fails with SIGABRT as its cause, the next one runs', async () => {
    const fake = writeFakeWorker();
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile } });
    const { host, waitFor } = current;
    const [a, b] = await host.submitJobs([imageCopy('crash-me.png'), imageCopy('fine.png')]);
    const failed = await waitFor('job.updated', (j) => j.id === a && j.state === 'failed');
    expect(failed.error).toEqual({ code: 'WORKER_CRASHED', message: 'the GPU worker was killed by SIGABRT' });
    await waitFor('job.updated', (j) => j.id === b && j.state === 'done');
  });

  it('a worker that kills itself while loading is not reloaded once per image (MODEL_LOAD_CRASHED) until the user loads again', async () => {
    const fake = writeFakeWorker();
    // The fake dies 150 ms after each start, before its 300 ms load can finish: a crash during load.
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile, FAKE_LOAD_MS: '300', FAKE_CRASH_AFTER_MS: '150' } });
    const { host, waitFor } = current;
    const ids = await host.submitJobs([imageCopy('a.png'), imageCopy('b.png'), imageCopy('c.png')]);
    const [a, b, c] = await Promise.all(ids.map((id) => waitFor('job.updated', (j) => j.id === id && j.state === 'failed')));
    expect(a!.error?.code).toBe('WORKER_CRASHED');
    expect(b!.error?.code).toBe('MODEL_LOAD_CRASHED');
    expect(c!.error?.code).toBe('MODEL_LOAD_CRASHED');
    expect(fake.log().filter((e) => e.type === 'model.load')).toHaveLength(1);
  });

  it('kills a worker that ignores a cancel; the job ends cancelled and the worker comes back', async () => {
    const fake = writeFakeWorker();
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile, FAKE_IGNORE_CANCEL: '1' }, cancelGraceMs: 300 });
    const { host, waitFor } = current;
    const [id] = await host.submitJobs([imageCopy('endless.png')]);
    await waitFor('job.token', (t) => t.jobId === id);
    expect(host.queue.cancel(id!)).toBe(true);
    const ended = await waitFor('job.updated', (j) => j.id === id && j.state !== 'running' && j.state !== 'pending');
    expect(ended.state).toBe('cancelled');
    await waitFor('worker.status', (s) => s.state === 'ready' && s.restarts === 1);
  });

  it('relays worker telemetry to the window at about 10 Hz, and caps a faster worker', async () => {
    const fake = writeFakeWorker();
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile } });
    const { host, events } = current;
    await host.worker.whenReady();
    await new Promise((r) => setTimeout(r, 300)); // let the configure land
    const from = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    const samples = events.filter((e) => e.event === 'telemetry' && e.at >= from && e.at < from + 2000);
    expect(samples.length).toBeGreaterThanOrEqual(17);
    expect(samples.length).toBeLessThanOrEqual(22);
    const configured = fake.log().find((e) => e.type === 'telemetry.configure');
    expect(configured).toBeDefined();
    await host.stop();

    // A worker sending every 5 ms (200 Hz) still reaches the window at no more than ~11 Hz.
    const fast = writeFakeWorker();
    current = await makeHost({ workerEntry: fast.entry, workerEnv: { FAKE_LOG: fast.logFile, FAKE_TELEMETRY_MS: '5' } });
    await current.host.worker.whenReady();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    const relayed = current.events.filter((e) => e.event === 'telemetry' && e.at >= t0 && e.at < t0 + 2000);
    expect(current.host.telemetry.received).toBeGreaterThan(200);
    expect(relayed.length).toBeGreaterThanOrEqual(17);
    expect(relayed.length).toBeLessThanOrEqual(23);
    const gaps = relayed.slice(1).map((e, i) => e.at - relayed[i]!.at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(85);
  });
});

describe('restart backoff', () => {
  /**
   * When each worker died (the status with restarts incremented and no pid) and when the next
   * one was spawned (the first status with its pid): the difference is the backoff delay alone,
   * without the time a Node process takes to start and die.
   */
  function restartDelays(sup: WorkerSupervisor): { delays: number[]; states: WorkerStatus[] } {
    const delays: number[] = [];
    const states: WorkerStatus[] = [];
    let diedAt: number | null = null;
    sup.on('status', (s) => {
      const prev = states.at(-1);
      states.push(s);
      if (s.pid === null && s.restarts > (prev?.restarts ?? 0)) diedAt = performance.now();
      if (s.pid !== null && prev?.pid === null && diedAt !== null) {
        delays.push(performance.now() - diedAt);
        diedAt = null;
      }
    });
    return { delays, states };
  }

  it('damps a crash loop with growing delays and gives up as "failed"; an explicit restart starts over', async () => {
    const fake = writeFakeWorker();
    supervisor = new WorkerSupervisor({
      launcher: nodeLauncher,
      entry: fake.entry,
      env: { FAKE_LOG: fake.logFile, FAKE_CRASH_AT_START: '1' },
      backoff: { baseMs: 100, maxMs: 400, stableMs: 60_000 },
      maxConsecutiveCrashes: 4,
    });
    const { delays, states } = restartDelays(supervisor);
    supervisor.start();
    await expect(supervisor.whenReady()).rejects.toMatchObject({ code: 'WORKER_FAILED' });
    expect(states.at(-1)).toMatchObject({ state: 'failed', restarts: 3, lastError: expect.stringMatching(/exited with code 3; gave up after 4 crashes/) });
    expect(fake.log().filter((e) => e.event === 'start')).toHaveLength(4);
    // Doubling from 100 ms, capped at 400 (timers may fire late on a busy machine, never early).
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeGreaterThanOrEqual(99);
    expect(delays[1]).toBeGreaterThanOrEqual(199);
    expect(delays[2]).toBeGreaterThanOrEqual(399);
    supervisor.restart();
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.log().filter((e) => e.event === 'start').length).toBeGreaterThanOrEqual(5);
  });

  it('resets the backoff after a stable run', async () => {
    const fake = writeFakeWorker();
    supervisor = new WorkerSupervisor({
      launcher: nodeLauncher,
      entry: fake.entry,
      env: { FAKE_LOG: fake.logFile, FAKE_CRASH_AFTER_MS: '400' },
      backoff: { baseMs: 50, maxMs: 5_000, stableMs: 300 },
      maxConsecutiveCrashes: 2,
    });
    const { delays } = restartDelays(supervisor);
    supervisor.start();
    // Each run lasts 400 ms > stableMs: every crash counts as the first, the delay stays at the
    // base 50 ms (a growing backoff would reach 100, 200, 400…), and the supervisor never gives
    // up although more than 2 crashes happen.
    await new Promise((r) => setTimeout(r, 2500));
    expect(supervisor.getStatus().state).not.toBe('failed');
    expect(delays.length).toBeGreaterThanOrEqual(3);
    for (const d of delays) expect(d).toBeLessThan(100);
  });
});
