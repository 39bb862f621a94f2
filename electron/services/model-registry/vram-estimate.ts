// How much device memory a model needs at a given context length, before loading it, so the
// window can say "fits / won't fit" and main can refuse a load that would only end in an OOM.
// An upper-bound estimate, by the same categories the engine reports (MemoryReport):
//   weights      tensor bytes of the text GGUF and of the mmproj (they are uploaded as stored)
//   kv cache     layers * 2 (K and V) * kv_heads * head_dim * context * 2 bytes (f16)
//   activations  text compute buffers for one prefill micro-batch of up to 512 tokens:
//                hidden/FFN buffers, attention scores (heads * batch * context, f32), logits
//   vision       the vision tower's buffers for the largest image the settings allow:
//                full-attention scores (heads * patches²) dominate
//   overhead     a fixed workspace (64 MiB) plus 5 % of the rest for allocator rounding
// Measured figures replace these once a model is loaded (telemetry).
import type { ModelFileFacts, VisionShape } from './model-file.js';

const MiB = 1024 * 1024;
const F32 = 4;
const F16 = 2;
export const PREFILL_BATCH = 512;
const FIXED_WORKSPACE = 64 * MiB;
const MARGIN = 0.05;

export interface VramEstimate {
  contextLength: number;
  weightsBytes: number;
  kvCacheBytes: number;
  activationsBytes: number;
  visionBytes: number;
  overheadBytes: number;
  totalBytes: number;
}

/** Patches (14 px) of the largest image whose longest side is `maxImageSide` (rounded up to 28 px). */
export function maxImagePatches(maxImageSide: number, vision: Pick<VisionShape, 'patchSize' | 'mergeSize'>): number {
  const unit = vision.patchSize * vision.mergeSize;
  const side = Math.max(1, Math.ceil(maxImageSide / unit)) * vision.mergeSize;
  return side * side;
}

function visionActivations(vision: VisionShape, maxImageSide: number, textEmbd: number): number {
  const p = maxImagePatches(maxImageSide, vision);
  const scores = vision.headCount * p * p * F32;
  const hidden = p * (vision.embeddingLength * 6 + vision.feedForwardLength * 3) * F32;
  const input = p * 3 * 2 * vision.patchSize * vision.patchSize * F32;
  const merged = (p / (vision.mergeSize * vision.mergeSize)) * (vision.projectionDim ?? textEmbd) * F32;
  return scores + hidden + input + merged;
}

export interface EstimateInput {
  text: ModelFileFacts;
  /** The mmproj, or null (text-only, or an Ollama file with the vision tower inside `text`). */
  mmproj: ModelFileFacts | null;
  contextLength: number;
  maxImageSide: number;
}

export function estimateVram({ text, mmproj, contextLength, maxImageSide }: EstimateInput): VramEstimate {
  const shape = text.text;
  const ctx = Math.max(1, Math.min(contextLength, text.contextLength ?? contextLength));
  const weightsBytes = text.tensorBytes + (mmproj?.tensorBytes ?? 0);
  let kvCacheBytes = 0;
  let activationsBytes = 0;
  if (shape) {
    kvCacheBytes = shape.blockCount * 2 * shape.headCountKv * shape.headDim * ctx * F16;
    const batch = Math.min(PREFILL_BATCH, ctx);
    const hidden = batch * (shape.embeddingLength * 6 + shape.feedForwardLength * 3) * F32;
    const scores = shape.headCount * batch * ctx * F32;
    const logits = shape.vocabSize * F32 * 2;
    activationsBytes = hidden + scores + logits;
  }
  const vision = mmproj?.vision ?? text.vision;
  const visionBytes = vision ? visionActivations(vision, maxImageSide, shape?.embeddingLength ?? 0) : 0;
  const subtotal = weightsBytes + kvCacheBytes + activationsBytes + visionBytes;
  const overheadBytes = FIXED_WORKSPACE + Math.ceil(subtotal * MARGIN);
  return {
    contextLength: ctx,
    weightsBytes,
    kvCacheBytes: Math.ceil(kvCacheBytes),
    activationsBytes: Math.ceil(activationsBytes),
    visionBytes: Math.ceil(visionBytes),
    overheadBytes,
    totalBytes: Math.ceil(subtotal) + overheadBytes,
  };
}

/**
 * The longest context (a multiple of 256, at most the model's own) whose estimate fits `budget`;
 * 0 when not even 256 tokens fit. The estimate grows monotonically with the context, so a
 * binary search over multiples of 256 finds it.
 */
export function maxContextThatFits(input: Omit<EstimateInput, 'contextLength'>, budgetBytes: number): number {
  const modelMax = input.text.contextLength ?? 32_768;
  const fits = (ctx: number) => estimateVram({ ...input, contextLength: ctx }).totalBytes <= budgetBytes;
  if (!fits(256)) return 0;
  let lo = 1;
  let hi = Math.max(1, Math.floor(modelMax / 256));
  if (fits(hi * 256)) return Math.min(modelMax, hi * 256);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid * 256)) lo = mid;
    else hi = mid;
  }
  return lo * 256;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * MiB) return `${(bytes / (1024 * MiB)).toFixed(1)} GiB`;
  return `${Math.round(bytes / MiB)} MiB`;
}
