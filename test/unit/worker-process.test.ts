// The GPU worker, forked the way `kotaro serve` does (a Node stand-in for Electron's
// utilityProcess), answers the handshake and a ping, and is restarted after a crash.
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerSupervisor } from '../../electron/worker-host/supervisor.js';
import { nodeLauncher } from '../../electron/worker-host/node-launcher.js';
import { requireFile, workerEntry } from '../helpers/paths.js';
import type { WorkerStatus } from '../../electron/contract/bridge.js';

let supervisor: WorkerSupervisor | null = null;
afterEach(async () => {
  await supervisor?.stop();
  supervisor = null;
});

function waitForState(sup: WorkerSupervisor, state: WorkerStatus['state'], timeoutMs = 30_000): Promise<WorkerStatus> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker never reached ${state}; last: ${JSON.stringify(sup.getStatus())}`)), timeoutMs);
    const check = (status: WorkerStatus) => {
      if (status.state === state) {
        clearTimeout(timer);
        sup.off('status', check);
        resolve(status);
      }
    };
    sup.on('status', check);
    check(sup.getStatus());
  });
}

describe('gpu-worker process', () => {
  it('answers the handshake with the engine build info and a ping', async () => {
    supervisor = new WorkerSupervisor({ launcher: nodeLauncher, entry: requireFile(workerEntry, 'run npm run build:ts') });
    supervisor.start();
    await supervisor.whenReady();
    const status = supervisor.getStatus();
    expect(status.state).toBe('ready');
    expect(status.pid).toBeGreaterThan(0);
    expect(status.engine?.version).toMatch(/^\d+\.\d+\.\d+$/);
    const sentAt = Date.now();
    const reply = await supervisor.request({ type: 'ping', sentAt }, 5000);
    expect(reply).toMatchObject({ type: 'pong', sentAt, pid: status.pid });
  });

  it('is restarted when it is killed, and requests in flight fail with the cause', async () => {
    supervisor = new WorkerSupervisor({
      launcher: nodeLauncher,
      entry: requireFile(workerEntry, 'run npm run build:ts'),
      backoff: { baseMs: 50, maxMs: 200, stableMs: 60_000 },
    });
    supervisor.start();
    await supervisor.whenReady();
    const firstPid = supervisor.getStatus().pid;
    const crashed = new Promise((resolve) => supervisor!.once('crash', resolve));
    supervisor.kill();
    await expect(crashed).resolves.toMatchObject({ signal: 'SIGKILL' });
    const status = await waitForState(supervisor, 'ready');
    expect(status.restarts).toBe(1);
    expect(status.pid).not.toBe(firstPid);
    const reply = await supervisor.request({ type: 'ping', sentAt: 1 }, 5000);
    expect(reply.type).toBe('pong');
  });
});
