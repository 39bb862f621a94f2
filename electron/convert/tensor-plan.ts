// Hugging Face tensor names → GGUF tensors, and how to read each one's rows.
// Text model (qwen2 / qwen2vl), as llama.cpp's tensor_mapping.py maps Qwen2:
//   model.embed_tokens → token_embd, model.norm → output_norm, lm_head → output,
//   model.layers.N.{input_layernorm → attn_norm, post_attention_layernorm → ffn_norm,
//   self_attn.{q,k,v}_proj → attn_{q,k,v}, self_attn.o_proj → attn_output,
//   mlp.{gate,up,down}_proj → ffn_{gate,up,down}}
// mmproj (clip, projector qwen2.5vl_merger), as Qwen2VLVisionModel does:
//   visual.patch_embed.proj.weight [C, 3, 2, P, P] → v.patch_embd.weight (temporal slice 0)
//     and v.patch_embd.weight.1 (slice 1); visual.blocks.N.attn.qkv → attn_q/k/v (thirds of
//   dim 0); attn.proj → attn_out; norm1/norm2 → ln1/ln2; mlp.* → ffn_*;
//   merger.ln_q → v.post_ln; merger.mlp.0/2 → mm.0/mm.2.
// Shapes are reversed into ggml order (ne[0] = the fastest PyTorch dimension).
import { fail } from './errors.js';
import { dtypeSize, elementCount, rowCount, type SafetensorsEntry } from './safetensors.js';
import { toFloat32 } from './to-float32.js';
import type { Checkpoint } from './checkpoint.js';

/** Produces `count` rows (each ne[0] floats) of the output tensor, starting at row `first`. */
export type RowReader = (first: number, count: number) => Promise<Float32Array>;

export interface PlannedTensor {
  name: string;
  /** ggml order. */
  ne: number[];
  rows: number;
  read: RowReader;
  /** HF tensor it comes from (for messages). */
  source: string;
  /** Bytes of source data read to make it (for progress). */
  sourceBytes: number;
}

const TEXT_LAYER_MAP: Record<string, string> = {
  'input_layernorm': 'attn_norm',
  'post_attention_layernorm': 'ffn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

const VISION_BLOCK_MAP: Record<string, string> = {
  'norm1': 'ln1',
  'norm2': 'ln2',
  'attn.proj': 'attn_out',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

/** Tensors the reference converter drops without a word. */
function ignored(name: string): boolean {
  return name.endsWith('.attention.masked_bias') || name.endsWith('.attention.bias') || name.endsWith('.rotary_emb.inv_freq');
}

function splitSuffix(name: string): [string, string] | undefined {
  for (const s of ['.weight', '.bias']) if (name.endsWith(s)) return [name.slice(0, -s.length), s];
  return undefined;
}

/** GGUF name of a text tensor; null for tensors of other towers; throws for unknown ones. */
export function textTensorName(hfName: string, blockCount: number): string | null {
  let name = hfName;
  if (name.startsWith('thinker.')) name = name.slice('thinker.'.length);
  if (name.startsWith('model.language_model.')) name = 'model.' + name.slice('model.language_model.'.length);
  if (name.startsWith('language_model.')) name = name.slice('language_model.'.length);
  if (/^(model\.)?(visual|audio|talker|token2wav)\b/.test(name)) return null;
  const parts = splitSuffix(name);
  if (parts) {
    const [base, suffix] = parts;
    if (base === 'model.embed_tokens') return 'token_embd' + suffix;
    if (base === 'model.norm') return 'output_norm' + suffix;
    if (base === 'lm_head') return 'output' + suffix;
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(base);
    if (m && Number(m[1]) < blockCount) {
      const mapped = TEXT_LAYER_MAP[m[2]!];
      if (mapped) return `blk.${m[1]}.${mapped}${suffix}`;
    }
  }
  fail('CHECKPOINT_UNSUPPORTED', `cannot map tensor '${hfName}' to a GGUF name (unexpected in a Qwen2 checkpoint)`);
}

function directReader(e: SafetensorsEntry): RowReader {
  return async (first, count) => toFloat32(e.dtype, await e.file.readRows(e, first, count), e.name);
}

function reversed(shape: readonly number[]): number[] {
  return shape.length === 0 ? [1] : [...shape].reverse();
}

function entryBytes(e: SafetensorsEntry): number {
  return elementCount(e.shape) * dtypeSize(e.dtype);
}

export function planTextTensors(ckpt: Checkpoint, blockCount: number): PlannedTensor[] {
  const out: PlannedTensor[] = [];
  for (const e of ckpt.tensors) {
    if (ignored(e.name)) continue;
    const name = textTensorName(e.name, blockCount);
    if (name === null) continue;
    if (e.shape.length > 4) fail('CHECKPOINT_UNSUPPORTED', `tensor '${e.name}' has ${e.shape.length} dimensions`);
    out.push({ name, ne: reversed(e.shape), rows: rowCount(e), read: directReader(e), source: e.name, sourceBytes: entryBytes(e) });
  }
  return out;
}

/** Reads a whole (small) tensor once and serves row ranges of a view computed from it. */
function wholeTensorReader(e: SafetensorsEntry, view: (all: Float32Array) => Float32Array, rowLen: number): RowReader {
  let cached: Promise<Float32Array> | null = null;
  return async (first, count) => {
    cached ??= (async () => view(toFloat32(e.dtype, await e.file.readRows(e, 0, rowCount(e)), e.name)))();
    const all = await cached;
    return all.slice(first * rowLen, (first + count) * rowLen);
  };
}

export function planVisionTensors(ckpt: Checkpoint): PlannedTensor[] {
  const out: PlannedTensor[] = [];
  for (const e of ckpt.tensors) {
    if (ignored(e.name)) continue;
    let name = e.name;
    if (name.startsWith('model.visual.')) name = 'visual.' + name.slice('model.visual.'.length);
    if (!name.startsWith('visual.')) continue; // the text tower goes to model.gguf
    const bytes = entryBytes(e);

    if (name === 'visual.patch_embed.proj.weight') {
      // Conv3d kernel [C, in, kt=2, kh, kw] → two Conv2d kernels [C, in, kh, kw]
      if (e.shape.length !== 5 || e.shape[2] !== 2)
        fail('CHECKPOINT_UNSUPPORTED', `${e.name} has shape [${e.shape.join(', ')}]; expected [C, 3, 2, P, P]`);
      const [c1, c2, , kh, kw] = e.shape as [number, number, number, number, number];
      const plane = kh * kw;
      for (const t of [0, 1]) {
        const slice = (all: Float32Array) => {
          const dst = new Float32Array(c1 * c2 * plane);
          for (let a = 0; a < c1 * c2; a++) dst.set(all.subarray((a * 2 + t) * plane, (a * 2 + t + 1) * plane), a * plane);
          return dst;
        };
        out.push({
          name: t === 0 ? 'v.patch_embd.weight' : 'v.patch_embd.weight.1', ne: [kw, kh, c2, c1], rows: c1 * c2 * kh,
          read: wholeTensorReader(e, slice, kw), source: e.name, sourceBytes: bytes / 2,
        });
      }
      continue;
    }

    const parts = splitSuffix(name);
    let mapped: string | undefined;
    if (parts) {
      const [base, suffix] = parts;
      const block = /^visual\.blocks\.(\d+)\.(.+)$/.exec(base);
      if (block && block[2] === 'attn.qkv') {
        // fused q, k, v: thirds of dim 0 (rows of the weight, elements of the bias)
        const total = e.shape[0]!;
        if (total % 3 !== 0) fail('CHECKPOINT_UNSUPPORTED', `${e.name}: dim 0 (${total}) is not divisible by 3`);
        const c = total / 3;
        ['attn_q', 'attn_k', 'attn_v'].forEach((which, k) => {
          const gguf = `v.blk.${block[1]}.${which}${suffix}`;
          if (e.shape.length === 1) {
            out.push({ name: gguf, ne: [c], rows: 1, source: e.name, sourceBytes: bytes / 3,
              read: wholeTensorReader(e, (all) => all.slice(k * c, (k + 1) * c), c) });
          } else {
            const rowsPerSlice = rowCount(e) / 3;
            out.push({ name: gguf, ne: [...reversed(e.shape).slice(0, -1), c], rows: rowsPerSlice, source: e.name, sourceBytes: bytes / 3,
              read: async (first, count) => {
                if (first + count > rowsPerSlice) fail('INVALID_ARGUMENT', `rows past the end of ${gguf}`);
                return toFloat32(e.dtype, await e.file.readRows(e, k * rowsPerSlice + first, count), e.name);
              } });
          }
        });
        continue;
      }
      if (block && VISION_BLOCK_MAP[block[2]!]) mapped = `v.blk.${block[1]}.${VISION_BLOCK_MAP[block[2]!]}${suffix}`;
      else if (base === 'visual.merger.ln_q') mapped = 'v.post_ln' + suffix;
      else if (base === 'visual.merger.mlp.0') mapped = 'mm.0' + suffix;
      else if (base === 'visual.merger.mlp.2') mapped = 'mm.2' + suffix;
    }
    if (!mapped) fail('CHECKPOINT_UNSUPPORTED', `cannot map vision tensor '${e.name}' to a GGUF name`);
    out.push({ name: mapped, ne: reversed(e.shape), rows: rowCount(e), read: directReader(e), source: e.name, sourceBytes: bytes });
  }
  return out;
}
