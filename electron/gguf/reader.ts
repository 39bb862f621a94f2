// A GGUF metadata reader in plain Node: the header, every metadata key/value and every tensor's
// name/type/shape/offset — never the tensor data, so a 20 GB file costs a few megabytes of
// reads. Model files come from anywhere (downloads, other apps' folders), so every count,
// length and offset is checked against the bytes that are actually there before it is used:
// a hostile or truncated file gives a GgufError with a code, never a crash, a hang or a
// multi-gigabyte allocation.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ggmlType, type GgmlTypeInfo } from './ggml-types.js';

export type GgufErrorCode = 'GGUF_MALFORMED' | 'GGUF_UNSUPPORTED' | 'FILE_IO';

export class GgufError extends Error {
  constructor(readonly code: GgufErrorCode, message: string, readonly offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'GgufError';
  }
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;
const MAX_KEY_BYTES = 65_535;
const MAX_NESTING = 8;

export type GgufValueTypeName = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'array' | 'u64' | 'i64' | 'f64';
const valueTypeNames: GgufValueTypeName[] = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'];
/** Bytes of one item of each fixed-size type (strings: the 8-byte length at least; arrays: type + count). */
const minItemBytes = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

/** A GGUF array. Numeric items come as typed arrays (u64/i64 as numbers, bigint when not exact). */
export interface GgufArray {
  readonly kind: 'array';
  readonly itemType: GgufValueTypeName;
  /** The length stored in the file. */
  readonly length: number;
  /** At most `maxArrayItems` items; `truncated` says whether the file holds more. */
  readonly items:
    | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array
    | Array<number | bigint> | boolean[] | string[] | GgufArray[];
  readonly truncated: boolean;
}

export type GgufValue = number | bigint | boolean | string | GgufArray;

export interface GgufTensorInfo {
  name: string;
  typeId: number;
  type: GgmlTypeInfo;
  /** ggml order: dims[0] varies fastest (the reverse of PyTorch's shape). */
  dims: number[];
  elements: number;
  /** Absolute byte offset of the data in the file. */
  offset: number;
  bytes: number;
}

export interface GgufInfo {
  version: number;
  fileSize: number;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  /** Keys in file order (a Map, so a key such as "__proto__" is just a key). */
  metadata: Map<string, GgufValue>;
  /** The stored type of each key. */
  metadataTypes: Map<string, GgufValueTypeName>;
  tensors: GgufTensorInfo[];
}

export interface ReadOptions {
  /**
   * Items kept per array (the rest are skipped, `truncated: true`). Default: all. The model
   * registry passes a small number: a vocabulary's 150k strings are not needed to list a file.
   */
  maxArrayItems?: number;
  /** Longest string accepted, in bytes (default 64 MiB; chat templates and tokens are far smaller). */
  maxStringBytes?: number;
}

/** Where the bytes come from: a file descriptor, or a buffer (tests). */
export interface ByteSource {
  readonly size: number;
  /** Reads up to `length` bytes at `position` into `target` at `offset`; returns the bytes read. */
  read(target: Uint8Array, offset: number, length: number, position: number): number;
}

export function bufferSource(buffer: Uint8Array): ByteSource {
  return {
    size: buffer.length,
    read(target, offset, length, position) {
      const n = Math.max(0, Math.min(length, buffer.length - position));
      target.set(buffer.subarray(position, position + n), offset);
      return n;
    },
  };
}

const WINDOW = 1 << 20;

/** Sequential reads through a 1 MiB window; every read is checked against the source's size. */
class Cursor {
  pos = 0;
  private window = Buffer.alloc(0);
  private windowStart = 0;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false });

  constructor(private readonly source: ByteSource) {}

  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Makes `n` bytes at `pos` available in the window and returns their offset in it. */
  private ensure(n: number, what: string): number {
    if (n > this.remaining) throw new GgufError('GGUF_MALFORMED', `the file ends inside ${what}: ${n} bytes needed, ${this.remaining} left`, this.pos);
    const start = this.pos - this.windowStart;
    if (start >= 0 && start + n <= this.window.length) return start;
    const size = Math.min(Math.max(n, WINDOW), this.remaining);
    const buffer = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const k = this.source.read(buffer, got, size - got, this.pos + got);
      if (k <= 0) throw new GgufError('FILE_IO', `short read: the file shrank while it was read`, this.pos + got);
      got += k;
    }
    this.window = buffer;
    this.windowStart = this.pos;
    return 0;
  }

  u8(what: string): number {
    const at = this.ensure(1, what);
    this.pos += 1;
    return this.window[at]!;
  }
  u32(what: string): number {
    const at = this.ensure(4, what);
    this.pos += 4;
    return this.window.readUInt32LE(at);
  }
  /** A u64 that must fit in a JS number exactly (counts, lengths, offsets). */
  u64(what: string): number {
    const at = this.ensure(8, what);
    const v = this.window.readBigUInt64LE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError('GGUF_MALFORMED', `${what} is implausibly large (${v})`, this.pos);
    this.pos += 8;
    return Number(v);
  }
  /** Bytes viewed in place (valid until the next read). */
  bytes(n: number, what: string): Buffer {
    const at = this.ensure(n, what);
    this.pos += n;
    return this.window.subarray(at, at + n);
  }
  skip(n: number, what: string): void {
    if (n > this.remaining) throw new GgufError('GGUF_MALFORMED', `the file ends inside ${what}`, this.pos);
    this.pos += n;
  }
  string(what: string, maxBytes: number): string {
    const length = this.u64(`the length of ${what}`);
    if (length > maxBytes) throw new GgufError('GGUF_UNSUPPORTED', `${what} is ${length} bytes long (more than ${maxBytes})`, this.pos - 8);
    return this.utf8.decode(this.bytes(length, what));
  }
  skipString(what: string): void {
    this.skip(this.u64(`the length of ${what}`), what);
  }
}

function valueTypeOf(id: number, cursor: Cursor, what: string): GgufValueTypeName {
  const name = valueTypeNames[id];
  if (!name) throw new GgufError('GGUF_MALFORMED', `${what} has an unknown value type ${id}`, cursor.pos - 4);
  return name;
}

function exactInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readScalar(cursor: Cursor, type: GgufValueTypeName, what: string, opts: Required<ReadOptions>): number | bigint | boolean | string {
  switch (type) {
    case 'u8': return cursor.bytes(1, what).readUInt8(0);
    case 'i8': return cursor.bytes(1, what).readInt8(0);
    case 'u16': return cursor.bytes(2, what).readUInt16LE(0);
    case 'i16': return cursor.bytes(2, what).readInt16LE(0);
    case 'u32': return cursor.bytes(4, what).readUInt32LE(0);
    case 'i32': return cursor.bytes(4, what).readInt32LE(0);
    case 'f32': return cursor.bytes(4, what).readFloatLE(0);
    case 'f64': return cursor.bytes(8, what).readDoubleLE(0);
    case 'u64': return exactInteger(cursor.bytes(8, what).readBigUInt64LE(0));
    case 'i64': return exactInteger(cursor.bytes(8, what).readBigInt64LE(0));
    case 'bool': {
      const b = cursor.u8(what);
      if (b > 1) throw new GgufError('GGUF_MALFORMED', `${what}: a bool holds ${b}`, cursor.pos - 1);
      return b === 1;
    }
    case 'string': return cursor.string(what, opts.maxStringBytes);
    case 'array': throw new Error('unreachable');
  }
}

const typedArrayOf: Partial<Record<GgufValueTypeName, { bytes: number; make: (n: number) => GgufArray['items'] & { [i: number]: number }; get: (b: Buffer, at: number) => number }>> = {
  u8: { bytes: 1, make: (n) => new Uint8Array(n), get: (b, at) => b.readUInt8(at) },
  i8: { bytes: 1, make: (n) => new Int8Array(n), get: (b, at) => b.readInt8(at) },
  u16: { bytes: 2, make: (n) => new Uint16Array(n), get: (b, at) => b.readUInt16LE(at) },
  i16: { bytes: 2, make: (n) => new Int16Array(n), get: (b, at) => b.readInt16LE(at) },
  u32: { bytes: 4, make: (n) => new Uint32Array(n), get: (b, at) => b.readUInt32LE(at) },
  i32: { bytes: 4, make: (n) => new Int32Array(n), get: (b, at) => b.readInt32LE(at) },
  f32: { bytes: 4, make: (n) => new Float32Array(n), get: (b, at) => b.readFloatLE(at) },
  f64: { bytes: 8, make: (n) => new Float64Array(n), get: (b, at) => b.readDoubleLE(at) },
};

function readArray(cursor: Cursor, what: string, opts: Required<ReadOptions>, depth: number): GgufArray {
  if (depth > MAX_NESTING) throw new GgufError('GGUF_UNSUPPORTED', `${what}: arrays nested deeper than ${MAX_NESTING}`, cursor.pos);
  const itemType = valueTypeOf(cursor.u32(`the item type of ${what}`), cursor, what);
  const length = cursor.u64(`the length of ${what}`);
  // Each item takes at least minItemBytes: a count the rest of the file cannot hold is a lie.
  if (length * minItemBytes[valueTypeNames.indexOf(itemType)]! > cursor.remaining) {
    throw new GgufError('GGUF_MALFORMED', `${what} claims ${length} items of type ${itemType}, more than the file holds`, cursor.pos - 8);
  }
  const keep = Math.min(length, opts.maxArrayItems);
  const fixed = typedArrayOf[itemType];
  if (fixed) {
    const items = fixed.make(keep);
    // Read in slices so a large array never needs a window larger than 1 MiB.
    const perSlice = Math.max(1, Math.floor(WINDOW / fixed.bytes));
    for (let i = 0; i < keep; i += perSlice) {
      const n = Math.min(perSlice, keep - i);
      const b = cursor.bytes(n * fixed.bytes, what);
      for (let j = 0; j < n; j++) items[i + j] = fixed.get(b, j * fixed.bytes);
    }
    cursor.skip((length - keep) * fixed.bytes, what);
    return { kind: 'array', itemType, length, items, truncated: keep < length };
  }
  const items: Array<number | bigint | boolean | string | GgufArray> = [];
  for (let i = 0; i < length; i++) {
    const itemWhat = `${what}[${i}]`;
    if (i >= keep) {
      if (itemType === 'string') cursor.skipString(itemWhat);
      else if (itemType === 'array') readArray(cursor, itemWhat, { ...opts, maxArrayItems: 0 }, depth + 1);
      else cursor.skip(minItemBytes[valueTypeNames.indexOf(itemType)]!, itemWhat);
      continue;
    }
    items.push(itemType === 'array' ? readArray(cursor, itemWhat, opts, depth + 1) : readScalar(cursor, itemType, itemWhat, opts));
  }
  return { kind: 'array', itemType, length, items: items as GgufArray['items'], truncated: keep < length };
}

/** Parses the GGUF header, metadata and tensor infos from a byte source. */
export function readGgufFromSource(source: ByteSource, options: ReadOptions = {}): GgufInfo {
  const opts: Required<ReadOptions> = {
    maxArrayItems: options.maxArrayItems ?? Number.MAX_SAFE_INTEGER,
    maxStringBytes: options.maxStringBytes ?? 64 << 20,
  };
  if (!(opts.maxArrayItems >= 0)) throw new RangeError('maxArrayItems must be >= 0');
  const cursor = new Cursor(source);
  if (source.size < 4 || cursor.u32('the magic') !== GGUF_MAGIC) throw new GgufError('GGUF_MALFORMED', 'not a GGUF file (the magic is not "GGUF")', 0);
  const version = cursor.u32('the version');
  if (version !== 2 && version !== 3) {
    const hint = version > 0xffff ? ' (a big-endian file?)' : '';
    throw new GgufError('GGUF_UNSUPPORTED', `GGUF version ${version} is not supported (2 and 3 are)${hint}`, 4);
  }
  const tensorCount = cursor.u64('the tensor count');
  const kvCount = cursor.u64('the metadata count');
  // Smallest possible entries: a key/value is 8 (key length) + 1 + 4 (type) + 1 bytes, a tensor info 8+1+4+8+4+8.
  if (kvCount * 14 > cursor.remaining) throw new GgufError('GGUF_MALFORMED', `the header claims ${kvCount} metadata entries, more than the file can hold`, 16);
  if (tensorCount * 33 > cursor.remaining) throw new GgufError('GGUF_MALFORMED', `the header claims ${tensorCount} tensors, more than the file can hold`, 8);

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueTypeName>();
  for (let i = 0; i < kvCount; i++) {
    const keyAt = cursor.pos;
    const key = cursor.string(`metadata key #${i}`, MAX_KEY_BYTES);
    if (key.length === 0) throw new GgufError('GGUF_MALFORMED', `metadata key #${i} is empty`, keyAt);
    if (metadata.has(key)) throw new GgufError('GGUF_MALFORMED', `metadata key "${key}" appears twice`, keyAt);
    const type = valueTypeOf(cursor.u32(`the type of "${key}"`), cursor, `"${key}"`);
    const value = type === 'array' ? readArray(cursor, `"${key}"`, opts, 1) : readScalar(cursor, type, `"${key}"`, opts);
    metadata.set(key, value);
    metadataTypes.set(key, type);
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has('general.alignment')) {
    const a = metadata.get('general.alignment');
    if (metadataTypes.get('general.alignment') !== 'u32' || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
      throw new GgufError('GGUF_MALFORMED', `general.alignment must be a power-of-two u32, not ${String(a)}`);
    }
    alignment = a;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = cursor.pos;
    const name = cursor.string(`the name of tensor #${i}`, MAX_KEY_BYTES);
    if (names.has(name)) throw new GgufError('GGUF_MALFORMED', `tensor "${name}" appears twice`, at);
    names.add(name);
    const nDims = cursor.u32(`the dimension count of "${name}"`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new GgufError('GGUF_MALFORMED', `tensor "${name}" has ${nDims} dimensions (1..${MAX_DIMS} allowed)`, cursor.pos - 4);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const n = cursor.u64(`dimension ${d} of "${name}"`);
      dims.push(n);
      elements *= n;
      if (elements > Number.MAX_SAFE_INTEGER) throw new GgufError('GGUF_MALFORMED', `tensor "${name}" has too many elements`, cursor.pos - 8);
    }
    const typeId = cursor.u32(`the type of "${name}"`);
    const type = ggmlType(typeId);
    if (!type) throw new GgufError('GGUF_UNSUPPORTED', `tensor "${name}" has an unknown ggml type id ${typeId}`, cursor.pos - 4);
    if (dims[0]! % type.blockSize !== 0) {
      throw new GgufError('GGUF_MALFORMED', `tensor "${name}": its row of ${dims[0]} is not a multiple of the ${type.name} block of ${type.blockSize}`, at);
    }
    const relative = cursor.u64(`the offset of "${name}"`);
    if (relative % alignment !== 0) throw new GgufError('GGUF_MALFORMED', `tensor "${name}" is not aligned to ${alignment} bytes`, cursor.pos - 8);
    tensors.push({ name, typeId, type, dims, elements, offset: relative, bytes: (elements / type.blockSize) * type.typeSize });
  }

  const dataOffset = Math.ceil(cursor.pos / alignment) * alignment;
  for (const t of tensors) {
    t.offset += dataOffset;
    if (t.offset + t.bytes > source.size) {
      throw new GgufError('GGUF_MALFORMED', `tensor "${t.name}" (${t.bytes} bytes at ${t.offset}) runs past the end of the file (${source.size} bytes)`);
    }
  }
  return { version, fileSize: source.size, alignment, dataOffset, metadata, metadataTypes, tensors };
}

/** Reads a GGUF file's metadata and tensor infos (synchronously; a few MB of reads at most). */
export function readGgufInfoSync(path: string, options: ReadOptions = {}): GgufInfo {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new GgufError('FILE_IO', `cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    return readGgufFromSource({ size, read: (target, offset, length, position) => readSync(fd, target, offset, length, position) }, options);
  } catch (error) {
    if (error instanceof GgufError || error instanceof RangeError) throw error;
    throw new GgufError('FILE_IO', `cannot read ${path}: ${(error as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a GGUF file's metadata and tensor infos. The reads are synchronous underneath (they are
 * small and sequential); the promise lets callers schedule it like other I/O.
 */
export async function readGgufInfo(path: string, options: ReadOptions = {}): Promise<GgufInfo> {
  return readGgufInfoSync(path, options);
}
