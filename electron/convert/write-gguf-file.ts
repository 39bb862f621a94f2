// Writes one GGUF file: the header from the metadata and the tensors' final types, then
// every tensor's data, produced a chunk of rows at a time (read → float32 → quantise →
// positioned write) with a few chunks in flight, so memory stays at a few chunk sizes
// whatever the checkpoint size.
import { rename, rm } from 'node:fs/promises';
import { ConvertError } from './errors.js';
import { encodeGguf, GgufFileWriter, type GgufMetadata, type GgufTensorInfo } from './gguf-writer.js';
import type { Quantizer } from './quantizer.js';
import type { PlannedTensor } from './tensor-plan.js';
import { GGML, TYPE_NAME, tensorBytes } from './type-mix.js';

export interface TypedPlannedTensor extends PlannedTensor {
  type: number;
}

export interface FileProgress {
  tensorIndex: number;
  tensorCount: number;
  tensorName: string;
  typeName: string;
  /** Source bytes converted so far in this file, and in total. */
  bytesDone: number;
  bytesTotal: number;
}

export interface WriteOptions {
  quantizer: Quantizer | null;
  /** Float32 elements per chunk (rounded to whole rows). */
  chunkElements?: number;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: FileProgress) => void;
}

const DEFAULT_CHUNK_ELEMENTS = 8 * 1024 * 1024; // 32 MB of float32

/** Runs `jobs` with at most `limit` in flight; rejects on the first failure. */
async function pool(jobs: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const worker = async () => {
    while (failed === null && next < jobs.length) {
      const job = jobs[next++]!;
      try { await job(); } catch (error) { failed ??= error; }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failed !== null) throw failed;
}

export async function writeGgufFile(path: string, metadata: GgufMetadata, tensors: readonly TypedPlannedTensor[], opts: WriteOptions): Promise<void> {
  const infos: GgufTensorInfo[] = tensors.map((t) => ({ name: t.name, ne: t.ne, type: t.type, nbytes: tensorBytes(t.type, t.ne) }));
  const layout = encodeGguf(metadata, infos);
  const tmp = `${path}.partial`;
  const writer = await GgufFileWriter.create(tmp, layout);
  const bytesTotal = tensors.reduce((a, t) => a + t.sourceBytes, 0);
  let bytesDone = 0;
  try {
    for (let ti = 0; ti < tensors.length; ti++) {
      const t = tensors[ti]!;
      const typeName = TYPE_NAME[t.type]!;
      opts.onProgress?.({ tensorIndex: ti, tensorCount: tensors.length, tensorName: t.name, typeName, bytesDone, bytesTotal });
      const rowLen = t.ne[0]!;
      const rowBytes = tensorBytes(t.type, [rowLen]);
      const rowsPerChunk = Math.max(1, Math.floor((opts.chunkElements ?? DEFAULT_CHUNK_ELEMENTS) / rowLen));
      const jobs: Array<() => Promise<void>> = [];
      for (let first = 0; first < t.rows; first += rowsPerChunk) {
        const count = Math.min(rowsPerChunk, t.rows - first);
        jobs.push(async () => {
          if (opts.signal?.aborted) throw new ConvertError('CANCELLED', 'the conversion was cancelled');
          const f32 = await t.read(first, count);
          if (f32.length !== count * rowLen)
            throw new ConvertError('SAFETENSORS_MALFORMED', `${t.source}: got ${f32.length} values for ${count} rows of ${rowLen}`);
          let bytes: Uint8Array;
          if (t.type === GGML.F32) bytes = new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength);
          else {
            if (!opts.quantizer) throw new ConvertError('ADDON_MISSING', `${t.name}: ${typeName} output needs the native quantiser`);
            bytes = await opts.quantizer.quantize(typeName, f32, rowLen);
          }
          if (bytes.length !== count * rowBytes)
            throw new ConvertError('QUANTIZE_FAILED', `${t.name}: the quantiser returned ${bytes.length} bytes for ${count} rows of ${rowBytes}`);
          await writer.write(ti, first * rowBytes, bytes);
          bytesDone += t.sourceBytes * (count / t.rows);
        });
      }
      await pool(jobs, opts.concurrency ?? 3);
    }
    opts.onProgress?.({ tensorIndex: tensors.length, tensorCount: tensors.length, tensorName: '', typeName: '', bytesDone: bytesTotal, bytesTotal });
    await writer.close();
    await rename(tmp, path);
  } catch (error) {
    await writer.close().catch(() => {});
    await rm(tmp, { force: true }).catch(() => {});
    throw error;
  }
}
