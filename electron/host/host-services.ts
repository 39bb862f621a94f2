// The main process's services, free of Electron: the same object runs inside the Electron
// main process and inside `kotaro serve` / the CLI. Later services (job queue, history
// store, model registry, settings) are created and owned here.
import { EventEmitter } from 'node:events';
import { WorkerSupervisor, WorkerError } from '../worker-host/supervisor.js';
import type { WorkerLauncher } from '../worker-host/launcher.js';
import { workerEntryPath } from '../worker-host/worker-entry.js';
import type { BridgeEvent, BridgeEventPayload } from '../contract/bridge.js';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** XDG data dir (KOTARO_DATA_DIR overrides; tests point it at a temp folder). */
export function defaultDataDir(): string {
  if (process.env.KOTARO_DATA_DIR) return process.env.KOTARO_DATA_DIR;
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'kotaro');
}

export interface HostOptions {
  host: 'electron' | 'serve';
  launcher: WorkerLauncher;
  appVersion: string;
  /** Environment for the worker process (e.g. KOTARO_ADDON_PATH). */
  workerEnv?: Record<string, string>;
  workerEntry?: string;
  /** Where the history database, settings and the upload inbox live (app.getPath('userData') in Electron). */
  dataDir?: string;
}

type HostEventMap = { [E in BridgeEvent]: [BridgeEventPayload<E>] };

export class HostServices extends EventEmitter<{ bridgeEvent: [{ event: BridgeEvent; payload: unknown }] }> {
  readonly worker: WorkerSupervisor;
  readonly dataDir: string;

  constructor(readonly options: HostOptions) {
    super();
    this.dataDir = options.dataDir ?? defaultDataDir();
    this.worker = new WorkerSupervisor({
      launcher: options.launcher,
      entry: options.workerEntry ?? workerEntryPath(),
      env: options.workerEnv,
    });
    this.worker.on('status', (status) => this.publish('worker.status', status));
  }

  start(): void {
    this.worker.start();
  }

  async stop(): Promise<void> {
    await this.worker.stop();
  }

  /** Pushes an event to every connected window (Electron IPC or WebSocket clients). */
  publish<E extends BridgeEvent>(event: E, payload: HostEventMap[E][0]): void {
    this.emit('bridgeEvent', { event, payload });
  }

  async pingWorker(): Promise<{ roundTripMs: number; workerPid: number }> {
    await this.worker.whenReady();
    const sentAt = performance.now();
    const reply = await this.worker.request({ type: 'ping', sentAt }, 10_000);
    if (reply.type !== 'pong') throw new WorkerError('WORKER_PROTOCOL', `ping answered with ${reply.type}`);
    return { roundTripMs: performance.now() - sentAt, workerPid: reply.pid };
  }
}
