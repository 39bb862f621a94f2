// The worker's request handling with the real engine (CPU backend, tiny VL fixture): model
// load with progress, the analysis job (stages, streaming, the shared-prefix branching, the
// result), cancellation, errors with codes, idle unload and reload, telemetry. Every message
// the worker sends is checked against the protocol schema.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { WorkerService } from '../../gpu-worker/worker-service.js';
import { workerMessage, type AnalysisSettings, type ModelLoadOptions, type WorkerMessage, type WorkerRequest } from '../../gpu-worker/protocol.js';
import { loadModel } from '../../gpu-worker/engine-binding.js';
import { ChatTemplate, ModelTokenizer, expandImagePads } from '../../gpu-worker/tokenizer/index.js';
import { buildAnalysisPrompts, loadPromptSet } from '../../gpu-worker/analysis/prompts.js';
import { messagesFor } from '../../gpu-worker/analysis/run-analysis.js';
import { decodeImageFile } from '../../gpu-worker/image/decode-image.js';
import { addon, fixtureFiles, TEXT, VL } from '../engine/helpers.js';
import { fixturesRoot } from '../helpers/paths.js';

const vl = fixtureFiles(VL).llamacpp('f32');
const image = join(fixturesRoot, VL, 'images', 'shapes_200x150.png');
const loadOptions: ModelLoadOptions = {
  modelId: 'tiny-vl', modelPath: vl.model, mmprojPath: vl.mmproj, backend: 'cpu', contextLength: 4096, memoryBudgetBytes: 0,
  minPixels: 3136, maxPixels: 200704, threads: undefined, idleUnloadMs: undefined,
};
const settings: AnalysisSettings = {
  temperature: 0, topP: 1, topK: 0, minP: 0, repetitionPenalty: 1, maxNewTokens: 24, maxImageSide: 1024,
  commentTone: 'playful', commentCount: 3, outputLanguage: 'en', seed: 1,
};

type Req = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

class Harness {
  readonly messages: WorkerMessage[] = [];
  private readonly waiting = new Map<number, (m: WorkerMessage) => void>();
  private nextId = 1;
  readonly service: WorkerService;
  exited: number | null = null;

  constructor(telemetryIntervalMs = 0) {
    this.service = new WorkerService({
      loadAddon: addon,
      exit: (code) => { this.exited = code; },
      telemetryIntervalMs,
      send: (raw) => {
        const m = workerMessage.parse(JSON.parse(JSON.stringify(raw)), 'worker message');
        this.messages.push(m);
        if (m.id !== 0) this.waiting.get(m.id)?.(m);
      },
    });
  }

  request(r: Req): Promise<WorkerMessage> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.service.handle({ ...r, id } as WorkerRequest);
    });
  }

  events<T extends WorkerMessage['type']>(type: T, jobId?: string): Array<Extract<WorkerMessage, { type: T }>> {
    return this.messages.filter((m) => m.type === type && (jobId === undefined || (m as { jobId?: string }).jobId === jobId)) as Array<Extract<WorkerMessage, { type: T }>>;
  }

  waitFor(predicate: (m: WorkerMessage) => boolean, timeoutMs = 10_000): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      const start = Date.now();
      const poll = () => {
        const hit = this.messages.find(predicate);
        if (hit) return resolve(hit);
        if (Date.now() - start > timeoutMs) return reject(new Error('timed out waiting for a message'));
        setTimeout(poll, 5);
      };
      poll();
    });
  }
}

let harness: Harness | null = null;
afterEach(async () => {
  if (harness) await harness.request({ type: 'model.unload' });
  harness?.service.handle({ type: 'telemetry.configure', id: 9999, intervalMs: 0 });
  harness = null;
});

async function loaded(options: Partial<ModelLoadOptions> = {}, telemetryMs = 0): Promise<Harness> {
  harness = new Harness(telemetryMs);
  const reply = await harness.request({ type: 'model.load', options: { ...loadOptions, ...options } });
  expect(reply.type).toBe('model.loaded');
  return harness;
}

describe('model', () => {
  it('loads with progress events and answers with the model info', async () => {
    const h = await loaded();
    const loadedReply = h.messages.find((m) => m.type === 'model.loaded')!;
    expect(loadedReply).toMatchObject({ modelId: 'tiny-vl', info: { architecture: 'qwen2vl', hasVision: true, backend: 'cpu' } });
    const progress = h.events('model.progress').map((m) => m.progress);
    expect(progress.at(-1)).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  });

  it('fails a load with the engine\'s code, and a job without a model with NO_MODEL', async () => {
    harness = new Harness();
    const reply = await harness.request({ type: 'model.load', options: { ...loadOptions, modelPath: '/nope/model.gguf' } });
    expect(reply).toMatchObject({ type: 'error', error: { code: 'FILE_IO' } });
    const job = await harness.request({ type: 'job.analyze', jobId: 'j', imagePath: image, settings });
    expect(job).toMatchObject({ type: 'error', error: { code: 'NO_MODEL' } });
  });
});

describe('analysis job', () => {
  it('describes and comments: stages in order, streamed text, the parsed result', async () => {
    const h = await loaded();
    const reply = await h.request({ type: 'job.analyze', jobId: 'j1', imagePath: image, settings });
    expect(reply.type).toBe('job.result');
    if (reply.type !== 'job.result') return;
    expect(h.events('job.stage', 'j1').map((m) => m.stage)).toEqual(
      expect.arrayContaining(['queued', 'decode', 'vision', 'prefill', 'description', 'comments']),
    );
    const stages = [...new Set(h.events('job.stage', 'j1').map((m) => m.stage))];
    expect(stages).toEqual(['queued', 'decode', 'vision', 'prefill', 'description', 'comments']);
    const progress = h.events('job.stage', 'j1').map((m) => m.progress);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    const streamed = (part: string) => h.events('job.token', 'j1').filter((m) => m.part === part).map((m) => m.text).join('');
    expect(streamed('description')).toBe(reply.rawDescription);
    expect(streamed('comments')).toBe(reply.rawComments);
    expect(reply.rawDescription.length).toBeGreaterThan(0);
    expect(reply.comments.length).toBeGreaterThan(0);
    expect(reply.comments.length).toBeLessThanOrEqual(3);
    expect([reply.imageWidth, reply.imageHeight]).toEqual([200, 150]);
    const t = reply.timings;
    for (const k of ['decodeMs', 'preprocessMs', 'visionMs', 'prefillMs', 'firstTokenMs', 'decodeTokensPerSecond', 'totalMs'] as const) {
      expect(t[k], k).toBeGreaterThan(0);
    }
    expect(t.totalMs!).toBeGreaterThanOrEqual(t.firstTokenMs!);
    expect(reply.generatedTokens).toBeGreaterThan(0);
  });

  it('gives each answer exactly what a fresh session on its own full prompt gives (greedy)', async () => {
    const h = await loaded();
    const reply = await h.request({ type: 'job.analyze', jobId: 'j2', imagePath: image, settings: { ...settings, outputLanguage: 'ja' } });
    if (reply.type !== 'job.result') throw new Error(JSON.stringify(reply));
    // Recompute both answers independently: no shared prefix, no rewind.
    const tokenizer = ModelTokenizer.fromFile(vl.model);
    const template = new ChatTemplate(tokenizer.chatTemplate!);
    const prompts = buildAnalysisPrompts(loadPromptSet('ja'), { tone: 'playful', count: 3 });
    const model = await loadModel(addon(), { modelPath: vl.model, mmprojPath: vl.mmproj, backend: 'cpu', minPixels: 3136, maxPixels: 200704 });
    try {
      const img = await decodeImageFile(image, { maxSide: 1024 });
      const embedded = await model.encodeImage(img.rgb, img.width, img.height);
      for (const [text, expected] of [[prompts.description, reply.rawDescription], [prompts.comments, reply.rawComments]] as const) {
        const ids = expandImagePads(tokenizer.encode(template.render(messagesFor(prompts.system, text))), 668, [embedded.nTokens]);
        const s = await model.createSession();
        await s.prefill(ids, [embedded]);
        const g = await s.generate({ maxNewTokens: settings.maxNewTokens, stopTokens: tokenizer.stopTokens() });
        expect(tokenizer.decode(g.tokens)).toBe(expected);
        await s.dispose();
      }
    } finally {
      await model.unload();
    }
  });

  it('cancels a running job with CANCELLED, and the next job runs', async () => {
    const h = await loaded();
    const long = { ...settings, maxNewTokens: 2000, maxImageSide: 112 };
    const running = h.request({ type: 'job.analyze', jobId: 'long', imagePath: image, settings: long });
    await h.waitFor((m) => m.type === 'job.token' && m.jobId === 'long');
    expect(await h.request({ type: 'job.cancel', jobId: 'long' })).toMatchObject({ type: 'ack' });
    expect(await running).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
    expect((await h.request({ type: 'job.analyze', jobId: 'after', imagePath: image, settings })).type).toBe('job.result');
  });

  it('cancels a queued job at once, before it starts', async () => {
    const h = await loaded();
    const first = h.request({ type: 'job.analyze', jobId: 'a', imagePath: image, settings });
    const second = h.request({ type: 'job.analyze', jobId: 'b', imagePath: image, settings });
    await h.request({ type: 'job.cancel', jobId: 'b' });
    expect(await second).toMatchObject({ type: 'error', error: { code: 'CANCELLED' } });
    expect((await first).type).toBe('job.result');
    expect(h.events('job.stage', 'b').map((m) => m.stage)).toEqual(['queued']);
    // Cancelling what is gone is not an error.
    expect(await h.request({ type: 'job.cancel', jobId: 'b' })).toMatchObject({ type: 'ack' });
  });

  it('answers bad jobs with codes', async () => {
    const h = await loaded();
    expect(await h.request({ type: 'job.analyze', jobId: 'x', imagePath: '/nope/photo.jpg', settings })).toMatchObject({ error: { code: 'IMAGE_NOT_FOUND' } });
    const a = h.request({ type: 'job.analyze', jobId: 'dup', imagePath: image, settings });
    expect(await h.request({ type: 'job.analyze', jobId: 'dup', imagePath: image, settings })).toMatchObject({ error: { code: 'DUPLICATE_JOB' } });
    await a;
    expect(await h.request({ type: 'job.analyze', jobId: 'big', imagePath: image, settings: { ...settings, maxNewTokens: 4096 } })).toMatchObject({ error: { code: 'CONTEXT_TOO_SMALL' } });
  });

  it('refuses images for a text-only model', async () => {
    const t = fixtureFiles(TEXT).llamacpp('f32');
    const h = await loaded({ modelPath: t.model, mmprojPath: null });
    expect(await h.request({ type: 'job.analyze', jobId: 't', imagePath: image, settings })).toMatchObject({ error: { code: 'MODEL_NO_VISION' } });
  });
});

describe('lifecycle', () => {
  it('unloading cancels the running job', async () => {
    const h = await loaded();
    const running = h.request({ type: 'job.analyze', jobId: 'u', imagePath: image, settings: { ...settings, maxNewTokens: 2000, maxImageSide: 112 } });
    await h.waitFor((m) => m.type === 'job.token' && m.jobId === 'u');
    expect(await h.request({ type: 'model.unload' })).toMatchObject({ type: 'ack' });
    expect(await running).toMatchObject({ error: { code: 'CANCELLED' } });
    expect(h.events('model.unloaded')).toMatchObject([{ modelId: 'tiny-vl', reason: 'request' }]);
    expect(await h.request({ type: 'job.analyze', jobId: 'v', imagePath: image, settings })).toMatchObject({ error: { code: 'NO_MODEL' } });
  });

  it('unloads after the idle timeout and loads again by itself for the next job', async () => {
    const h = await loaded({ idleUnloadMs: 50 });
    await h.waitFor((m) => m.type === 'model.unloaded');
    expect(h.events('model.unloaded')).toMatchObject([{ reason: 'idle' }]);
    const reply = await h.request({ type: 'job.analyze', jobId: 'again', imagePath: image, settings });
    expect(reply.type).toBe('job.result');
    expect(h.messages.filter((m) => m.type === 'model.loaded' && m.id === 0)).toHaveLength(1);
  });

  it('replaces a loaded model', async () => {
    const h = await loaded();
    expect((await h.request({ type: 'model.load', options: { ...loadOptions, modelId: 'second' } })).type).toBe('model.loaded');
    expect(h.events('model.unloaded')).toMatchObject([{ modelId: 'tiny-vl', reason: 'replaced' }]);
  });

  it('sends telemetry at the configured rate with the engine\'s memory', async () => {
    const h = await loaded({}, 0);
    await h.request({ type: 'telemetry.configure', intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 200));
    await h.request({ type: 'telemetry.configure', intervalMs: 0 });
    const samples = h.events('telemetry');
    expect(samples.length).toBeGreaterThanOrEqual(4);
    expect(samples.at(-1)!.sample).toMatchObject({ backend: 'cpu', engine: { weights: expect.any(Number) } });
    expect(samples.at(-1)!.sample.engine.weights).toBeGreaterThan(1_000_000);
    const count = samples.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(h.events('telemetry').length).toBe(count);
  });

  it('acks a shutdown and exits', async () => {
    harness = new Harness();
    expect(await harness.request({ type: 'shutdown' })).toMatchObject({ type: 'ack' });
    await new Promise((r) => setImmediate(r));
    expect(harness.exited).toBe(0);
  });
});
