// A Hugging Face checkpoint folder's weights: one model.safetensors or several shards
// (model-00001-of-00004.safetensors …, listed by model.safetensors.index.json).
// Tensor order is llama.cpp's: shard files by sorted name, and within each file the tensor
// names sorted (what safetensors' safe_open().keys() returns), which is the order
// convert_hf_to_gguf.py writes them in.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConvertError, fail } from './errors.js';
import { SafetensorsFile, type SafetensorsEntry } from './safetensors.js';

const INDEX_NAME = 'model.safetensors.index.json';

export class Checkpoint {
  readonly dir: string;
  readonly files: SafetensorsFile[];
  /** Every tensor, in conversion order. */
  readonly tensors: SafetensorsEntry[];
  private readonly byName: Map<string, SafetensorsEntry>;

  private constructor(dir: string, files: SafetensorsFile[]) {
    this.dir = dir;
    this.files = files;
    this.tensors = [];
    this.byName = new Map();
    for (const f of files) {
      const names = f.entries.map((e) => e.name).sort(compareCodePoints);
      for (const name of names) {
        if (this.byName.has(name))
          fail('SAFETENSORS_MALFORMED', `tensor '${name}' appears in more than one shard (${this.byName.get(name)!.file.path}, ${f.path})`);
        const entry = f.entries.find((e) => e.name === name)!;
        this.byName.set(name, entry);
        this.tensors.push(entry);
      }
    }
  }

  static async open(dir: string): Promise<Checkpoint> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      throw new ConvertError('CHECKPOINT_MISSING', `cannot read the checkpoint folder ${dir}: ${(error as Error).message}`, { cause: error });
    }
    const parts = names.filter((n) => n.startsWith('model') && n.endsWith('.safetensors')).sort(compareCodePoints);
    if (parts.length === 0) {
      const other = names.filter((n) => n.endsWith('.bin') || n.endsWith('.pt') || n.endsWith('.pth'));
      fail('CHECKPOINT_MISSING', `no model*.safetensors file in ${dir}` +
        (other.length ? ` (found ${other.join(', ')}: PyTorch pickles are not converted; use the safetensors release)` : ''));
    }
    const files: SafetensorsFile[] = [];
    try {
      for (const p of parts) files.push(await SafetensorsFile.open(join(dir, p)));
      const checkpoint = new Checkpoint(dir, files);
      if (names.includes(INDEX_NAME)) await checkpoint.checkIndex(join(dir, INDEX_NAME));
      return checkpoint;
    } catch (error) {
      await Promise.all(files.map((f) => f.close()));
      throw error;
    }
  }

  /** The index must name exactly the tensors the shards hold (llama.cpp refuses a mismatch too). */
  private async checkIndex(path: string): Promise<void> {
    let index: unknown;
    try {
      index = JSON.parse(await readFile(path, 'utf8'));
    } catch (error) {
      throw new ConvertError('SAFETENSORS_MALFORMED', `${INDEX_NAME} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    const weightMap = (index as { weight_map?: unknown })?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap))
      fail('SAFETENSORS_MALFORMED', `${INDEX_NAME} has no "weight_map" object`);
    const wm = weightMap as Record<string, unknown>;
    const missing = Object.keys(wm).filter((n) => !this.byName.has(n)).sort(compareCodePoints);
    const extra = [...this.byName.keys()].filter((n) => !(n in wm)).sort(compareCodePoints);
    if (missing.length === 0 && extra.length === 0) return;
    const missingFiles = [...new Set(missing.map((n) => String(wm[n])))].sort(compareCodePoints);
    if (extra.length === 0 && missingFiles.length > 0)
      fail('SAFETENSORS_MALFORMED', `missing or incomplete shard files: ${missingFiles.join(', ')} ` +
        `(${missing.length} tensors listed in ${INDEX_NAME} are not in any shard, e.g. ${missing.slice(0, 3).join(', ')})`);
    fail('SAFETENSORS_MALFORMED', `${INDEX_NAME} and the shard files disagree: missing ${missing.slice(0, 5).join(', ') || 'none'}; ` +
      `not in the index ${extra.slice(0, 5).join(', ') || 'none'}`);
  }

  get(name: string): SafetensorsEntry | undefined {
    return this.byName.get(name);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

/** Python's str ordering (by code point), which the reference converter's sort uses. */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator](), ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next(), y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!, cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}
