// A minimal GGUF v3 writer for the registry tests: metadata of the types the registry reads and
// small zero-filled tensors, laid out the way llama.cpp requires (aligned, in order).
import { writeFileSync } from 'node:fs';

export type KvValue =
  | { t: 'u32'; v: number }
  | { t: 'f32'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'str'; v: string }
  | { t: 'arr_i32'; v: number[] }
  | { t: 'arr_str'; v: string[] }
  | { t: 'arr_f32'; v: number[] };

export interface TensorSpec {
  name: string;
  dims: number[];
  /** 0 = F32, 1 = F16, 8 = Q8_0 (block 32, 34 bytes). */
  type?: 0 | 1 | 8;
}

const TYPE_ID = { u32: 4, f32: 6, bool: 7, str: 8, arr: 9 } as const;

function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([len, bytes]);
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function i32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}
function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
function f32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(n);
  return b;
}

function value(v: KvValue): Buffer {
  switch (v.t) {
    case 'u32': return Buffer.concat([u32(TYPE_ID.u32), u32(v.v)]);
    case 'f32': return Buffer.concat([u32(TYPE_ID.f32), f32(v.v)]);
    case 'bool': return Buffer.concat([u32(TYPE_ID.bool), Buffer.from([v.v ? 1 : 0])]);
    case 'str': return Buffer.concat([u32(TYPE_ID.str), str(v.v)]);
    case 'arr_i32': return Buffer.concat([u32(TYPE_ID.arr), u32(5), u64(v.v.length), ...v.v.map(i32)]);
    case 'arr_f32': return Buffer.concat([u32(TYPE_ID.arr), u32(6), u64(v.v.length), ...v.v.map(f32)]);
    case 'arr_str': return Buffer.concat([u32(TYPE_ID.arr), u32(8), u64(v.v.length), ...v.v.map(str)]);
  }
}

function tensorBytes(t: TensorSpec): number {
  const n = t.dims.reduce((a, b) => a * b, 1);
  switch (t.type ?? 0) {
    case 0: return n * 4;
    case 1: return n * 2;
    case 8: return (n / 32) * 34;
  }
}

export function ggufBytes(kv: Record<string, KvValue>, tensors: TensorSpec[], alignment = 32): Buffer {
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1'), u32(3), u64(tensors.length), u64(Object.keys(kv).length)];
  for (const [k, v] of Object.entries(kv)) parts.push(str(k), value(v));
  let offset = 0;
  const pad = (n: number) => Math.ceil(n / alignment) * alignment;
  for (const t of tensors) {
    parts.push(str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type ?? 0), u64(offset));
    offset += pad(tensorBytes(t));
  }
  const head = Buffer.concat(parts);
  const dataStart = pad(head.length);
  return Buffer.concat([head, Buffer.alloc(dataStart - head.length), Buffer.alloc(offset)]);
}

export function writeGguf(path: string, kv: Record<string, KvValue>, tensors: TensorSpec[]): void {
  writeFileSync(path, ggufBytes(kv, tensors));
}

/** Metadata and tensors of a tiny qwen2vl text model (hidden `embd`, `layers` blocks). */
export function tinyQwen2vlText(opts: { embd?: number; layers?: number; heads?: number; kvHeads?: number; ctx?: number; name?: string; fileType?: number } = {}) {
  const embd = opts.embd ?? 64;
  const layers = opts.layers ?? 2;
  const heads = opts.heads ?? 4;
  const kvHeads = opts.kvHeads ?? 2;
  const kv: Record<string, KvValue> = {
    'general.architecture': { t: 'str', v: 'qwen2vl' },
    'general.type': { t: 'str', v: 'model' },
    'general.name': { t: 'str', v: opts.name ?? 'Tiny VL' },
    'general.file_type': { t: 'u32', v: opts.fileType ?? 1 },
    'qwen2vl.block_count': { t: 'u32', v: layers },
    'qwen2vl.context_length': { t: 'u32', v: opts.ctx ?? 32768 },
    'qwen2vl.embedding_length': { t: 'u32', v: embd },
    'qwen2vl.feed_forward_length': { t: 'u32', v: embd * 2 },
    'qwen2vl.attention.head_count': { t: 'u32', v: heads },
    'qwen2vl.attention.head_count_kv': { t: 'u32', v: kvHeads },
    'qwen2vl.rope.dimension_sections': { t: 'arr_i32', v: [2, 3, 3, 0] },
    'tokenizer.ggml.tokens': { t: 'arr_str', v: ['a', 'b', 'c'] },
  };
  const tensors: TensorSpec[] = [{ name: 'token_embd.weight', dims: [embd, 100], type: 1 }];
  for (let i = 0; i < layers; i++) tensors.push({ name: `blk.${i}.attn_q.weight`, dims: [embd, embd], type: 1 });
  return { kv, tensors };
}

/** Metadata and tensors of a tiny Qwen2.5-VL mmproj whose projection width is `projectionDim`. */
export function tinyMmproj(opts: { projectionDim?: number; projector?: string; fileType?: number } = {}) {
  const kv: Record<string, KvValue> = {
    'general.architecture': { t: 'str', v: 'clip' },
    'general.type': { t: 'str', v: 'mmproj' },
    'general.file_type': { t: 'u32', v: opts.fileType ?? 1 },
    'clip.projector_type': { t: 'str', v: opts.projector ?? 'qwen2.5vl_merger' },
    'clip.has_vision_encoder': { t: 'bool', v: true },
    'clip.vision.block_count': { t: 'u32', v: 2 },
    'clip.vision.embedding_length': { t: 'u32', v: 32 },
    'clip.vision.feed_forward_length': { t: 'u32', v: 64 },
    'clip.vision.attention.head_count': { t: 'u32', v: 2 },
    'clip.vision.patch_size': { t: 'u32', v: 14 },
    'clip.vision.projection_dim': { t: 'u32', v: opts.projectionDim ?? 64 },
    'clip.vision.image_mean': { t: 'arr_f32', v: [0.48, 0.45, 0.4] },
  };
  return { kv, tensors: [{ name: 'v.patch_embd.weight', dims: [14, 14, 3, 32], type: 1 as const }] };
}

/** Ollama's single-file qwen25vl layout (reference §D.1): text and vision in one file. */
export function tinyOllamaQwen25vl() {
  const embd = 64;
  const kv: Record<string, KvValue> = {
    'general.architecture': { t: 'str', v: 'qwen25vl' },
    'general.file_type': { t: 'u32', v: 15 },
    'qwen25vl.block_count': { t: 'u32', v: 2 },
    'qwen25vl.context_length': { t: 'u32', v: 128000 },
    'qwen25vl.embedding_length': { t: 'u32', v: embd },
    'qwen25vl.feed_forward_length': { t: 'u32', v: 128 },
    'qwen25vl.attention.head_count': { t: 'u32', v: 4 },
    'qwen25vl.attention.head_count_kv': { t: 'u32', v: 2 },
    'qwen25vl.rope.mrope_section': { t: 'arr_i32', v: [2, 3, 3] },
    'qwen25vl.vision.block_count': { t: 'u32', v: 2 },
    'qwen25vl.vision.embedding_length': { t: 'u32', v: 32 },
    'qwen25vl.vision.attention.head_count': { t: 'u32', v: 2 },
    'qwen25vl.vision.patch_size': { t: 'u32', v: 14 },
    'qwen25vl.vision.fullatt_block_indexes': { t: 'arr_i32', v: [1] },
  };
  const tensors: TensorSpec[] = [
    { name: 'token_embd.weight', dims: [embd, 100], type: 8 },
    { name: 'blk.0.attn_q.weight', dims: [embd, embd], type: 8 },
    { name: 'v.patch_embd_0.weight', dims: [14, 14, 3, 32], type: 1 },
    { name: 'v.blk.0.ffn_up.weight', dims: [32, 64], type: 1 },
    { name: 'v.merger.mlp.0.weight', dims: [128, 128], type: 1 },
  ];
  return { kv, tensors };
}
