// Every bridge method through the router against the host services (scripted worker): each
// result and each pushed event parses under the contract's own schemas, and the host's refusals
// (no model, a model that does not fit, a full queue, bad settings) arrive as coded errors.
import { afterEach, describe, expect, it } from 'vitest';
import { BridgeRouter } from '../../electron/host/bridge-router.js';
import { bridgeEvents, bridgeMethods, type BridgeMethod } from '../../electron/contract/bridge.js';
import { writeFakeWorker } from './helpers/fake-worker.js';
import { makeHost, type TestHost } from './helpers/host.js';
import { fixtureImage } from './helpers/images.js';
import { fixturesRoot } from '../helpers/paths.js';
import { join } from 'node:path';

let current: TestHost | null = null;
afterEach(async () => {
  await current?.host.stop();
  current = null;
});

async function call(router: BridgeRouter, method: BridgeMethod, params: unknown): Promise<unknown> {
  const result = await router.dispatch(method, params);
  bridgeMethods[method].result.parse(result, `${method} result`);
  return result;
}

describe('bridge contract over the host services', () => {
  it('answers every method with a result of the contract shape, and pushes only valid events', async () => {
    const fake = writeFakeWorker();
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile } });
    const { host, waitFor, events, model } = current;
    const router = new BridgeRouter(host);
    const covered = new Set<string>();
    const c = async (method: BridgeMethod, params: unknown) => {
      covered.add(method);
      return call(router, method, params);
    };

    await host.worker.whenReady();
    await c('app.info', {});
    await c('worker.ping', {});
    await c('settings.get', {});
    expect(await c('settings.update', { patch: { commentCount: 4 } })).toMatchObject({ commentCount: 4 });
    const listed = (await c('models.list', {})) as Array<{ id: string }>;
    expect(listed.map((m) => m.id)).toContain(model.id);
    await c('models.rescan', {});
    expect(await c('models.load', { modelId: model.id })).toMatchObject({ state: 'loaded', modelId: model.id, backend: 'cpu' });
    await c('models.status', {});

    const { jobIds } = (await c('jobs.submit', { paths: [fixtureImage('tall_90x300.png'), fixtureImage('gradient_56x84.png')] })) as { jobIds: string[] };
    await waitFor('job.updated', (j) => j.id === jobIds[1] && j.state === 'done');
    expect(await c('jobs.list', {})).toHaveLength(2);
    expect(await c('jobs.edit', { jobId: jobIds[0], description: 'edited', comments: ['c'] })).toMatchObject({ description: 'edited' });
    const { jobId: retried } = (await c('jobs.retry', { jobId: jobIds[0] })) as { jobId: string };
    expect(await c('jobs.cancel', { jobId: retried })).toMatchObject({ ok: expect.any(Boolean) });
    await c('jobs.cancelAll', {});
    expect(await c('history.search', { query: 'edited', limit: 10, offset: 0 })).toMatchObject({ total: 1 });
    const csv = (await c('history.export', { format: 'csv', query: '' })) as { filename: string; content: string };
    expect(csv.filename).toMatch(/^kotaro-history-.*\.csv$/);
    expect(csv.content.split('\r\n').filter(Boolean)).toHaveLength(1 + 3);
    const json = (await c('history.export', { format: 'json', query: '' })) as { content: string };
    expect(JSON.parse(json.content).items).toHaveLength(3);
    expect(await c('models.unload', {})).toMatchObject({ state: 'unloaded' });

    await waitFor('telemetry', () => true);
    expect([...covered].sort()).toEqual(Object.keys(bridgeMethods).sort());
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['worker.status', 'settings.changed', 'models.changed', 'model.status', 'job.updated', 'job.token', 'telemetry']));
    for (const e of events) bridgeEvents[e.event].parse(e.payload, e.event);
  });

  it('refuses jobs and loads with coded errors: no model, too large for the GPU, full queue, bad settings', async () => {
    const fake = writeFakeWorker();
    // The fake GPU has 1 MiB free: nothing fits.
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile, FAKE_GPU_FREE: String(2 ** 20) }, maxWaiting: 1 });
    const { host, model } = current;
    const router = new BridgeRouter(host);
    await host.worker.whenReady();

    const entry = ((await call(router, 'models.list', {})) as Array<{ id: string; fits: boolean | null; budgetBytes: number }>).find((m) => m.id === model.id)!;
    expect(entry).toMatchObject({ fits: false, budgetBytes: 2 ** 20 });
    await expect(router.dispatch('models.load', { modelId: model.id })).rejects.toMatchObject({
      code: 'MODEL_TOO_LARGE',
      message: expect.stringMatching(/needs about .* of VRAM .* but only 1 MiB is available \(the free memory of Fake GPU\)/),
    });
    await expect(router.dispatch('jobs.submit', { paths: [fixtureImage('tall_90x300.png')] })).rejects.toMatchObject({ code: 'MODEL_TOO_LARGE' });
    expect(fake.log().filter((e) => e.type === 'model.load')).toHaveLength(0); // refused before the worker

    // On the CPU backend the GPU budget does not apply.
    await router.dispatch('settings.update', { patch: { backend: 'cpu' } });
    await expect(router.dispatch('jobs.submit', { paths: [fixtureImage('tall_90x300.png'), fixtureImage('tall_90x300.png'), fixtureImage('tall_90x300.png')] }))
      .rejects.toMatchObject({ code: 'QUEUE_FULL' });

    await router.dispatch('settings.update', { patch: { selectedModelId: null } });
    await expect(router.dispatch('jobs.submit', { paths: [fixtureImage('tall_90x300.png')] })).rejects.toMatchObject({ code: 'NO_MODEL_SELECTED' });
    await expect(router.dispatch('models.load', { modelId: 'm-nope' })).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND' });
    await expect(router.dispatch('settings.update', { patch: { topP: 7 } })).rejects.toMatchObject({ code: 'INVALID_SETTINGS' });
    await expect(router.dispatch('jobs.retry', { jobId: 'nope' })).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('refuses a text-only model for images', async () => {
    const fake = writeFakeWorker();
    current = await makeHost({ workerEntry: fake.entry, workerEnv: { FAKE_LOG: fake.logFile } });
    const { host } = current;
    host.settings.update({ modelFolders: [join(fixturesRoot, 'tiny-qwen2-a', 'llamacpp')] });
    const textOnly = (await host.rescanModels()).find((m) => m.architecture === 'qwen2')!;
    expect(textOnly.vision).toBe(false);
    host.settings.update({ selectedModelId: textOnly.id });
    await expect(host.submitJobs([fixtureImage('tall_90x300.png')])).rejects.toMatchObject({ code: 'MODEL_NO_VISION' });
  });
});
