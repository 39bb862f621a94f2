// The job queue: images wait in the order they were dropped and run one at a time (one GPU,
// one engine session). Every state change is written to the history store first and announced
// second; a job is recorded as running BEFORE it is handed to the worker, so a crash of the
// worker (or of the host) cannot lose it. The queue is bounded: beyond `maxWaiting` images a
// submission is refused as a whole with QUEUE_FULL, a clear "busy" rather than a slow death.
//
// Ahead of the running job, a few waiting images are inspected (hash, size, thumbnail) so the
// list shows thumbnails early and a broken file fails with its own code before the GPU is
// involved. What runs a job is a JobRunner (the worker, in production; the tests' own fakes).
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import type { JobView, Settings } from '../contract/bridge.js';
import type { HistoryStore } from './history-store.js';
import { isFinished, toJobView, type JobError, type JobRecord } from './job-record.js';
import type { ImageFacts } from './image-intake.js';
import { ServiceError, errorCode, errorMessage } from './service-error.js';
import type { JobOutput, JobRunner, RunContext } from './job-runner.js';

export interface JobQueueOptions {
  history: HistoryStore;
  runner: JobRunner;
  /** Reads an image's facts (image-intake.ts's inspectImage; tests may slow or fail it). */
  inspect: (path: string) => Promise<ImageFacts>;
  /**
   * What a job runs with, asked when its turn comes: the loaded model and the settings in force
   * (a load happens here if needed). Throwing fails that job with the error's code.
   */
  runContext: () => Promise<RunContext>;
  /** Images allowed to wait at once (running one excluded). */
  maxWaiting?: number;
  /** Waiting images inspected ahead of the running one. */
  inspectAhead?: number;
  /** Finished jobs kept in the session list (the history keeps all). */
  keepFinished?: number;
  /** Minimum interval between job.updated events of a running job (tokens stream separately). */
  progressIntervalMs?: number;
}

export interface JobQueueEvents {
  updated: [JobView];
  token: [{ jobId: string; part: 'description' | 'comments'; text: string }];
  /** The queue has nothing waiting and nothing running. */
  idle: [];
}

export const DEFAULT_MAX_WAITING = 2000;

export class JobQueue extends EventEmitter<JobQueueEvents> {
  /** This session's jobs in submission order (finished ones trimmed to keepFinished). */
  private readonly jobs = new Map<string, JobRecord>();
  private readonly waiting: string[] = [];
  private readonly inspections = new Map<string, Promise<boolean>>();
  private running: { id: string; cancelRequested: boolean } | null = null;
  private pumping = false;
  private stopped = false;
  private lastProgressEmit = 0;
  private readonly maxWaiting: number;
  private readonly inspectAhead: number;
  private readonly keepFinished: number;
  private readonly progressIntervalMs: number;

  constructor(private readonly options: JobQueueOptions) {
    super();
    this.maxWaiting = options.maxWaiting ?? DEFAULT_MAX_WAITING;
    this.inspectAhead = options.inspectAhead ?? 16;
    this.keepFinished = options.keepFinished ?? 5000;
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  get runningJobId(): string | null {
    return this.running?.id ?? null;
  }

  list(): JobView[] {
    return [...this.jobs.values()].map(toJobView);
  }

  get(jobId: string): JobRecord | null {
    return this.jobs.get(jobId) ?? this.options.history.get(jobId);
  }

  /** Queues one job per path, in order. All or nothing: a full queue refuses the whole batch. */
  submit(paths: string[], extra: { retryOf?: string; batchId?: string } = {}): string[] {
    if (this.stopped) throw new ServiceError('QUEUE_STOPPED', 'Kotaro is shutting down');
    if (paths.length === 0) throw new ServiceError('INVALID_PARAMS', 'no images were given');
    if (this.waiting.length + paths.length > this.maxWaiting) {
      throw new ServiceError('QUEUE_FULL',
        `the queue is busy: ${this.waiting.length} images are waiting and at most ${this.maxWaiting} may wait; ` +
        `${paths.length} more do not fit. Add them when some are done.`);
    }
    const batchId = extra.batchId ?? randomUUID();
    const now = Date.now();
    const records: JobRecord[] = paths.map((path) => ({
      id: randomUUID(),
      batchId,
      state: 'pending',
      imagePath: path,
      imageName: basename(path),
      imageHash: null,
      imageBytes: null,
      imageWidth: null,
      imageHeight: null,
      thumbnail: null,
      modelId: null,
      modelPath: null,
      mmprojPath: null,
      settings: null,
      description: '',
      comments: [],
      streamText: '',
      progress: 0,
      error: null,
      timings: {},
      retryOf: extra.retryOf ?? null,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      editedAt: null,
      ownerPid: process.pid,
    }));
    this.options.history.insert(records); // on disk before anyone hears of them
    for (const r of records) {
      this.jobs.set(r.id, r);
      this.waiting.push(r.id);
      this.announce(r);
    }
    this.trimFinished();
    this.inspectUpcoming();
    void this.pump();
    return records.map((r) => r.id);
  }

  /** Cancels a waiting job at once, a running one through the runner. False when it had already ended. */
  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job) {
      if (this.options.history.get(jobId)) return false;
      throw new ServiceError('JOB_NOT_FOUND', `no job ${jobId}`);
    }
    if (job.state === 'pending') {
      this.removeWaiting(jobId);
      this.finish(job, 'cancelled', null);
      this.maybeIdle();
      return true;
    }
    if (job.state === 'running' && this.running?.id === jobId) {
      this.running.cancelRequested = true;
      this.options.runner.cancel(jobId);
      return true;
    }
    return false;
  }

  cancelAll(): number {
    let n = 0;
    for (const id of [...this.waiting]) if (this.cancel(id)) n++;
    if (this.running && this.cancel(this.running.id)) n++;
    return n;
  }

  /** Queues the same image again (a failed, cancelled or done job); returns the new job's id. */
  retry(jobId: string): string {
    const job = this.get(jobId);
    if (!job) throw new ServiceError('JOB_NOT_FOUND', `no job ${jobId}`);
    if (!isFinished(job.state)) throw new ServiceError('JOB_NOT_FINISHED', `job ${jobId} is still ${job.state}`);
    return this.submit([job.imagePath], { retryOf: job.id, batchId: job.batchId })[0]!;
  }

  /** The creator's own corrections of a finished job's text. */
  edit(jobId: string, description: string, comments: string[]): JobView {
    const job = this.get(jobId);
    if (!job) throw new ServiceError('JOB_NOT_FOUND', `no job ${jobId}`);
    if (job.state !== 'done') throw new ServiceError('JOB_NOT_FINISHED', `only a finished job can be edited (job ${jobId} is ${job.state})`);
    const editedAt = Date.now();
    this.options.history.update(jobId, { description, comments, editedAt });
    Object.assign(job, { description, comments, editedAt });
    const view = toJobView(job);
    this.emit('updated', view);
    return view;
  }

  /** Ends the session: waiting jobs are cancelled; the running one is cancelled and awaited briefly. */
  async stop(waitMs = 3000): Promise<void> {
    this.stopped = true;
    for (const id of [...this.waiting]) this.cancel(id);
    const running = this.running;
    const job = running ? this.jobs.get(running.id) : undefined;
    if (!running || !job || isFinished(job.state)) return;
    this.cancel(running.id);
    const ended = new Promise<void>((resolve) => {
      const check = (view: JobView) => {
        if (view.id === running.id && isFinished(view.state)) {
          this.off('updated', check);
          resolve();
        }
      };
      this.on('updated', check);
    });
    await Promise.race([ended, new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  // ------------------------------------------------------------------ internals

  private removeWaiting(jobId: string): void {
    const i = this.waiting.indexOf(jobId);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private announce(job: JobRecord): void {
    this.emit('updated', toJobView(job));
  }

  private trimFinished(): void {
    if (this.jobs.size <= this.keepFinished + this.waiting.length + 1) return;
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= this.keepFinished + this.waiting.length + 1) break;
      if (isFinished(job.state)) this.jobs.delete(id);
    }
  }

  private finish(job: JobRecord, state: 'done' | 'failed' | 'cancelled', error: JobError | null, output?: JobOutput): void {
    const finishedAt = Date.now();
    const patch = {
      state,
      error,
      finishedAt,
      ownerPid: null,
      ...(output ? { description: output.description, comments: output.comments, timings: output.timings } : {}),
      streamText: output?.rawText ?? job.streamText,
    };
    try {
      this.options.history.update(job.id, patch);
    } catch (e) {
      // The record stays correct in memory; the error is logged, the queue goes on.
      console.error(`kotaro: could not record the end of job ${job.id}: ${errorMessage(e)}`);
    }
    Object.assign(job, patch, { progress: state === 'done' ? 1 : job.progress });
    this.announce(job);
  }

  private maybeIdle(): void {
    if (!this.running && this.waiting.length === 0) this.emit('idle');
  }

  /** Inspects the next few waiting images (at most two at a time). */
  private inspectUpcoming(): void {
    const upcoming = this.waiting.slice(0, this.inspectAhead);
    let active = [...this.inspections.keys()].length;
    for (const id of upcoming) {
      if (active >= 2) break;
      const job = this.jobs.get(id);
      if (!job || job.imageHash !== null || this.inspections.has(id)) continue;
      active++;
      const run = this.inspectJob(job).finally(() => {
        this.inspections.delete(id);
        this.inspectUpcoming();
      });
      this.inspections.set(id, run);
    }
  }

  /** Fills in the image's facts; a bad image fails its job here. Resolves true when the job may run. */
  private async inspectJob(job: JobRecord): Promise<boolean> {
    try {
      const facts = await this.options.inspect(job.imagePath);
      const patch = { imageHash: facts.sha256, imageBytes: facts.bytes, imageWidth: facts.width, imageHeight: facts.height, thumbnail: facts.thumbnail };
      this.options.history.update(job.id, patch);
      Object.assign(job, patch);
      if (job.state === 'pending') this.announce(job);
      return job.state === 'pending';
    } catch (error) {
      if (job.state !== 'pending') return false;
      this.removeWaiting(job.id);
      this.finish(job, 'failed', { code: errorCode(error, 'IMAGE_UNREADABLE'), message: errorMessage(error) });
      this.maybeIdle();
      return false;
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.stopped && this.waiting.length > 0) {
        const id = this.waiting[0]!;
        const job = this.jobs.get(id)!;
        const ready = job.imageHash !== null
          ? true
          : await (this.inspections.get(id) ?? this.inspectJob(job));
        if (!ready || job.state !== 'pending') {
          this.removeWaiting(id);
          continue;
        }
        this.removeWaiting(id);
        this.running = { id, cancelRequested: false };
        this.inspectUpcoming();
        await this.runOne(job);
        this.running = null;
      }
    } finally {
      this.pumping = false;
      this.maybeIdle();
    }
  }

  private async runOne(job: JobRecord): Promise<void> {
    const running = this.running!;
    let context: RunContext;
    try {
      context = await this.options.runContext();
    } catch (error) {
      if (running.cancelRequested) this.finish(job, 'cancelled', null);
      else this.finish(job, 'failed', { code: errorCode(error), message: errorMessage(error) });
      return;
    }
    if (running.cancelRequested) {
      this.finish(job, 'cancelled', null);
      return;
    }
    const startedAt = Date.now();
    const start = {
      state: 'running' as const,
      startedAt,
      modelId: context.model.id,
      modelPath: context.model.modelPath,
      mmprojPath: context.model.mmprojPath,
      settings: context.settings as Settings,
      streamText: '',
      error: null,
    };
    // Recorded before the worker hears of it: if the worker or the host dies now, the
    // history still says this job was running, with which model and settings.
    this.options.history.update(job.id, start);
    Object.assign(job, start, { progress: 0 });
    this.announce(job);
    this.lastProgressEmit = Date.now();
    try {
      const output = await this.options.runner.run(
        { jobId: job.id, imagePath: job.imagePath, model: context.model, settings: context.settings },
        {
          onToken: (part, text) => {
            job.streamText += text;
            this.emit('token', { jobId: job.id, part, text });
          },
          onProgress: (fraction) => {
            job.progress = Math.max(job.progress, Math.min(1, fraction));
            const now = Date.now();
            if (now - this.lastProgressEmit >= this.progressIntervalMs) {
              this.lastProgressEmit = now;
              this.announce(job);
            }
          },
        },
      );
      if (output.timings.totalMs === undefined) output.timings.totalMs = Date.now() - startedAt;
      this.finish(job, 'done', null, output);
    } catch (error) {
      const code = errorCode(error);
      if (running.cancelRequested && (code === 'CANCELLED' || code === 'WORKER_CRASHED' || code === 'WORKER_KILLED')) {
        this.finish(job, 'cancelled', null);
      } else {
        this.finish(job, 'failed', { code, message: errorMessage(error) });
      }
    }
  }
}
