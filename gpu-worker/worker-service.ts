// The worker's request handling, free of the process transport (tests drive it directly).
// Model loads, unloads and jobs run one at a time, in arrival order, on one queue; cancels,
// pings and telemetry are answered at once. See protocol.ts for the messages.
import { PROTOCOL_VERSION, EVENT_ID, type ModelLoadOptions, type WorkerMessage, type WorkerRequest } from './protocol.js';
import { engineBuildInfoOf, type EngineAddon } from './engine-binding.js';
import { LoadedModel } from './model-host.js';
import { JobError, runAnalysis } from './analysis/run-analysis.js';
import { Telemetry } from './telemetry.js';

type Request<T extends WorkerRequest['type']> = Extract<WorkerRequest, { type: T }>;

export function codeOf(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

interface JobEntry {
  requestId: number;
  controller: AbortController;
  running: boolean;
  /** The job has been answered (cancelled while queued): the queue skips it. */
  answered: boolean;
}

export interface WorkerServiceOptions {
  loadAddon: () => EngineAddon;
  send: (message: WorkerMessage) => void;
  exit: (code: number) => void;
  /** Telemetry period at start (ms; 0 = off). */
  telemetryIntervalMs?: number;
}

export class WorkerService {
  private model: LoadedModel | null = null;
  /** Options of a model unloaded for idleness: the next job loads it again by itself. */
  private idleUnloaded: ModelLoadOptions | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private readonly jobs = new Map<string, JobEntry>();
  private readonly telemetry: Telemetry;
  private addon: EngineAddon | null = null;

  constructor(private readonly options: WorkerServiceOptions) {
    this.telemetry = new Telemetry(
      (sample) => this.options.send({ type: 'telemetry', id: EVENT_ID, sample }),
      () => this.model,
      () => this.tryAddon(),
    );
    this.telemetry.configure(options.telemetryIntervalMs ?? 100);
  }

  private tryAddon(): EngineAddon | null {
    if (this.addon) return this.addon;
    try {
      this.addon = this.options.loadAddon();
    } catch {
      return null;
    }
    return this.addon;
  }

  private send(message: WorkerMessage): void {
    this.options.send(message);
  }

  private fail(id: number, error: unknown): void {
    this.send({ type: 'error', id, error: { code: codeOf(error), message: messageOf(error) } });
  }

  /** Runs `task` after everything queued before it (a failure does not stop the queue). */
  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch(() => {});
  }

  handle(request: WorkerRequest): void {
    switch (request.type) {
      case 'hello':
        return this.hello(request);
      case 'ping':
        return this.send({ type: 'pong', id: request.id, sentAt: request.sentAt, pid: process.pid });
      case 'shutdown':
        this.telemetry.stop();
        for (const job of this.jobs.values()) job.controller.abort();
        this.model?.cancel();
        this.send({ type: 'ack', id: request.id });
        setImmediate(() => this.options.exit(0));
        return;
      case 'model.load':
        return this.load(request);
      case 'model.unload':
        return this.unload(request);
      case 'job.analyze':
        return this.analyze(request);
      case 'job.cancel':
        return this.cancel(request);
      case 'telemetry.configure':
        this.telemetry.configure(request.intervalMs);
        return this.send({ type: 'ack', id: request.id });
    }
  }

  private hello(request: Request<'hello'>): void {
    let engine = null;
    let engineError = null;
    try {
      const addon = this.options.loadAddon();
      this.addon = addon;
      engine = engineBuildInfoOf(addon);
    } catch (error) {
      engineError = { code: codeOf(error), message: messageOf(error) };
    }
    this.send({ type: 'hello', id: request.id, protocolVersion: PROTOCOL_VERSION, pid: process.pid, engine, engineError });
  }

  // ---- model

  private async loadNow(options: ModelLoadOptions, requestId: number): Promise<LoadedModel> {
    if (this.model) {
      const old = this.model;
      this.model = null;
      await old.unload();
      this.send({ type: 'model.unloaded', id: EVENT_ID, modelId: old.options.modelId, reason: 'replaced' });
    }
    this.idleUnloaded = null;
    const addon = this.options.loadAddon();
    let last = -1;
    const model = await LoadedModel.load(addon, options, (progress) => {
      // The engine reports coarse steps; pass each new one on.
      if (progress === last) return;
      last = progress;
      this.send({ type: 'model.progress', id: EVENT_ID, requestId, modelId: options.modelId, progress: Math.min(1, Math.max(0, progress)) });
    });
    this.model = model;
    return model;
  }

  private load(request: Request<'model.load'>): void {
    this.clearIdleTimer();
    this.enqueue(async () => {
      try {
        const model = await this.loadNow(request.options, request.id);
        this.send({ type: 'model.loaded', id: request.id, modelId: request.options.modelId, info: model.engine.info, memory: model.engine.memory(), loadMs: model.loadMs });
        this.armIdleTimer();
      } catch (error) {
        this.fail(request.id, error);
      }
    });
  }

  private unload(request: Request<'model.unload'>): void {
    this.clearIdleTimer();
    // Cancel what runs and what waits: an unload is "stop using the GPU now".
    for (const [jobId, job] of this.jobs) this.cancelJob(jobId, job);
    this.model?.cancel();
    this.enqueue(async () => {
      this.idleUnloaded = null;
      const model = this.model;
      this.model = null;
      try {
        if (model) {
          await model.unload();
          this.send({ type: 'model.unloaded', id: EVENT_ID, modelId: model.options.modelId, reason: 'request' });
        }
        this.send({ type: 'ack', id: request.id });
      } catch (error) {
        this.fail(request.id, error);
      }
    });
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    const ms = this.model?.options.idleUnloadMs ?? 0;
    if (!ms) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      this.enqueue(async () => {
        // A job that arrived meanwhile re-armed or cleared the timer; only unload when idle.
        if (!this.model || this.idleTimer || this.jobs.size > 0) return;
        const model = this.model;
        this.model = null;
        this.idleUnloaded = model.options;
        await model.unload();
        this.send({ type: 'model.unloaded', id: EVENT_ID, modelId: model.options.modelId, reason: 'idle' });
      });
    }, ms);
    this.idleTimer.unref();
  }

  // ---- jobs

  private analyze(request: Request<'job.analyze'>): void {
    if (this.jobs.has(request.jobId)) {
      return this.fail(request.id, new JobError('DUPLICATE_JOB', `job ${request.jobId} is already queued or running`));
    }
    const entry: JobEntry = { requestId: request.id, controller: new AbortController(), running: false, answered: false };
    this.jobs.set(request.jobId, entry);
    this.clearIdleTimer();
    this.send({ type: 'job.stage', id: EVENT_ID, jobId: request.jobId, stage: 'queued', progress: 0 });
    this.enqueue(async () => {
      if (entry.answered) return;
      entry.running = true;
      try {
        let model = this.model;
        if (!model && this.idleUnloaded) {
          // Unloaded for idleness: load it again, telling main as a load would.
          const options = this.idleUnloaded;
          model = await this.loadNow(options, request.id);
          this.send({ type: 'model.loaded', id: EVENT_ID, modelId: options.modelId, info: model.engine.info, memory: model.engine.memory(), loadMs: model.loadMs });
        }
        if (!model) throw new JobError('NO_MODEL', 'no model is loaded');
        if (entry.controller.signal.aborted) throw new JobError('CANCELLED', 'the job was cancelled');
        const result = await runAnalysis(model, request, (m) => this.send(m), entry.controller.signal);
        this.send({ type: 'job.result', id: request.id, jobId: request.jobId, ...result });
      } catch (error) {
        this.fail(request.id, entry.controller.signal.aborted ? new JobError('CANCELLED', 'the job was cancelled') : error);
      } finally {
        entry.answered = true;
        this.jobs.delete(request.jobId);
        if (this.jobs.size === 0) this.armIdleTimer();
      }
    });
  }

  private cancelJob(jobId: string, job: JobEntry): void {
    job.controller.abort();
    if (!job.running && !job.answered) {
      // Not started: answer now, and the queue will skip it.
      job.answered = true;
      this.jobs.delete(jobId);
      this.fail(job.requestId, new JobError('CANCELLED', 'the job was cancelled before it started'));
    }
  }

  private cancel(request: Request<'job.cancel'>): void {
    const job = this.jobs.get(request.jobId);
    if (job) this.cancelJob(request.jobId, job);
    // Cancelling an unknown or finished job is not an error: the outcome is the same.
    this.send({ type: 'ack', id: request.id });
  }
}
