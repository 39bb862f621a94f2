// The model registry over stores and folders built by the test: Ollama's manifests → blobs
// (a llama.cpp-style pair and Ollama's own single-file qwen25vl), LM Studio's publisher/model
// folders, the Hugging Face cache's symlinked snapshots, user folders with broken, split and
// projector-less files, and the reference fixtures' real GGUF files.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry, toModelEntry, estimateVram, maxContextThatFits } from '../../electron/services/model-registry/index.js';
import { storeRoots } from '../../electron/services/model-registry/store-roots.js';
import { DEFAULT_SETTINGS } from '../../electron/services/settings-store.js';
import type { EngineBuildInfo, Settings } from '../../electron/contract/bridge.js';
import type { ModelFileFacts } from '../../electron/services/model-registry/model-file.js';
import { ggufBytes, tinyMmproj, tinyOllamaQwen25vl, tinyQwen2vlText, writeGguf } from './helpers/gguf-writer.js';
import { fixturesRoot } from '../helpers/paths.js';

let root: string;
let registry: ModelRegistry;
const settings = (patch: Partial<Settings> = {}): Settings => ({ ...DEFAULT_SETTINGS, modelFolders: [], ...patch });

function gpuEngine(freeBytes: number): EngineBuildInfo {
  return {
    version: '0.1.0', cudaCompiled: true, cudaArchs: '90-real', cudaRuntimeVersion: 13000, cudaDriverVersion: 13000, napiVersion: 9,
    gpus: [{ index: 0, name: 'Test GPU', computeCapability: '9.0', totalBytes: 8 * 2 ** 30, freeBytes, smCount: 132 }],
  };
}

function blob(storeRoot: string, bytes: Buffer): string {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(storeRoot, 'blobs', `sha256-${hex}`), bytes);
  return `sha256:${hex}`;
}

function manifest(storeRoot: string, model: string, tag: string, layers: Array<{ mediaType: string; digest: string }>): void {
  const dir = join(storeRoot, 'manifests', 'registry.ollama.ai', 'library', model);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, tag), JSON.stringify({ schemaVersion: 2, layers: layers.map((l) => ({ ...l, size: 1 })) }));
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'kotaro-registry-'));
  // ---- Ollama
  const ollama = join(root, 'ollama');
  mkdirSync(join(ollama, 'blobs'), { recursive: true });
  const single = tinyOllamaQwen25vl();
  manifest(ollama, 'qwen2.5vl', '7b', [
    { mediaType: 'application/vnd.ollama.image.model', digest: blob(ollama, ggufBytes(single.kv, single.tensors)) },
    { mediaType: 'application/vnd.ollama.image.template', digest: blob(ollama, Buffer.from('{{ .Prompt }}')) },
  ]);
  const text = tinyQwen2vlText({ name: 'Imported VL' });
  const proj = tinyMmproj();
  manifest(ollama, 'tinyvl', 'latest', [
    { mediaType: 'application/vnd.ollama.image.model', digest: blob(ollama, ggufBytes(text.kv, text.tensors)) },
    { mediaType: 'application/vnd.ollama.image.projector', digest: blob(ollama, ggufBytes(proj.kv, proj.tensors)) },
  ]);
  manifest(ollama, 'gone', 'latest', [{ mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${'0'.repeat(64)}` }]);
  // ---- LM Studio: two projectors in one folder, only one of the model's width
  const lms = join(root, 'lmstudio', 'someone', 'Tiny-VL-GGUF');
  mkdirSync(lms, { recursive: true });
  const lmText = tinyQwen2vlText({ embd: 64, name: 'LM Tiny VL', fileType: 7 });
  writeGguf(join(lms, 'Tiny-VL-Q8_0.gguf'), lmText.kv, lmText.tensors);
  const wide = tinyMmproj({ projectionDim: 128 });
  writeGguf(join(lms, 'mmproj-Other-F16.gguf'), wide.kv, wide.tensors);
  writeGguf(join(lms, 'mmproj-Tiny-VL-F16.gguf'), proj.kv, proj.tensors);
  // a bare file in the root is found too (LM Studio would ignore it; we list it)
  // ---- Hugging Face cache: two revisions linking the same blobs
  const hf = join(root, 'hf');
  const repo = join(hf, 'models--org--tiny-vl');
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  const hfText = tinyQwen2vlText({ name: null as unknown as string });
  delete hfText.kv['general.name'];
  writeFileSync(join(repo, 'blobs', 'aaa'), ggufBytes(hfText.kv, hfText.tensors));
  writeFileSync(join(repo, 'blobs', 'bbb'), ggufBytes(proj.kv, proj.tensors));
  for (const rev of ['rev1', 'rev2']) {
    mkdirSync(join(repo, 'snapshots', rev), { recursive: true });
    symlinkSync('../../blobs/aaa', join(repo, 'snapshots', rev, 'tiny-vl-f16.gguf'));
    symlinkSync('../../blobs/bbb', join(repo, 'snapshots', rev, 'mmproj-f16.gguf'));
  }
  // ---- user folder: projector-less VL, a corrupt file, a split model, a link loop
  const user = join(root, 'user');
  mkdirSync(join(user, 'alone'), { recursive: true });
  writeGguf(join(user, 'alone', 'vl-no-proj.gguf'), text.kv, text.tensors);
  mkdirSync(join(user, 'corrupt'));
  writeFileSync(join(user, 'corrupt', 'bad.gguf'), Buffer.from('GGUF\x03\x00\x00\x00garbage'));
  mkdirSync(join(user, 'split'));
  writeGguf(join(user, 'split', 'big-00001-of-00002.gguf'), text.kv, text.tensors);
  writeGguf(join(user, 'split', 'big-00002-of-00002.gguf'), text.kv, text.tensors);
  symlinkSync(user, join(user, 'alone', 'loop'));

  registry = new ModelRegistry({ roots: { ollama: [ollama], lmstudio: [join(root, 'lmstudio')], huggingface: [hf] } });
  await registry.scan([user, join(fixturesRoot, 'tiny-qwen25vl-a', 'llamacpp'), join(fixturesRoot, 'tiny-qwen2-a', 'llamacpp')]);
});

function byName(name: string) {
  const found = registry.list().filter((m) => m.name === name);
  expect(found, `models named ${name}: ${registry.list().map((m) => m.name).join(', ')}`).toHaveLength(1);
  return found[0]!;
}

describe('model registry', () => {
  it('reads Ollama manifests → blobs and pairs a projector layer with its model', () => {
    const m = byName('tinyvl:latest');
    expect(m.source).toBe('ollama');
    expect(m.pair.text.path).toMatch(/blobs\/sha256-[0-9a-f]{64}$/);
    expect(m.pair.mmproj?.path).toMatch(/blobs\/sha256-/);
    expect(m.pair.problem).toBeNull();
    expect(m.pair.vision).toBe(true);
    expect(registry.storeProblems.join('\n')).toMatch(/gone:latest: its model blob .* is missing/);
  });

  it("reads Ollama's single-file qwen25vl and says clearly why the engine cannot run it", () => {
    const m = byName('qwen2.5vl:7b');
    expect(m.pair.text.role).toBe('ollama-vl');
    expect(m.pair.text.architecture).toBe('qwen25vl');
    expect(m.pair.text.contextLength).toBe(128000);
    expect(m.pair.text.quantization).toBe('Q4_K_M');
    expect(m.pair.text.vision?.blockCount).toBe(2);
    expect(m.pair.vision).toBe(true);
    expect(m.pair.problem).toMatch(/Ollama's own single-file layout/);
    expect(m.pair.problem).toMatch(/mrope_section/);
    const entry = toModelEntry(m, settings(), null);
    expect(entry.vramEstimateBytes).toBeGreaterThan(m.pair.text.tensorBytes); // vision tower counted from inside the file
  });

  it('pairs an LM Studio model with the projector of its width, not the other one', () => {
    const m = byName('LM Tiny VL');
    expect(m.source).toBe('lmstudio');
    expect(m.pair.mmproj?.path).toMatch(/mmproj-Tiny-VL-F16\.gguf$/);
    expect(m.pair.text.quantization).toBe('Q8_0');
    expect(m.pair.problem).toBeNull();
  });

  it('lists a Hugging Face cache model once across revisions, named after its repo', () => {
    const hits = registry.list().filter((m) => m.source === 'huggingface');
    expect(hits).toHaveLength(1);
    expect(hits[0]!.name).toBe('org/tiny-vl');
    expect(hits[0]!.pair.mmproj?.path).toMatch(/snapshots\/rev1\/mmproj-f16\.gguf$/);
  });

  it('explains what is wrong with unusable files instead of hiding or crashing on them', () => {
    const all = registry.list();
    const alone = all.find((m) => m.pair.text.path.endsWith('vl-no-proj.gguf'))!;
    expect(alone.pair.problem).toMatch(/no vision projector/);
    const bad = all.find((m) => m.pair.text.path.endsWith('bad.gguf'))!;
    expect(bad.pair.problem).toMatch(/cannot read this file/);
    const split = all.filter((m) => m.pair.text.path.includes('big-0000'));
    expect(split).toHaveLength(1);
    expect(split[0]!.pair.problem).toMatch(/split GGUF \(part 1 of 2\)/);
  });

  it("reads the fixtures' llama.cpp files: three text models each paired with the F16 projector; qwen2 is text-only", () => {
    const vl = registry.list().filter((m) => m.pair.text.path.includes('tiny-qwen25vl-a'));
    expect(vl.map((m) => m.pair.text.path.split('/').pop()).sort()).toEqual(['model-f16.gguf', 'model-f32.gguf', 'model-q8_0.gguf']);
    for (const m of vl) {
      expect(m.pair.text.architecture).toBe('qwen2vl');
      expect(m.pair.mmproj?.path).toMatch(/mmproj-f16\.gguf$/);
      expect(m.pair.problem).toBeNull();
      const entry = toModelEntry(m, settings(), null);
      expect(entry.sizeBytes).toBe(statSync(m.pair.text.path).size + statSync(m.pair.mmproj!.path).size);
      expect(entry.contextLength).toBeGreaterThan(0);
      expect(entry.fits).toBeNull(); // no GPU reported
    }
    expect(vl.map((m) => m.pair.text.quantization).sort()).toEqual(['F16', 'F32', 'Q8_0']);
    const text = registry.list().find((m) => m.pair.text.path.includes('tiny-qwen2-a') && m.pair.text.path.endsWith('f32.gguf'))!;
    expect(text.pair.text.architecture).toBe('qwen2');
    expect(text.pair.vision).toBe(false);
    expect(text.pair.problem).toBeNull();
  });

  it('keeps ids stable across rescans and the model found through another folder', async () => {
    const before = new Map(registry.list().map((m) => [m.pair.text.path, m.id]));
    const again = new ModelRegistry({ roots: { ollama: [], lmstudio: [], huggingface: [] } });
    await again.scan([join(root, 'lmstudio')]); // the LM Studio folder added as a user folder
    const m = again.list().find((x) => x.name === 'LM Tiny VL')!;
    expect(m.source).toBe('folder');
    expect(m.id).toBe(before.get(m.pair.text.path));
  });

  it('judges fit against the GPU budget and names the longest context that fits', () => {
    const m = byName('LM Tiny VL');
    const roomy = toModelEntry(m, settings(), gpuEngine(8 * 2 ** 30));
    expect(roomy.fits).toBe(true);
    expect(roomy.budgetBytes).toBe(8 * 2 ** 30);
    const tight = toModelEntry(m, settings(), gpuEngine(roomy.vramEstimateBytes - 1));
    expect(tight.fits).toBe(false);
    expect(tight.maxContextFits).toBeLessThan(DEFAULT_SETTINGS.contextLength);
    const budgeted = toModelEntry(m, settings({ vramBudgetMB: 1 }), gpuEngine(8 * 2 ** 30));
    expect(budgeted.budgetBytes).toBe(2 ** 20);
    expect(budgeted.fits).toBe(false);
    expect(toModelEntry(m, settings({ backend: 'cpu' }), gpuEngine(1)).fits).toBeNull();
  });

  it('honours the KOTARO_* root overrides', () => {
    const roots = storeRoots({ KOTARO_OLLAMA_MODELS: '/a', KOTARO_LMSTUDIO_MODELS: '/b:/c', KOTARO_HF_CACHE: '/d' }, '/home/x');
    expect(roots).toEqual({ ollama: ['/a'], lmstudio: ['/b', '/c'], huggingface: ['/d'] });
    const defaults = storeRoots({}, '/home/x');
    expect(defaults.ollama[0]).toBe('/home/x/.ollama/models');
    expect(defaults.lmstudio).toEqual(['/home/x/.lmstudio/models', '/home/x/.cache/lm-studio/models']);
    expect(defaults.huggingface).toEqual(['/home/x/.cache/huggingface/hub']);
  });
});

describe('VRAM estimate', () => {
  // Qwen2.5-VL-7B's text shape (reference §A.2) with Q4_K_M-sized weights.
  const text7b: ModelFileFacts = {
    path: '/m/7b.gguf', sizeBytes: 4.68e9, mtimeMs: 0, role: 'text', architecture: 'qwen2vl', name: '7B', quantization: 'Q4_K_M',
    tensorBytes: 4.68e9, contextLength: 128000,
    text: { blockCount: 28, embeddingLength: 3584, feedForwardLength: 18944, headCount: 28, headCountKv: 4, headDim: 128, vocabSize: 152064 },
    vision: null, unsupportedTensorTypes: [], readError: null,
  };
  const mmproj7b: ModelFileFacts = {
    ...text7b, path: '/m/mmproj.gguf', role: 'mmproj', architecture: 'clip', tensorBytes: 1.35e9, text: null, contextLength: null,
    vision: { blockCount: 32, embeddingLength: 1280, feedForwardLength: 3420, headCount: 16, patchSize: 14, mergeSize: 2, projectionDim: 3584, projectorType: 'qwen2.5vl_merger' },
  };

  it('counts the KV cache as layers × 2 × kv_heads × head_dim × context × 2 bytes', () => {
    const e = estimateVram({ text: text7b, mmproj: mmproj7b, contextLength: 4096, maxImageSide: 512 });
    expect(e.kvCacheBytes).toBe(28 * 2 * 4 * 128 * 4096 * 2);
    expect(e.weightsBytes).toBe(4.68e9 + 1.35e9);
    expect(e.visionBytes).toBeGreaterThan(0);
    expect(e.totalBytes).toBe(e.weightsBytes + e.kvCacheBytes + e.activationsBytes + e.visionBytes + e.overheadBytes);
    // 7B Q4_K_M + F16 projector at 4k context: between 6 and 8 GiB
    expect(e.totalBytes / 2 ** 30).toBeGreaterThan(6);
    expect(e.totalBytes / 2 ** 30).toBeLessThan(8);
  });

  it('grows with the context and the image size, and clamps to the model context', () => {
    const at = (ctx: number, side = 512) => estimateVram({ text: text7b, mmproj: mmproj7b, contextLength: ctx, maxImageSide: side }).totalBytes;
    expect(at(8192)).toBeGreaterThan(at(4096));
    expect(at(4096, 1024)).toBeGreaterThan(at(4096, 512));
    expect(estimateVram({ text: { ...text7b, contextLength: 2048 }, mmproj: null, contextLength: 8192, maxImageSide: 512 }).contextLength).toBe(2048);
  });

  it('finds the longest context that fits a budget', () => {
    const input = { text: text7b, mmproj: mmproj7b, maxImageSide: 512 };
    const budget = estimateVram({ ...input, contextLength: 10_000 }).totalBytes;
    const ctx = maxContextThatFits(input, budget);
    expect(ctx % 256).toBe(0);
    expect(ctx).toBeLessThanOrEqual(10_000);
    expect(ctx).toBeGreaterThan(10_000 - 256);
    expect(maxContextThatFits(input, 1e9)).toBe(0);
  });
});
