// Streaming reader of Hugging Face .safetensors files: the JSON header is parsed and checked
// against the file size up front, then each tensor's bytes are read with positioned reads,
// a range of rows at a time. Nothing holds a whole checkpoint (or a whole big tensor) in memory.
//
// Layout: u64 little-endian header length N, N bytes of JSON
//   { "<name>": { "dtype": "BF16", "shape": [rows, cols], "data_offsets": [begin, end] }, "__metadata__": {...} }
// then the data section; offsets are relative to its start (byte 8 + N).
import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { ConvertError, fail } from './errors.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

const DTYPE_SIZES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

/** Header JSON larger than this is not a real checkpoint (the reference implementation caps it at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  /** PyTorch order: slowest dimension first. */
  shape: number[];
  /** Absolute byte offsets of the tensor's data in the file. */
  begin: number;
  end: number;
  /** The file holding it (for messages and for the shard it belongs to). */
  file: SafetensorsFile;
}

export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZES[dtype];
}

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function malformed(path: string, what: string): never {
  fail('SAFETENSORS_MALFORMED', `${basename(path)}: ${what}`);
}

export class SafetensorsFile {
  readonly path: string;
  readonly entries: SafetensorsEntry[] = [];
  readonly metadata: Record<string, string> = {};
  private handle: FileHandle | null;

  private constructor(path: string, handle: FileHandle) {
    this.path = path;
    this.handle = handle;
  }

  /** Opens the file and validates its header; throws SAFETENSORS_MALFORMED on any inconsistency. */
  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new ConvertError('FILE_IO', `cannot open ${path}: ${(error as Error).message}`, { cause: error });
    }
    const file = new SafetensorsFile(path, handle);
    try {
      await file.readHeader();
    } catch (error) {
      await handle.close();
      throw error;
    }
    return file;
  }

  private async readHeader(): Promise<void> {
    const handle = this.requireOpen();
    const { size } = await handle.stat();
    if (size < 8) malformed(this.path, `the file is ${size} bytes long, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    await this.readExactly(lenBuf, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen < 2n || headerLen > BigInt(MAX_HEADER_BYTES))
      malformed(this.path, `header length ${headerLen} is not plausible (is this a safetensors file?)`);
    const n = Number(headerLen);
    if (8 + n > size) malformed(this.path, `the header claims ${n} bytes but the file has only ${size - 8} after the length field (truncated?)`);
    const headerBuf = Buffer.alloc(n);
    await this.readExactly(headerBuf, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (error) {
      malformed(this.path, `the header is not valid JSON (${(error as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      malformed(this.path, 'the header is not a JSON object');
    const dataStart = 8 + n;
    const dataLen = size - dataStart;
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') this.metadata[k] = v;
        continue;
      }
      const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof info !== 'object' || info === null) malformed(this.path, `tensor '${name}': entry is not an object`);
      if (typeof info.dtype !== 'string' || !(info.dtype in DTYPE_SIZES))
        malformed(this.path, `tensor '${name}': unknown dtype ${JSON.stringify(info.dtype)}`);
      const dtype = info.dtype as SafetensorsDtype;
      if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        malformed(this.path, `tensor '${name}': shape ${JSON.stringify(info.shape)} is not a list of sizes`);
      const shape = info.shape as number[];
      const offs = info.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1])
        malformed(this.path, `tensor '${name}': data_offsets ${JSON.stringify(offs)} are not [begin, end]`);
      const [b, e] = offs as [number, number];
      const want = elementCount(shape) * DTYPE_SIZES[dtype];
      if (e - b !== want)
        malformed(this.path, `tensor '${name}': ${e - b} bytes of data for shape [${shape.join(', ')}] ${dtype}, which needs ${want}`);
      if (e > dataLen)
        malformed(this.path, `tensor '${name}' ends at byte ${dataStart + e} but the file is ${size} bytes long (truncated download?)`);
      this.entries.push({ name, dtype, shape, begin: dataStart + b, end: dataStart + e, file: this });
    }
    // Overlapping tensors mean a corrupted header.
    const sorted = [...this.entries].sort((x, y) => x.begin - y.begin);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!, cur = sorted[i]!;
      if (cur.begin < prev.end && cur.end > cur.begin)
        malformed(this.path, `tensors '${prev.name}' and '${cur.name}' overlap`);
    }
  }

  private requireOpen(): FileHandle {
    if (!this.handle) throw new ConvertError('FILE_IO', `${this.path} is closed`);
    return this.handle;
  }

  private async readExactly(buf: Uint8Array, position: number): Promise<void> {
    const handle = this.requireOpen();
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
      if (bytesRead === 0) malformed(this.path, `unexpected end of file at byte ${position + done}`);
      done += bytesRead;
    }
  }

  /**
   * Bytes of `count` consecutive rows of a tensor, starting at row `first`, where a row is the
   * last (fastest) dimension. Returned in a fresh, 8-byte-aligned buffer.
   */
  async readRows(entry: SafetensorsEntry, first: number, count: number): Promise<Uint8Array> {
    const rowBytes = rowLength(entry) * DTYPE_SIZES[entry.dtype];
    const rows = rowCount(entry);
    if (first < 0 || count < 0 || first + count > rows)
      throw new ConvertError('INVALID_ARGUMENT', `rows ${first}..${first + count} of '${entry.name}' (it has ${rows})`);
    const out = new Uint8Array(new ArrayBuffer(count * rowBytes));
    await this.readExactly(out, entry.begin + first * rowBytes);
    return out;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle) await handle.close();
  }
}

/** Elements per row (the last dimension; 1 for a scalar). */
export function rowLength(entry: { shape: readonly number[] }): number {
  return entry.shape.length === 0 ? 1 : entry.shape[entry.shape.length - 1]!;
}

export function rowCount(entry: { shape: readonly number[] }): number {
  const len = rowLength(entry);
  return len === 0 ? 0 : elementCount(entry.shape) / len;
}
