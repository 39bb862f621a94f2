// Supervises the GPU worker: starts it, checks the protocol version in a handshake, sends
// requests and matches replies by id, and restarts the worker when it dies — with a damped
// backoff so a worker that crashes at start cannot spin. Requests in flight when the worker
// dies are rejected with the cause (WORKER_CRASHED), so callers can mark their job failed.
import { EventEmitter } from 'node:events';
import type { WorkerExit, WorkerLauncher, WorkerProcess } from './launcher.js';
import { PROTOCOL_VERSION, workerMessage, type WorkerMessage, type WorkerRequest } from '../../gpu-worker/protocol.js';
import type { EngineBuildInfo, WorkerStatus } from '../contract/bridge.js';

export class WorkerError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'WorkerError';
  }
}

export interface SupervisorOptions {
  launcher: WorkerLauncher;
  entry: string;
  env?: Record<string, string>;
  /** Restart delays grow from base to max; a worker that ran `stableMs` resets the backoff. */
  backoff?: { baseMs: number; maxMs: number; stableMs: number };
  /** Give up (state "failed") after this many crashes without a stable run. */
  maxConsecutiveCrashes?: number;
  handshakeTimeoutMs?: number;
}

type Pending = { resolve: (m: WorkerMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | null };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type RequestWithoutId = DistributiveOmit<WorkerRequest, 'id'>;

export interface SupervisorEvents {
  status: [WorkerStatus];
  message: [WorkerMessage];
  crash: [WorkerExit & { cause: string }];
}

export class WorkerSupervisor extends EventEmitter<SupervisorEvents> {
  private proc: WorkerProcess | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private restarts = 0;
  private consecutiveCrashes = 0;
  private startedAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private status: WorkerStatus = { state: 'stopped', pid: null, restarts: 0, lastError: null, engine: null };
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  /** Requests that keep the engine working (a job, a load): while any runs, the state is "busy". */
  private busyRequests = 0;

  constructor(private readonly options: SupervisorOptions) {
    super();
  }

  getStatus(): WorkerStatus {
    return { ...this.status };
  }

  get engine(): EngineBuildInfo | null {
    return this.status.engine;
  }

  start(): void {
    this.stopping = false;
    if (this.proc) return;
    this.spawn();
  }

  /** Resolves when the worker has answered the handshake. */
  whenReady(): Promise<void> {
    if (this.status.state === 'ready' || this.status.state === 'busy') return Promise.resolve();
    if (this.status.state === 'failed') return Promise.reject(new WorkerError('WORKER_FAILED', this.status.lastError ?? 'worker failed'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const proc = this.proc;
    if (!proc) return this.setStatus({ state: 'stopped', pid: null });
    const exited = new Promise<void>((resolve) => proc.onExit(() => resolve()));
    try {
      await this.request({ type: 'shutdown' }, 2000);
    } catch {
      /* it may already be gone */
    }
    const timer = setTimeout(() => proc.kill(), 2000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * Starts a worker again after the supervisor gave up (state "failed"), on an explicit user
   * action: the crash count starts over.
   */
  restart(): void {
    if (this.proc || this.restartTimer) return;
    this.stopping = false;
    this.consecutiveCrashes = 0;
    this.spawn();
  }

  /** Sends a request and resolves with the reply of the same id (or rejects on error/crash/timeout). */
  request(message: RequestWithoutId, timeoutMs = 0): Promise<WorkerMessage> {
    const proc = this.proc;
    if (!proc) return Promise.reject(new WorkerError('WORKER_NOT_RUNNING', 'the GPU worker is not running'));
    const id = this.nextId++;
    const busy = message.type === 'job.analyze' || message.type === 'model.load';
    if (busy) this.markBusy(+1);
    const settled = <T>(f: (v: T) => void) => (v: T) => {
      if (busy) this.markBusy(-1);
      f(v);
    };
    return new Promise<WorkerMessage>((resolve, reject) => {
      resolve = settled(resolve);
      reject = settled(reject);
      const timer = timeoutMs > 0
        ? setTimeout(() => {
            this.pending.delete(id);
            reject(new WorkerError('WORKER_TIMEOUT', `the GPU worker did not answer ${message.type} within ${timeoutMs} ms`));
          }, timeoutMs)
        : null;
      this.pending.set(id, { resolve, reject, timer });
      proc.send({ ...message, id });
    });
  }

  private markBusy(delta: number): void {
    this.busyRequests = Math.max(0, this.busyRequests + delta);
    if (!this.proc) return; // a dying worker's requests are settling: the exit decides the state
    if (this.busyRequests > 0 && this.status.state === 'ready') this.setStatus({ state: 'busy' });
    else if (this.busyRequests === 0 && this.status.state === 'busy') this.setStatus({ state: 'ready' });
  }

  /** Kills the worker as a crash would (used by "cancel" of a stuck job and by tests). */
  kill(): void {
    this.proc?.kill();
  }

  private spawn(): void {
    this.setStatus({ state: this.restarts > 0 ? 'restarting' : 'starting', pid: null });
    const proc = this.options.launcher.launch(this.options.entry, this.options.env ?? {});
    this.proc = proc;
    this.startedAt = Date.now();
    proc.onMessage((raw) => this.onMessage(raw));
    proc.onExit((exit) => this.onExit(proc, exit));
    this.setStatus({ pid: proc.pid ?? null });
    const handshakeTimeout = this.options.handshakeTimeoutMs ?? 30_000;
    this.request({ type: 'hello', protocolVersion: PROTOCOL_VERSION }, handshakeTimeout)
      .then((reply) => {
        if (reply.type !== 'hello') throw new WorkerError('WORKER_PROTOCOL', `handshake answered with ${reply.type}`);
        if (reply.protocolVersion !== PROTOCOL_VERSION) {
          throw new WorkerError('WORKER_PROTOCOL', `worker speaks protocol ${reply.protocolVersion}, main speaks ${PROTOCOL_VERSION}`);
        }
        const lastError = reply.engineError ? `${reply.engineError.code}: ${reply.engineError.message}` : null;
        this.setStatus({ state: this.busyRequests > 0 ? 'busy' : 'ready', engine: reply.engine, lastError });
        for (const w of this.readyWaiters.splice(0)) w.resolve();
      })
      .catch((error: Error) => {
        // A handshake that failed because the process died was recorded by onExit (with the
        // give-up verdict, if any): only a live worker that answered wrongly or late is killed here.
        if (this.proc !== proc) return;
        this.setStatus({ lastError: error.message });
        proc.kill();
      });
  }

  private onMessage(raw: unknown): void {
    let message: WorkerMessage;
    try {
      message = workerMessage.parse(raw, 'worker message');
    } catch (error) {
      this.setStatus({ lastError: `invalid message from worker: ${(error as Error).message}` });
      return;
    }
    const pending = this.pending.get(message.id);
    if (pending) {
      this.pending.delete(message.id);
      if (pending.timer) clearTimeout(pending.timer);
      if (message.type === 'error') pending.reject(new WorkerError(message.error.code, message.error.message));
      else pending.resolve(message);
      return;
    }
    this.emit('message', message);
  }

  private onExit(proc: WorkerProcess, exit: WorkerExit): void {
    if (this.proc !== proc) return;
    this.proc = null;
    const cause = exit.reason
      ? `the GPU worker ${exit.reason}`
      : exit.signal ? `the GPU worker was killed by ${exit.signal}` : `the GPU worker exited with code ${exit.code}`;
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new WorkerError('WORKER_CRASHED', cause));
    }
    this.pending.clear();
    if (this.stopping) {
      this.setStatus({ state: 'stopped', pid: null });
      return;
    }
    this.emit('crash', { ...exit, cause });
    const backoff = this.options.backoff ?? { baseMs: 250, maxMs: 30_000, stableMs: 60_000 };
    const ranMs = Date.now() - this.startedAt;
    this.consecutiveCrashes = ranMs >= backoff.stableMs ? 1 : this.consecutiveCrashes + 1;
    const maxCrashes = this.options.maxConsecutiveCrashes ?? 8;
    if (this.consecutiveCrashes >= maxCrashes) {
      this.setStatus({ state: 'failed', pid: null, lastError: `${cause}; gave up after ${maxCrashes} crashes in a row` });
      for (const w of this.readyWaiters.splice(0)) w.reject(new WorkerError('WORKER_FAILED', this.status.lastError!));
      return;
    }
    const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (this.consecutiveCrashes - 1));
    this.restarts++;
    this.setStatus({ state: 'restarting', pid: null, restarts: this.restarts, lastError: cause });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.spawn();
    }, delay);
  }

  private setStatus(patch: Partial<WorkerStatus>): void {
    this.status = { ...this.status, ...patch };
    this.emit('status', this.getStatus());
  }
}
