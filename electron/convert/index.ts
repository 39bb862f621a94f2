// convertCheckpoint(): a Hugging Face Qwen2 / Qwen2.5-VL checkpoint folder → <out>/model.gguf
// (and <out>/mmproj.gguf for Qwen2.5-VL), laid out as llama.cpp's convert_hf_to_gguf.py
// (and, for the K-quant mixes, llama-quantize) write them. Plain Node: no electron import.
// See docs/converter.md for the rules followed and the deliberate differences.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { endianness } from 'node:os';
import { Checkpoint } from './checkpoint.js';
import { ConvertError, fail } from './errors.js';
import { addGeneralMetadata, loadGeneralMetadata } from './general-metadata.js';
import { GgufMetadata } from './gguf-writer.js';
import { loadHfConfig, type HfConfig, type TextParams, type VisionParams } from './hf-config.js';
import { defaultQuantizer, type Quantizer } from './quantizer.js';
import { planTextTensors, planVisionTensors, type PlannedTensor } from './tensor-plan.js';
import { addTokenizerMetadata } from './tokenizer-meta.js';
import { converterType, FILE_TYPE, GGML, isKMix, kMixTypes, OUT_TYPES, quantizeOrder, type OutType } from './type-mix.js';
import { writeGgufFile, type TypedPlannedTensor } from './write-gguf-file.js';

export { ConvertError } from './errors.js';
export type { OutType } from './type-mix.js';
export { OUT_TYPES } from './type-mix.js';

const GGML_QUANT_VERSION = 2;

export interface ConvertOptions {
  /** The Hugging Face checkpoint folder (config.json, model*.safetensors, tokenizer.json, …). */
  input: string;
  /** Output folder; created if missing. model.gguf (and mmproj.gguf) are written into it. */
  outDir: string;
  type: OutType;
  /** Native quantiser; by default the engine addon. Not needed for --type f32. */
  quantizer?: Quantizer;
  signal?: AbortSignal;
  /** Chunks of rows in flight per tensor (default 3). */
  concurrency?: number;
  /** Float32 elements per chunk (default 8 Mi). */
  chunkElements?: number;
}

export interface ConvertProgress {
  file: 'model.gguf' | 'mmproj.gguf';
  fileIndex: number;
  fileCount: number;
  tensorIndex: number;
  tensorCount: number;
  tensorName: string;
  /** ggml type the tensor is written as ("q4_K"). */
  typeName: string;
  /** Source bytes converted, over all files. */
  bytesDone: number;
  bytesTotal: number;
}

export interface ConvertedFile {
  path: string;
  kind: 'model' | 'mmproj';
  fileType: number;
  tensors: Array<{ name: string; type: number; ne: number[] }>;
}

export interface ConvertResult {
  files: ConvertedFile[];
}

function totalParams(tensors: readonly PlannedTensor[]): number {
  return tensors.reduce((a, t) => a + t.ne.reduce((x, y) => x * y, 1), 0);
}

function addTextParams(meta: GgufMetadata, arch: string, p: TextParams, fileType: number): void {
  const u32 = (k: string, v: number | undefined) => { if (v !== undefined) meta.add(`${arch}.${k}`, { type: 'u32', value: v }); };
  const f32 = (k: string, v: number | undefined) => { if (v !== undefined) meta.add(`${arch}.${k}`, { type: 'f32', value: v }); };
  u32('block_count', p.blockCount);
  u32('context_length', p.contextLength);
  u32('embedding_length', p.embeddingLength);
  u32('feed_forward_length', p.feedForwardLength);
  u32('attention.head_count', p.headCount);
  u32('attention.head_count_kv', p.headCountKv);
  if (p.ropeSections) meta.add(`${arch}.rope.dimension_sections`, { type: 'array', elem: 'i32', value: p.ropeSections });
  f32('rope.freq_base', p.ropeTheta);
  if (p.yarn) {
    meta.add(`${arch}.rope.scaling.type`, { type: 'string', value: 'yarn' });
    f32('rope.scaling.factor', p.yarn.factor);
    u32('rope.scaling.original_context_length', p.yarn.originalContextLength);
  }
  f32('attention.layer_norm_rms_epsilon', p.rmsNormEps);
  u32('attention.key_length', p.headDim);
  u32('attention.value_length', p.headDim);
  meta.add('general.file_type', { type: 'u32', value: fileType });
}

function addVisionParams(meta: GgufMetadata, v: VisionParams, fileType: number): void {
  const u32 = (k: string, value: number) => meta.add(k, { type: 'u32', value });
  u32('general.file_type', fileType);
  meta.add('clip.has_vision_encoder', { type: 'bool', value: true });
  u32('clip.vision.projection_dim', v.projectionDim);
  u32('clip.vision.image_size', v.imageSize);
  u32('clip.vision.patch_size', v.patchSize);
  u32('clip.vision.embedding_length', v.hiddenSize);
  u32('clip.vision.feed_forward_length', v.intermediateSize);
  u32('clip.vision.block_count', v.depth);
  u32('clip.vision.attention.head_count', v.numHeads);
  meta.add('clip.vision.image_mean', { type: 'array', elem: 'f32', value: v.imageMean });
  meta.add('clip.vision.image_std', { type: 'array', elem: 'f32', value: v.imageStd });
  meta.add('clip.projector_type', { type: 'string', value: 'qwen2.5vl_merger' });
  meta.add('clip.use_silu', { type: 'bool', value: true });
  u32('clip.vision.n_wa_pattern', v.nWaPattern);
  meta.add('clip.vision.attention.layer_norm_epsilon', { type: 'f32', value: v.layerNormEps });
}

/** Final types and file order of the text model's tensors. */
export function assignTextTypes(plan: readonly PlannedTensor[], type: OutType, blockCount: number): TypedPlannedTensor[] {
  if (!isKMix(type)) return plan.map((t) => ({ ...t, type: converterType(t, type, false) }));
  const base = new Map(plan.map((t) => [t.name, converterType(t, 'f32', false)]));
  const types = kMixTypes(plan, type, blockCount, base);
  // llama-quantize writes tensors in its loader's order: non-layer tensors, then layer by layer
  return [...plan].sort((a, b) => quantizeOrder(a.name, b.name)).map((t) => ({ ...t, type: types.get(t.name)! }));
}

export function assignVisionTypes(plan: readonly PlannedTensor[], type: 'f32' | 'f16' | 'bf16' | 'q8_0'): TypedPlannedTensor[] {
  return plan.map((t) => ({ ...t, type: converterType(t, type, true) }));
}

/** The mmproj's file type: the same as the model's for plain types, f16 next to the K-quant mixes. */
export function mmprojTypeFor(type: OutType): 'f32' | 'f16' | 'bf16' | 'q8_0' {
  return isKMix(type) ? 'f16' : type;
}

function checkTextTensors(tensors: readonly PlannedTensor[], config: HfConfig): void {
  const names = new Set(tensors.map((t) => t.name));
  const missing = ['token_embd.weight', 'output_norm.weight'].filter((n) => !names.has(n));
  for (let i = 0; i < config.text.blockCount; i++)
    for (const s of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down'])
      if (!names.has(`blk.${i}.${s}.weight`)) missing.push(`blk.${i}.${s}.weight`);
  if (missing.length)
    fail('SAFETENSORS_MALFORMED', `the checkpoint lacks ${missing.length} tensors the model needs, e.g. ${missing.slice(0, 4).join(', ')}`);
}

export async function convertCheckpoint(opts: ConvertOptions, onProgress?: (p: ConvertProgress) => void): Promise<ConvertResult> {
  if (!OUT_TYPES.includes(opts.type)) fail('INVALID_ARGUMENT', `unknown output type '${String(opts.type)}' (one of ${OUT_TYPES.join(', ')})`);
  if (endianness() !== 'LE') fail('INVALID_ARGUMENT', 'the converter runs on little-endian machines only');
  const input = resolve(opts.input);
  const outDir = resolve(opts.outDir);
  const config = await loadHfConfig(input);
  const ckpt = await Checkpoint.open(input);
  try {
    const arch = config.text.kind;
    const textPlan = planTextTensors(ckpt, config.text.blockCount);
    checkTextTensors(textPlan, config);
    const textTensors = assignTextTypes(textPlan, opts.type, config.text.blockCount);
    const visionPlan = config.vision ? planVisionTensors(ckpt) : [];
    if (config.vision && visionPlan.length === 0) fail('SAFETENSORS_MALFORMED', 'a Qwen2.5-VL checkpoint without visual.* tensors');
    const mmprojType = mmprojTypeFor(opts.type);
    const visionTensors = assignVisionTypes(visionPlan, mmprojType);

    const needsQuantizer = [...textTensors, ...visionTensors].some((t) => t.type !== GGML.F32);
    const quantizer = needsQuantizer ? (opts.quantizer ?? defaultQuantizer()) : null;
    await mkdir(outDir, { recursive: true }).catch((error: Error) => {
      throw new ConvertError('FILE_IO', `cannot create ${outDir}: ${error.message}`, { cause: error });
    });

    // --- model.gguf
    const textMeta = new GgufMetadata();
    textMeta.add('general.architecture', { type: 'string', value: arch });
    textMeta.add('general.type', { type: 'string', value: 'model' });
    addGeneralMetadata(textMeta, await loadGeneralMetadata(input, config.raw, totalParams(textPlan)));
    const fileType = FILE_TYPE[opts.type];
    addTextParams(textMeta, arch, config.text, isKMix(opts.type) ? FILE_TYPE.f32 : fileType);
    textMeta.add('general.quantization_version', { type: 'u32', value: GGML_QUANT_VERSION });
    await addTokenizerMetadata(textMeta, input, config.raw, config.text.vocabSize);
    if (isKMix(opts.type)) {
      // llama-quantize re-sets these two keys, which moves them to the end
      textMeta.set('general.quantization_version', { type: 'u32', value: GGML_QUANT_VERSION });
      textMeta.set('general.file_type', { type: 'u32', value: fileType });
    }

    const files: Array<{ file: ConvertProgress['file']; kind: ConvertedFile['kind']; meta: GgufMetadata; tensors: TypedPlannedTensor[]; fileType: number }> = [
      { file: 'model.gguf', kind: 'model', meta: textMeta, tensors: textTensors, fileType },
    ];
    if (config.vision) {
      const visionMeta = new GgufMetadata();
      visionMeta.add('general.architecture', { type: 'string', value: 'clip' });
      visionMeta.add('general.type', { type: 'string', value: 'mmproj' });
      addGeneralMetadata(visionMeta, await loadGeneralMetadata(input, config.raw, totalParams(visionPlan)));
      addVisionParams(visionMeta, config.vision, FILE_TYPE[mmprojType]);
      visionMeta.add('general.quantization_version', { type: 'u32', value: GGML_QUANT_VERSION });
      files.push({ file: 'mmproj.gguf', kind: 'mmproj', meta: visionMeta, tensors: visionTensors, fileType: FILE_TYPE[mmprojType] });
    }

    const bytesTotal = files.reduce((a, f) => a + f.tensors.reduce((x, t) => x + t.sourceBytes, 0), 0);
    let bytesBefore = 0;
    const result: ConvertResult = { files: [] };
    for (let fi = 0; fi < files.length; fi++) {
      const f = files[fi]!;
      const path = join(outDir, f.file);
      await writeGgufFile(path, f.meta, f.tensors, {
        quantizer, signal: opts.signal, concurrency: opts.concurrency, chunkElements: opts.chunkElements,
        onProgress: (p) => onProgress?.({
          file: f.file, fileIndex: fi, fileCount: files.length, tensorIndex: p.tensorIndex, tensorCount: p.tensorCount,
          tensorName: p.tensorName, typeName: p.typeName, bytesDone: bytesBefore + p.bytesDone, bytesTotal,
        }),
      });
      bytesBefore += f.tensors.reduce((x, t) => x + t.sourceBytes, 0);
      result.files.push({ path, kind: f.kind, fileType: f.fileType, tensors: f.tensors.map((t) => ({ name: t.name, type: t.type, ne: t.ne })) });
    }
    return result;
  } finally {
    await ckpt.close();
  }
}
