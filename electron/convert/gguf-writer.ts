// GGUF v3 writer, laid out as llama.cpp's gguf-py GGUFWriter does: little-endian, magic
// "GGUF", version 3, tensor count, KV count, the KVs in insertion order, the tensor infos in
// insertion order, zero padding to the alignment (32), then each tensor's data padded with
// zeros to a multiple of the alignment. The header is built in memory (it is small); tensor
// data is written by the caller, a chunk at a time, at positions this class computes.
import { open, type FileHandle } from 'node:fs/promises';
import { ConvertError } from './errors.js';

export const GGUF_ALIGNMENT = 32;

export type GgufScalarType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';

const TYPE_IDS: Record<GgufScalarType | 'array', number> = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
};

export type GgufValue =
  | { type: Exclude<GgufScalarType, 'string' | 'bool'>; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; elem: Exclude<GgufScalarType, 'string' | 'bool'>; value: readonly number[] }
  | { type: 'array'; elem: 'string'; value: readonly string[] }
  | { type: 'array'; elem: 'bool'; value: readonly boolean[] };

export interface GgufKv {
  key: string;
  value: GgufValue;
}

/** Ordered key/value metadata with llama.cpp's semantics for re-setting a key. */
export class GgufMetadata {
  private readonly kvs: GgufKv[] = [];

  /** Adds a key; a duplicate is a bug (GGUF readers reject duplicate keys). */
  add(key: string, value: GgufValue): void {
    if (this.kvs.some((kv) => kv.key === key)) throw new ConvertError('INVALID_ARGUMENT', `duplicate GGUF key ${key}`);
    this.kvs.push({ key, value });
  }

  /** gguf_set_val_*: removes the key if present and appends it (llama-quantize's behaviour). */
  set(key: string, value: GgufValue): void {
    this.remove(key);
    this.kvs.push({ key, value });
  }

  remove(key: string): void {
    const i = this.kvs.findIndex((kv) => kv.key === key);
    if (i >= 0) this.kvs.splice(i, 1);
  }

  get(key: string): GgufValue | undefined {
    return this.kvs.find((kv) => kv.key === key)?.value;
  }

  entries(): readonly GgufKv[] {
    return this.kvs;
  }
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the fastest (row) dimension. */
  ne: number[];
  /** ggml type id. */
  type: number;
  /** Bytes of data (before padding). */
  nbytes: number;
}

/** Growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void { this.ensure(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  i8(v: number): void { this.ensure(1); this.buf.writeInt8(v, this.length); this.length += 1; }
  u16(v: number): void { this.ensure(2); this.buf.writeUInt16LE(v, this.length); this.length += 2; }
  i16(v: number): void { this.ensure(2); this.buf.writeInt16LE(v, this.length); this.length += 2; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.length); this.length += 4; }
  i32(v: number): void { this.ensure(4); this.buf.writeInt32LE(v, this.length); this.length += 4; }
  f32(v: number): void { this.ensure(4); this.buf.writeFloatLE(v, this.length); this.length += 4; }
  f64(v: number): void { this.ensure(8); this.buf.writeDoubleLE(v, this.length); this.length += 8; }
  u64(v: number | bigint): void { this.ensure(8); this.buf.writeBigUInt64LE(BigInt(v), this.length); this.length += 8; }
  i64(v: number | bigint): void { this.ensure(8); this.buf.writeBigInt64LE(BigInt(v), this.length); this.length += 8; }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  zeros(n: number): void { this.ensure(n); this.buf.fill(0, this.length, this.length + n); this.length += n; }
  result(): Buffer { return this.buf.subarray(0, this.length); }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, v: number | boolean | string): void {
  switch (type) {
    case 'u8': w.u8(v as number); break;
    case 'i8': w.i8(v as number); break;
    case 'u16': w.u16(v as number); break;
    case 'i16': w.i16(v as number); break;
    case 'u32': w.u32(v as number); break;
    case 'i32': w.i32(v as number); break;
    case 'f32': w.f32(v as number); break;
    case 'bool': w.u8(v ? 1 : 0); break;
    case 'string': w.string(v as string); break;
    case 'u64': w.u64(v as number); break;
    case 'i64': w.i64(v as number); break;
    case 'f64': w.f64(v as number); break;
  }
}

export function padTo(n: number, alignment = GGUF_ALIGNMENT): number {
  return Math.ceil(n / alignment) * alignment;
}

export interface GgufLayout {
  /** Header bytes, already padded to the alignment: the data section starts right after. */
  header: Buffer;
  /** Absolute file offset of each tensor's data. */
  offsets: number[];
  fileSize: number;
}

export function encodeGguf(metadata: GgufMetadata, tensors: readonly GgufTensorInfo[], alignment = GGUF_ALIGNMENT): GgufLayout {
  const w = new ByteWriter();
  w.u32(0x46554747); // "GGUF"
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.entries().length);
  for (const { key, value } of metadata.entries()) {
    w.string(key);
    w.u32(TYPE_IDS[value.type]);
    if (value.type === 'array') {
      w.u32(TYPE_IDS[value.elem]);
      w.u64(value.value.length);
      for (const v of value.value) writeScalar(w, value.elem, v);
    } else {
      writeScalar(w, value.type, value.value);
    }
  }
  const relOffsets: number[] = [];
  let rel = 0;
  for (const t of tensors) {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(d);
    w.u32(t.type);
    w.u64(rel);
    relOffsets.push(rel);
    rel += padTo(t.nbytes, alignment);
  }
  w.zeros(padTo(w.length, alignment) - w.length);
  const header = w.result();
  return { header, offsets: relOffsets.map((r) => header.length + r), fileSize: header.length + rel };
}

/** The output file: header first, tensor data at the layout's offsets, padding at the end. */
export class GgufFileWriter {
  private constructor(readonly path: string, private handle: FileHandle | null, readonly layout: GgufLayout) {}

  static async create(path: string, layout: GgufLayout): Promise<GgufFileWriter> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'w');
      await writeAll(handle, layout.header, 0);
      // reserve the whole file: the padding between tensors is then zeros without writing it
      await handle.truncate(layout.fileSize);
    } catch (error) {
      throw new ConvertError('FILE_IO', `cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
    return new GgufFileWriter(path, handle, layout);
  }

  async write(tensorIndex: number, byteOffset: number, data: Uint8Array): Promise<void> {
    if (!this.handle) throw new ConvertError('FILE_IO', `${this.path} is closed`);
    try {
      await writeAll(this.handle, data, this.layout.offsets[tensorIndex]! + byteOffset);
    } catch (error) {
      throw new ConvertError('FILE_IO', `cannot write ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) {
      await h.sync();
      await h.close();
    }
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
