// The job queue with an in-process runner the test controls: order, cancel (waiting and
// running), cancel all, retry, the QUEUE_FULL bound, bad images failing with their own codes,
// and history rows written before a job reaches the runner and after it ends.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobQueue } from '../../electron/services/job-queue.js';
import { HistoryStore } from '../../electron/services/history-store.js';
import { inspectImage } from '../../electron/services/image-intake.js';
import { DEFAULT_SETTINGS } from '../../electron/services/settings-store.js';
import { ServiceError } from '../../electron/services/service-error.js';
import type { JobOutput, JobRunner, RunContext, RunHooks, RunInput } from '../../electron/services/job-runner.js';
import type { JobView } from '../../electron/contract/bridge.js';
import { fixtureImage, makeBadImages } from './helpers/images.js';

const context: RunContext = { model: { id: 'm-test', modelPath: '/m/model.gguf', mmprojPath: '/m/mmproj.gguf' }, settings: { ...DEFAULT_SETTINGS } };
const images = ['wide_640x360.png', 'shapes_200x150.png', 'tall_90x300.png', 'gradient_56x84.png'].map(fixtureImage);

/** A runner whose jobs end when the test says so (or at once with `auto`). */
class ScriptedRunner implements JobRunner {
  readonly started: RunInput[] = [];
  readonly cancelled: string[] = [];
  readonly historyAtStart: Array<ReturnType<HistoryStore['get']>> = [];
  private readonly open = new Map<string, { resolve: (o: JobOutput) => void; reject: (e: Error) => void; hooks: RunHooks }>();
  constructor(private readonly history: HistoryStore, public auto = true) {}

  run(input: RunInput, hooks: RunHooks): Promise<JobOutput> {
    this.started.push(input);
    this.historyAtStart.push(this.history.get(input.jobId));
    return new Promise((resolve, reject) => {
      this.open.set(input.jobId, { resolve, reject, hooks });
      if (this.auto) setImmediate(() => this.finish(input.jobId));
    });
  }

  finish(jobId: string, description = `about ${jobId}`): void {
    const job = this.open.get(jobId)!;
    this.open.delete(jobId);
    job.hooks.onToken('description', description);
    job.hooks.onProgress(0.5);
    job.hooks.onToken('comments', '1. nice');
    job.resolve({ description, comments: ['nice'], rawText: `${description}\n\n1. nice`, timings: { visionMs: 3 } });
  }

  fail(jobId: string, code: string, message: string): void {
    const job = this.open.get(jobId)!;
    this.open.delete(jobId);
    job.reject(new ServiceError(code, message));
  }

  cancel(jobId: string): void {
    this.cancelled.push(jobId);
    const job = this.open.get(jobId);
    if (job) {
      this.open.delete(jobId);
      job.reject(new ServiceError('CANCELLED', 'cancelled'));
    }
  }
}

const stores: HistoryStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function setup(opts: { auto?: boolean; maxWaiting?: number; runContext?: () => Promise<RunContext> } = {}) {
  const history = HistoryStore.open(mkdtempSync(join(tmpdir(), 'kotaro-queue-')));
  stores.push(history);
  const runner = new ScriptedRunner(history, opts.auto ?? true);
  const queue = new JobQueue({ history, runner, inspect: inspectImage, runContext: opts.runContext ?? (async () => context), maxWaiting: opts.maxWaiting });
  const events: JobView[] = [];
  queue.on('updated', (v) => events.push(v));
  const idle = () => new Promise<void>((resolve) => {
    if (queue.waitingCount === 0 && queue.runningJobId === null) resolve();
    else queue.once('idle', resolve);
  });
  const until = async (cond: () => boolean, ms = 10_000) => {
    const t0 = Date.now();
    while (!cond()) {
      if (Date.now() - t0 > ms) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  return { history, runner, queue, events, idle, until };
}

describe('job queue', () => {
  it('runs jobs one at a time in submission order, later batches after earlier ones', async () => {
    const { queue, runner, idle } = setup();
    const first = queue.submit(images.slice(0, 3));
    const second = queue.submit(images.slice(3));
    await idle();
    expect(runner.started.map((s) => s.jobId)).toEqual([...first, ...second]);
    expect(queue.list().map((j) => j.state)).toEqual(['done', 'done', 'done', 'done']);
    expect(queue.list().map((j) => j.imageName)).toEqual(images.map((p) => p.split('/').pop()));
  });

  it('writes the job as running, with model and settings, before the runner sees it, and its result after', async () => {
    const { queue, runner, history, idle } = setup();
    const [id] = queue.submit([images[0]!]);
    expect(history.get(id!)).toMatchObject({ state: 'pending', ownerPid: process.pid }); // recorded at submit
    await idle();
    const atStart = runner.historyAtStart[0]!;
    expect(atStart).toMatchObject({ state: 'running', modelId: 'm-test', modelPath: '/m/model.gguf', settings: { temperature: 0.3 } });
    expect(atStart!.startedAt).toBeGreaterThan(0);
    expect(atStart!.imageHash).toMatch(/^[0-9a-f]{64}$/);
    expect(atStart!.thumbnail).toMatch(/^data:image\/jpeg;base64,/);
    const after = history.get(id!)!;
    expect(after).toMatchObject({ state: 'done', description: `about ${id}`, comments: ['nice'], ownerPid: null, error: null });
    expect(after.streamText).toContain('1. nice');
    expect(after.timings.visionMs).toBe(3);
    expect(after.timings.totalMs).toBeGreaterThanOrEqual(0);
    expect(after.finishedAt).toBeGreaterThanOrEqual(after.startedAt!);
  });

  it('streams tokens and progress while running', async () => {
    const { queue, idle } = setup();
    const tokens: string[] = [];
    queue.on('token', (t) => tokens.push(`${t.part}:${t.text}`));
    const [id] = queue.submit([images[1]!]);
    await idle();
    expect(tokens).toEqual([`description:about ${id}`, 'comments:1. nice']);
    expect(queue.list()[0]).toMatchObject({ progress: 1, streamText: `about ${id}\n\n1. nice` }); // the raw answer replaces the deltas
  });

  it('cancels a waiting job without running it and a running job through the runner', async () => {
    const { queue, runner, history, until, idle } = setup({ auto: false });
    const [a, b, c] = queue.submit(images.slice(0, 3));
    await until(() => runner.started.length === 1);
    expect(queue.cancel(b!)).toBe(true);
    expect(history.get(b!)!.state).toBe('cancelled');
    expect(queue.cancel(a!)).toBe(true); // the running one
    await until(() => runner.started.length === 2);
    expect(runner.cancelled).toEqual([a]);
    expect(history.get(a!)).toMatchObject({ state: 'cancelled', error: null });
    expect(runner.started.map((s) => s.jobId)).toEqual([a, c]); // b never ran
    runner.finish(c!);
    await idle();
    expect(queue.cancel(c!)).toBe(false); // already done
    expect(() => queue.cancel('no-such-job')).toThrow(expect.objectContaining({ code: 'JOB_NOT_FOUND' }));
  });

  it('cancels everything at once', async () => {
    const { queue, runner, until, idle } = setup({ auto: false });
    queue.submit(images);
    await until(() => runner.started.length === 1);
    expect(queue.cancelAll()).toBe(4);
    await idle();
    expect(queue.list().map((j) => j.state)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(runner.started).toHaveLength(1);
  });

  it('ends the session on stop: waiting jobs cancelled, the running one cancelled, no more submissions', async () => {
    const { queue, runner, history, until } = setup({ auto: false });
    const [a, b] = queue.submit(images.slice(0, 2));
    await until(() => runner.started.length === 1);
    await queue.stop();
    expect(history.get(a!)!.state).toBe('cancelled');
    expect(history.get(b!)!.state).toBe('cancelled');
    expect(() => queue.submit([images[0]!])).toThrow(expect.objectContaining({ code: 'QUEUE_STOPPED' }));
  });

  it('retries a failed job as a new job linked to the old one', async () => {
    const { queue, runner, history, until, idle } = setup({ auto: false });
    const [id] = queue.submit([images[0]!]);
    await until(() => runner.started.length === 1);
    runner.fail(id!, 'WORKER_CRASHED', 'the GPU worker was killed by SIGKILL');
    await idle();
    expect(history.get(id!)).toMatchObject({ state: 'failed', error: { code: 'WORKER_CRASHED' } });
    expect(() => queue.edit(id!, 'x', [])).toThrow(expect.objectContaining({ code: 'JOB_NOT_FINISHED' }));
    runner.auto = true;
    const retryId = queue.retry(id!);
    await idle();
    expect(retryId).not.toBe(id);
    expect(history.get(retryId)).toMatchObject({ state: 'done', retryOf: id, imagePath: images[0], batchId: history.get(id!)!.batchId });
    expect(history.get(id!)!.state).toBe('failed'); // the original keeps its story
    const edited = queue.edit(retryId, 'my own words', ['mine']);
    expect(edited).toMatchObject({ description: 'my own words', comments: ['mine'] });
    expect(history.get(retryId)!.editedAt).toBeGreaterThan(0);
  });

  it('answers QUEUE_FULL, all or nothing, when too many images wait', async () => {
    const { queue, runner, until } = setup({ auto: false, maxWaiting: 3 });
    expect(() => queue.submit(images)).toThrow(expect.objectContaining({ code: 'QUEUE_FULL', message: expect.stringMatching(/busy/) }));
    expect(queue.list()).toHaveLength(0);
    queue.submit(images.slice(0, 1));
    await until(() => runner.started.length === 1); // the running one no longer waits
    queue.submit(images.slice(1, 4));
    expect(() => queue.submit([images[0]!])).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    queue.cancelAll();
  });

  it('fails corrupt, truncated, huge and unsupported images with their own codes, and goes on', async () => {
    const bad = await makeBadImages();
    const { queue, runner, idle } = setup();
    const ids = queue.submit([bad.corrupt, images[0]!, bad.truncated, bad.huge, bad.unsupported, bad.missing, images[1]!]);
    await idle();
    const byId = new Map(queue.list().map((j) => [j.id, j]));
    const codes = ids.map((id) => byId.get(id)!.error?.code ?? byId.get(id)!.state);
    expect(codes).toEqual([expect.stringMatching(/IMAGE_(CORRUPT|UNSUPPORTED)/), 'done', 'IMAGE_CORRUPT', 'IMAGE_TOO_LARGE', 'IMAGE_UNSUPPORTED', 'IMAGE_NOT_FOUND', 'done']);
    expect(runner.started.map((s) => s.imagePath)).toEqual([images[0], images[1]]);
  });

  it('fails a job whose model cannot be prepared with that cause, and runs the next when it can', async () => {
    let attempts = 0;
    const { queue, idle, history } = setup({
      runContext: async () => {
        if (++attempts === 1) throw new ServiceError('MODEL_TOO_LARGE', 'needs 9 GiB, 6 GiB available');
        return context;
      },
    });
    const [a, b] = queue.submit(images.slice(0, 2));
    await idle();
    expect(history.get(a!)).toMatchObject({ state: 'failed', error: { code: 'MODEL_TOO_LARGE', message: 'needs 9 GiB, 6 GiB available' } });
    expect(history.get(b!)!.state).toBe('done');
  });
});
