// The addon's model binding as the worker uses it (CPU backend, tiny fixture): load with
// progress, errors with codes, streaming order, stop/cancel, rewind branching, image handles,
// unload. Runs through gpu-worker/engine-binding.ts, which also validates every result.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type EngineModel } from '../../gpu-worker/engine-binding.js';
import { ModelTokenizer, expandImagePads } from '../../gpu-worker/tokenizer/index.js';
import { compareArrays } from '../../gpu-worker/eval/metrics.js';
import { addon, fixtureFiles, scratch, TEXT, VL } from './helpers.js';

const vl = fixtureFiles(VL).llamacpp('f32');
const text = fixtureFiles(TEXT).llamacpp('f32');
const tokenizer = ModelTokenizer.fromFile(vl.model);
const prompt = (s: string) => tokenizer.encode(`<|im_start|>user\n${s}<|im_end|>\n<|im_start|>assistant\n`);

let model: EngineModel;
const progress: number[] = [];
const tmp = scratch('binding');

beforeAll(async () => {
  model = await loadModel(addon(), { modelPath: vl.model, mmprojPath: vl.mmproj, backend: 'cpu', contextLength: 4096, minPixels: 3136, maxPixels: 200704 }, (p) => progress.push(p));
});
afterAll(async () => {
  await model.unload();
  tmp.remove();
});

describe('loading', () => {
  it('reports progress up to 1 and describes the model', () => {
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(progress.at(-1)).toBe(1);
    expect(model.info).toMatchObject({ architecture: 'qwen2vl', backend: 'cpu', hasVision: true, nVocab: 704, nEmbd: 128, imagePadToken: 668, visionMergeSize: 2 });
    expect(model.memory().weights).toBeGreaterThan(1_000_000);
  });

  it('fails with the engine\'s codes', async () => {
    const a = addon();
    await expect(loadModel(a, { modelPath: '/nonexistent.gguf', backend: 'cpu' })).rejects.toMatchObject({ code: 'FILE_IO' });
    const junk = join(tmp.dir, 'junk.gguf');
    writeFileSync(junk, 'this is not a gguf file at all');
    await expect(loadModel(a, { modelPath: junk, backend: 'cpu' })).rejects.toMatchObject({ code: 'GGUF_MALFORMED' });
    // A text-only architecture cannot take a vision projector.
    await expect(loadModel(a, { modelPath: text.model, mmprojPath: vl.mmproj, backend: 'cpu' })).rejects.toMatchObject({ code: 'MODEL_MISMATCH' });
    // The text model given as the projector.
    await expect(loadModel(a, { modelPath: vl.model, mmprojPath: vl.model, backend: 'cpu' })).rejects.toHaveProperty('code');
    await expect(loadModel(a, { modelPath: vl.model, backend: 'tpu' as 'cpu' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(loadModel(a, { modelPath: vl.model, contextLength: -5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('sessions', () => {
  it('refuses bad prefill arguments with INVALID_ARGUMENT', async () => {
    const s = await model.createSession();
    await expect(s.prefill(Int32Array.from([100000]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /outside the vocabulary/ });
    await expect(s.prefill(new Float32Array(3) as unknown as Int32Array)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(s.prefill(Int32Array.from([1, 668, 2]))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /no image/ });
    const forged = { raw: { _native: {} } } as never;
    await expect(s.prefill(Int32Array.from([1]), [forged])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(s.generate({ maxNewTokens: 3 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /prefill first/ });
    // A failed prefill leaves the session as it was.
    expect(s.nPast()).toBe(0);
    await s.dispose();
  });

  it('streams every token to onToken, in order, before the promise settles', async () => {
    const s = await model.createSession();
    await s.prefill(prompt('hello'));
    const seen: number[] = [];
    const r = await s.generate({ maxNewTokens: 12, temperature: 0.8, topK: 20, seed: 7 }, (t) => void seen.push(t));
    expect(seen).toEqual(Array.from(r.tokens));
    expect(r.tokens).toHaveLength(12);
    expect(r.stopReason).toBe('length');
    expect(r.firstTokenMs).toBeGreaterThanOrEqual(0);
    // The last sampled token is not evaluated (nothing follows it).
    expect(s.nPast()).toBe(prompt('hello').length + 11);
    await s.dispose();
  });

  it('stops at a stop token, and when onToken returns false', async () => {
    const s = await model.createSession();
    const ids = prompt('stop here');
    await s.prefill(ids);
    const greedy = await s.generate({ maxNewTokens: 10 });
    await s.rewind(ids.length);
    const stop = greedy.tokens[3]!;
    const first = greedy.tokens.indexOf(stop);
    const r = await s.generate({ maxNewTokens: 10, stopTokens: [stop] });
    expect(r.stopReason).toBe('stop');
    expect(Array.from(r.tokens)).toEqual(Array.from(greedy.tokens.subarray(0, first + 1)));
    await s.rewind(ids.length);
    let n = 0;
    const byCallback = await s.generate({ maxNewTokens: 3000 }, () => ++n < 2);
    expect(byCallback.stopReason).toBe('callback');
    expect(byCallback.tokens.length).toBeLessThan(3000);
    await s.dispose();
  });

  it('rejects with what onToken threw', async () => {
    const s = await model.createSession();
    await s.prefill(prompt('throw'));
    const boom = new Error('listener failed');
    await expect(s.generate({ maxNewTokens: 3000 }, () => { throw boom; })).rejects.toBe(boom);
    await s.dispose();
  });

  it('cancels a running generation with CANCELLED and stays usable', async () => {
    const s = await model.createSession();
    const ids = prompt('cancel me');
    await s.prefill(ids);
    const r = s.generate({ maxNewTokens: 3000 }, () => s.cancel());
    await expect(r).rejects.toMatchObject({ code: 'CANCELLED' });
    await s.rewind(ids.length);
    const again = await s.generate({ maxNewTokens: 4 });
    expect(again.tokens).toHaveLength(4);
    await s.dispose();
  });

  it('branches two answers from one prefix with rewind, exactly as fresh sessions would', async () => {
    const prefix = tokenizer.encode('<|im_start|>system\nshared prefix<|im_end|>\n<|im_start|>user\n');
    const tailA = tokenizer.encode('first question<|im_end|>\n<|im_start|>assistant\n');
    const tailB = tokenizer.encode('a second, different question<|im_end|>\n<|im_start|>assistant\n');
    const s = await model.createSession();
    await s.prefill(prefix);
    const a = await s.prefill(tailA, [], { lastLogits: true });
    const genA = await s.generate({ maxNewTokens: 5 });
    await s.rewind(prefix.length);
    expect(s.nPast()).toBe(prefix.length);
    const b = await s.prefill(tailB, [], { lastLogits: true });
    const genB = await s.generate({ maxNewTokens: 5 });
    const positions = await s.positionIds();
    expect(positions).toHaveLength(3 * s.nPast());

    for (const [tail, logits, gen] of [[tailA, a.logits!, genA], [tailB, b.logits!, genB]] as const) {
      const fresh = await model.createSession();
      const whole = new Int32Array(prefix.length + tail.length);
      whole.set(prefix);
      whole.set(tail, prefix.length);
      const f = await fresh.prefill(whole, [], { lastLogits: true });
      expect(compareArrays(logits, f.logits!).maxRel).toBeLessThan(1e-5);
      expect(Array.from((await fresh.generate({ maxNewTokens: 5 })).tokens)).toEqual(Array.from(gen.tokens));
      await fresh.dispose();
    }
    await expect(s.rewind(s.nPast() + 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await s.dispose();
  });

  it('runs calls of two sessions of one model one after the other, correctly', async () => {
    const [s1, s2] = await Promise.all([model.createSession(), model.createSession()]);
    const ids = prompt('parallel');
    const [r1, r2] = await Promise.all([s1.prefill(ids, [], { lastLogits: true }), s2.prefill(ids, [], { lastLogits: true })]);
    expect(compareArrays(r1.logits!, r2.logits!).maxAbs).toBe(0);
    await Promise.all([s1.dispose(), s2.dispose()]);
    await expect(s1.prefill(ids)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /disposed/ });
  });
});

describe('images', () => {
  const rgb = (w: number, h: number) => Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);

  it('encodes RGB into a handle whose token count fits its grid, and prefills it', async () => {
    const image = await model.encodeImage(rgb(200, 150), 200, 150);
    expect(image).toMatchObject({ gridT: 1, gridH: 10, gridW: 14, nTokens: 35, nEmbd: 128 });
    expect(image.visionMs).toBeGreaterThan(0);
    expect(image.embeddings()).toHaveLength(35 * 128);
    const ids = expandImagePads(tokenizer.encode('<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n'), 668, [35]);
    const s = await model.createSession();
    await s.prefill(ids, [image]);
    const pos = await s.positionIds();
    // Image tokens share one temporal position; rows and columns spread over h and w.
    const start = ids.indexOf(668);
    expect(pos[start]).toBe(pos[start + 34]);
    expect(pos[s.nPast() + start + 34]! - pos[s.nPast() + start]!).toBe(4);
    await s.dispose();
    image.dispose();
    expect(() => image.embeddings()).toThrow(/disposed/);
    const s2 = await model.createSession();
    await expect(s2.prefill(ids, [image])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: /disposed/ });
    await s2.dispose();
  });

  it('checks the RGB size and the pixel grid', async () => {
    await expect(model.encodeImage(rgb(10, 10), 11, 10)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(model.encodeImage(rgb(10, 10), 0, 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(model.encodePixels(new Float32Array(1176 * 3), { gridT: 1, gridH: 2, gridW: 2 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const px = await model.preprocessImage(rgb(56, 84), 56, 84);
    expect(px).toMatchObject({ gridT: 1, gridH: 6, gridW: 4 });
    expect(px.pixels).toHaveLength(24 * 1176);
  });

  it('cancels queued image work with CANCELLED', async () => {
    const work = model.encodeImage(rgb(640, 360), 640, 360);
    model.cancel();
    await expect(work).rejects.toMatchObject({ code: 'CANCELLED' });
    // Later calls are not affected.
    expect((await model.encodeImage(rgb(56, 56), 56, 56)).nTokens).toBe(4);
  });
});

describe('unloading', () => {
  it('frees the model; every later call fails clearly', async () => {
    const m = await loadModel(addon(), { modelPath: text.model, backend: 'cpu', contextLength: 512 });
    const s = await m.createSession();
    await s.prefill(Int32Array.from([1, 2, 3]));
    expect(m.memory().kvCache).toBeGreaterThan(0);
    await m.unload();
    expect(() => m.memory()).toThrow(/unloaded/);
    await expect(s.prefill(Int32Array.from([4]))).rejects.toMatchObject({ message: /unloaded/ });
    await expect(m.createSession()).rejects.toMatchObject({ message: /unloaded/ });
    await m.unload(); // twice is harmless
  });
});
