// The built worker (dist/gpu-worker/main.js) in its own process, driven by main's supervisor
// as the app drives it: load a model, run a job with events streaming back, refuse a
// malformed request. Needs npm run build:ts and npm run build:native.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { WorkerSupervisor } from '../../electron/worker-host/supervisor.js';
import { nodeLauncher } from '../../electron/worker-host/node-launcher.js';
import { requireFile, workerEntry, fixturesRoot } from '../helpers/paths.js';
import type { WorkerMessage } from '../../gpu-worker/protocol.js';
import { fixtureFiles, VL } from '../engine/helpers.js';

const vl = fixtureFiles(VL).llamacpp('f32');
let supervisor: WorkerSupervisor | null = null;
afterAll(async () => {
  await supervisor?.stop();
});

describe('gpu-worker process: model and job messages', () => {
  it('loads a model, analyses an image with streamed events, and refuses a malformed request', async () => {
    supervisor = new WorkerSupervisor({ launcher: nodeLauncher, entry: requireFile(workerEntry, 'run npm run build:ts'), env: { KOTARO_TELEMETRY_MS: '50' } });
    const events: WorkerMessage[] = [];
    supervisor.on('message', (m) => events.push(m));
    supervisor.start();
    await supervisor.whenReady();

    const loaded = await supervisor.request({
      type: 'model.load',
      options: { modelId: 'vl', modelPath: vl.model, mmprojPath: vl.mmproj, backend: 'cpu', contextLength: 4096, memoryBudgetBytes: 0, minPixels: 3136, maxPixels: 200704, threads: undefined, idleUnloadMs: undefined },
    });
    expect(loaded).toMatchObject({ type: 'model.loaded', modelId: 'vl', info: { hasVision: true } });

    const result = await supervisor.request({
      type: 'job.analyze',
      jobId: 'p1',
      imagePath: join(fixturesRoot, VL, 'images', 'tall_90x300.png'),
      settings: { temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, repetitionPenalty: 1.1, maxNewTokens: 32, maxImageSide: 512, commentTone: 'friendly', commentCount: 2, outputLanguage: 'ja', seed: undefined },
    });
    expect(result).toMatchObject({ type: 'job.result', jobId: 'p1' });
    if (result.type !== 'job.result') return;
    const tokens = events.filter((m) => m.type === 'job.token' && m.jobId === 'p1');
    expect(tokens.map((m) => (m as { text: string }).text).join('')).toBe(result.rawDescription + result.rawComments);
    expect(events.some((m) => m.type === 'model.progress')).toBe(true);
    expect(events.some((m) => m.type === 'telemetry' && m.sample.backend === 'cpu')).toBe(true);

    await expect(supervisor.request({ type: 'job.cancel', jobId: '' } as never)).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(await supervisor.request({ type: 'model.unload' })).toMatchObject({ type: 'ack' });
  });
});
