// Which ggml type each tensor gets, for each --type.
//
// f32 / f16 / bf16 / q8_0: convert_hf_to_gguf.py's rules (prepare_tensors):
//   - 1-D tensors and names ending in "_norm.weight" → F32; names not ending in ".weight" → F32;
//   - mmproj: ".patch_embd.weight" (and ".weight.1") → F16 when the file type is F16, else F32;
//   - otherwise the file type's tensor type; Q8_0 needs ne0 % 32 == 0, else F16 ("falling back to F16").
// q4_k_m / q5_k_m / q6_k: the text model is what `convert_hf_to_gguf.py --outtype f32`
// followed by `llama-quantize <TYPE>` (no imatrix) produce, following llama-quant.cpp:
//   - quantised: names ending in "weight" with >= 2 dims, except "*_norm.weight";
//   - default type Q4_K / Q5_K / Q6_K;
//   - output.weight (or token_embd.weight when the model has no output.weight): Q6_K, or Q8_0 when
//     ne0 % 256 != 0;
//   - attn_v.weight and ffn_down: Q6_K for Q4_K_M and Q5_K_M on "more bits" layers
//     (i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2), counted in llama-quantize's tensor order;
//   - when ne0 is not a multiple of the chosen type's block: Q4_K → Q5_0, Q5_K → Q5_1,
//     Q6_K → Q8_0, and F16 if ne0 is still not a multiple of that block (32).
//   Their mmproj is converted as f16 (llama-quantize does not take mmproj files).
import { fail } from './errors.js';

export const GGML = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 } as const;

export const BLOCK_SIZE: Record<number, number> = {
  [GGML.F32]: 1, [GGML.F16]: 1, [GGML.BF16]: 1, [GGML.Q4_0]: 32, [GGML.Q4_1]: 32, [GGML.Q5_0]: 32, [GGML.Q5_1]: 32,
  [GGML.Q8_0]: 32, [GGML.Q3_K]: 256, [GGML.Q4_K]: 256, [GGML.Q5_K]: 256, [GGML.Q6_K]: 256,
};
export const TYPE_SIZE: Record<number, number> = {
  [GGML.F32]: 4, [GGML.F16]: 2, [GGML.BF16]: 2, [GGML.Q4_0]: 18, [GGML.Q4_1]: 20, [GGML.Q5_0]: 22, [GGML.Q5_1]: 24,
  [GGML.Q8_0]: 34, [GGML.Q3_K]: 110, [GGML.Q4_K]: 144, [GGML.Q5_K]: 176, [GGML.Q6_K]: 210,
};
/** Names the native quantiser takes (ggml spellings). */
export const TYPE_NAME: Record<number, string> = {
  [GGML.F32]: 'f32', [GGML.F16]: 'f16', [GGML.BF16]: 'bf16', [GGML.Q4_0]: 'q4_0', [GGML.Q4_1]: 'q4_1', [GGML.Q5_0]: 'q5_0',
  [GGML.Q5_1]: 'q5_1', [GGML.Q8_0]: 'q8_0', [GGML.Q3_K]: 'q3_K', [GGML.Q4_K]: 'q4_K', [GGML.Q5_K]: 'q5_K', [GGML.Q6_K]: 'q6_K',
};

export function tensorBytes(type: number, ne: readonly number[]): number {
  const blck = BLOCK_SIZE[type], size = TYPE_SIZE[type];
  if (blck === undefined || size === undefined) fail('INVALID_ARGUMENT', `no size for ggml type ${type}`);
  const n = ne.reduce((a, b) => a * b, 1);
  return (n / blck) * size;
}

export type OutType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_k_m' | 'q5_k_m' | 'q6_k';
export const OUT_TYPES: readonly OutType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_k_m', 'q5_k_m', 'q6_k'];

/** llama_ftype, written as general.file_type. */
export const FILE_TYPE: Record<OutType, number> = { f32: 0, f16: 1, bf16: 32, q8_0: 7, q4_k_m: 15, q5_k_m: 17, q6_k: 18 };

export function isKMix(t: OutType): t is 'q4_k_m' | 'q5_k_m' | 'q6_k' {
  return t === 'q4_k_m' || t === 'q5_k_m' || t === 'q6_k';
}

export interface TypedTensor {
  name: string;
  ne: number[];
}

/** convert_hf_to_gguf.py's choice for one tensor (f32/f16/bf16/q8_0 files). */
export function converterType(t: TypedTensor, outType: 'f32' | 'f16' | 'bf16' | 'q8_0', mmproj: boolean): number {
  const nDims = t.ne.length;
  let forced: number | undefined;
  if (mmproj && t.name.includes('.patch_embd.weight')) forced = outType === 'f16' ? GGML.F16 : GGML.F32;
  if (nDims <= 1 || t.name.endsWith('_norm.weight')) forced = GGML.F32;
  if (forced === undefined && !t.name.endsWith('.weight')) forced = GGML.F32;
  const type = forced ?? { f32: GGML.F32, f16: GGML.F16, bf16: GGML.BF16, q8_0: GGML.Q8_0 }[outType];
  if (t.ne[0]! % BLOCK_SIZE[type]! !== 0) return GGML.F16; // gguf-py QuantError → "falling back to F16"
  return type;
}

/** llama-quantize's tensor order (llama_model_loader's weight_name_comparer): by layer, then name. */
export function quantizeOrder(a: string, b: string): number {
  const layer = (s: string) => { const m = /^blk\.(\d+)\./.exec(s); return m ? Number(m[1]) : -1; };
  const la = layer(a), lb = layer(b);
  if (la !== lb) return la - lb;
  return a < b ? -1 : a > b ? 1 : 0; // std::string compares bytes; names are ASCII
}

function isQuantizable(t: TypedTensor): boolean {
  const n = t.name;
  return n.endsWith('weight') && t.ne.length >= 2 && !n.includes('_norm.weight') && !n.includes('ffn_gate_inp.weight') &&
    !n.includes('altup') && !n.includes('laurel') && !n.includes('per_layer_model_proj') &&
    n !== 'position_embd.weight' && n !== 'token_types.weight' && !n.includes('ssm_conv1d.weight') &&
    !n.includes('attn_rel_b.weight');
}

/**
 * Types for a K-mix text model. `baseTypes` are the converter's types of the f32 intermediate
 * (kept for tensors llama-quantize leaves alone). Returns name → type.
 */
export function kMixTypes(tensors: readonly TypedTensor[], outType: 'q4_k_m' | 'q5_k_m' | 'q6_k', nLayer: number,
  baseTypes: ReadonlyMap<string, number>): Map<string, number> {
  const defaultType = { q4_k_m: GGML.Q4_K, q5_k_m: GGML.Q5_K, q6_k: GGML.Q6_K }[outType];
  const hasOutput = tensors.some((t) => t.name === 'output.weight');
  const nAttnV = tensors.filter((t) => t.name.includes('attn_v.weight') || t.name.includes('attn_qkv.weight') || t.name.includes('attn_kv_b.weight')).length;
  const nFfnDown = nLayer;
  const moreBits = (i: number, n: number) => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;
  let iAttnV = 0, iFfnDown = 0;

  const out = new Map<string, number>();
  const ordered = [...tensors].sort((a, b) => quantizeOrder(a.name, b.name));
  for (const t of ordered) {
    const base = baseTypes.get(t.name);
    if (base === undefined) fail('INVALID_ARGUMENT', `no base type for ${t.name}`);
    if (!isQuantizable(t)) { out.set(t.name, base); continue; }
    let type: number = defaultType;
    const name = t.name;
    if (name === 'output.weight' || (!hasOutput && name === 'token_embd.weight')) {
      type = t.ne[0]! % BLOCK_SIZE[type]! !== 0 ? GGML.Q8_0 : GGML.Q6_K;
    } else if (name.includes('attn_v.weight')) {
      if ((outType === 'q4_k_m' || outType === 'q5_k_m') && moreBits(iAttnV, nAttnV)) type = GGML.Q6_K;
      ++iAttnV;
    } else if (name.includes('ffn_down')) {
      if ((outType === 'q4_k_m' || outType === 'q5_k_m') && moreBits(iFfnDown, nFfnDown)) type = GGML.Q6_K;
      ++iFfnDown;
    } else if (name.includes('attn_qkv.weight')) {
      if (outType === 'q4_k_m') type = GGML.Q5_K;
      else if (outType === 'q5_k_m') type = GGML.Q6_K;
    }
    if (t.ne[0]! % BLOCK_SIZE[type]! !== 0) {
      // llama-quant.cpp's fallback for rows that do not fill whole super-blocks
      const fallback: Record<number, number> = { [GGML.Q4_K]: GGML.Q5_0, [GGML.Q5_K]: GGML.Q5_1, [GGML.Q6_K]: GGML.Q8_0 };
      const f = fallback[type];
      if (f === undefined) fail('CHECKPOINT_UNSUPPORTED', `${name}: rows of ${t.ne[0]} cannot be stored as ${TYPE_NAME[type]}`);
      type = t.ne[0]! % BLOCK_SIZE[f]! !== 0 ? GGML.F16 : f;
    }
    out.set(t.name, type);
  }
  return out;
}
