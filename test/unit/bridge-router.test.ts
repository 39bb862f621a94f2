// The router is where renderer input enters main: unknown methods and bad params are refused
// before any handler runs.
import { describe, expect, it } from 'vitest';
import { BridgeRouter } from '../../electron/host/bridge-router.js';
import { HostServices } from '../../electron/host/host-services.js';
import { nodeLauncher } from '../../electron/worker-host/node-launcher.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function makeRouter() {
  const host = new HostServices({
    host: 'serve',
    launcher: nodeLauncher,
    appVersion: '9.9.9',
    workerEntry: '/nonexistent/worker.js',
    dataDir: mkdtempSync(join(tmpdir(), 'kotaro-router-')),
  });
  return { host, router: new BridgeRouter(host) };
}

describe('bridge router', () => {
  it('answers app.info without a worker running', async () => {
    const { router } = makeRouter();
    const info = (await router.dispatch('app.info', {})) as { version: string; host: string; worker: { state: string } };
    expect(info.version).toBe('9.9.9');
    expect(info.host).toBe('serve');
    expect(info.worker.state).toBe('stopped');
  });

  it('refuses unknown methods and prototype keys', async () => {
    const { router } = makeRouter();
    await expect(router.dispatch('nope', {})).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
    await expect(router.dispatch('__proto__', {})).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
    await expect(router.dispatch(42, {})).rejects.toMatchObject({ code: 'UNKNOWN_METHOD' });
  });

  it('refuses invalid params with the path of the bad field', async () => {
    const { router } = makeRouter();
    await expect(router.dispatch('jobs.submit', { paths: 'x' })).rejects.toMatchObject({ code: 'INVALID_PARAMS', message: expect.stringMatching(/params\.paths/) });
    await expect(router.dispatch('jobs.cancel', { jobId: 7 })).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
  });
});
