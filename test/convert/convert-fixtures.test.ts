// The converter against llama.cpp's own files: each fixture converted to f32 / f16 / q8_0 must
// give the files in llamacpp/ key by key, tensor by tensor and byte for byte; bf16 is checked
// against the f32 file (llama.cpp's fixtures have no bf16 file).
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertCheckpoint } from '../../electron/convert/index.js';
import { readGguf } from './gguf-read.js';
import { FIXTURES, f32Of, hfDir, llamacppFile, quantizer, tempDir } from './helpers.js';

const out = tempDir('convert');
afterAll(() => out.remove());

function compareFiles(mine: string, theirs: string): void {
  const a = readGguf(mine), b = readGguf(theirs);
  expect(a.version).toBe(3);
  // key by key: same keys, same order, same wire types, same values
  expect(a.kvs.map((kv) => kv.key)).toEqual(b.kvs.map((kv) => kv.key));
  for (let i = 0; i < b.kvs.length; i++) {
    const x = a.kvs[i]!, y = b.kvs[i]!;
    expect({ key: x.key, type: x.type, elemType: x.elemType }).toEqual({ key: y.key, type: y.type, elemType: y.elemType });
    expect(x.value, x.key).toEqual(y.value);
  }
  // tensor by tensor: names, order, types, shapes, offsets, bytes
  expect(a.tensors.map((t) => t.name)).toEqual(b.tensors.map((t) => t.name));
  for (let i = 0; i < b.tensors.length; i++) {
    const x = a.tensors[i]!, y = b.tensors[i]!;
    expect({ name: x.name, type: x.type, ne: x.ne, offset: x.offset }).toEqual({ name: y.name, type: y.type, ne: y.ne, offset: y.offset });
    expect(x.data.equals(y.data), `${x.name} bytes`).toBe(true);
  }
  // and the whole file, padding included
  expect(a.bytes.length).toBe(b.bytes.length);
  expect(a.bytes.equals(b.bytes)).toBe(true);
}

describe('convert → llama.cpp files', () => {
  for (const fixture of FIXTURES) {
    for (const type of ['f32', 'f16', 'q8_0'] as const) {
      it(`${fixture} ${type} equals llama.cpp's output`, async () => {
        const dir = join(out.path, `${fixture}-${type}`);
        const result = await convertCheckpoint({ input: hfDir(fixture), outDir: dir, type, quantizer: quantizer() });
        const kinds = result.files.map((f) => f.kind);
        expect(kinds).toEqual(fixture === 'tiny-qwen25vl-a' ? ['model', 'mmproj'] : ['model']);
        for (const f of result.files) {
          const theirs = llamacppFile(fixture, f.kind, type);
          expect(existsSync(theirs)).toBe(true);
          compareFiles(f.path, theirs);
        }
      });
    }
  }

  it('small chunks and many in flight give the same bytes (the streaming path)', async () => {
    const dir = join(out.path, 'chunked');
    const r = await convertCheckpoint({ input: hfDir('tiny-qwen25vl-a'), outDir: dir, type: 'q8_0', quantizer: quantizer(), chunkElements: 300, concurrency: 5 });
    for (const f of r.files) compareFiles(f.path, llamacppFile('tiny-qwen25vl-a', f.kind, 'q8_0'));
  });

  it('f32 output needs no quantiser', async () => {
    const dir = join(out.path, 'noquant');
    const r = await convertCheckpoint({ input: hfDir('tiny-qwen2-a'), outDir: dir, type: 'f32', quantizer: undefined });
    compareFiles(r.files[0]!.path, llamacppFile('tiny-qwen2-a', 'model', 'f32'));
  });

  for (const fixture of FIXTURES) {
    it(`${fixture} bf16: 2-D weights are the f32 values rounded to bf16, the rest as in the f32 file`, async () => {
      const dir = join(out.path, `${fixture}-bf16`);
      const result = await convertCheckpoint({ input: hfDir(fixture), outDir: dir, type: 'bf16', quantizer: quantizer() });
      for (const f of result.files) {
        const mine = readGguf(f.path), ref = readGguf(llamacppFile(fixture, f.kind, 'f32'));
        expect(mine.kvs.map((k) => k.key)).toEqual(ref.kvs.map((k) => k.key));
        for (const kv of mine.kvs) {
          const r = ref.kvs.find((k) => k.key === kv.key)!;
          expect(kv.value, kv.key).toEqual(kv.key === 'general.file_type' ? 32 : r.value); // LLAMA_FTYPE_MOSTLY_BF16
        }
        expect(mine.tensors.map((t) => t.name)).toEqual(ref.tensors.map((t) => t.name));
        for (let i = 0; i < ref.tensors.length; i++) {
          const t = mine.tensors[i]!, r = ref.tensors[i]!;
          const is2dWeight = r.ne.length >= 2 && r.name.endsWith('.weight') && !r.name.includes('patch_embd');
          expect(t.type, t.name).toBe(is2dWeight ? 30 : 0);
          if (!is2dWeight) { expect(t.data.equals(r.data)).toBe(true); continue; }
          const src = new Uint32Array(f32Of(r.data).buffer);
          const got = new Uint16Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.length));
          let bad = 0;
          for (let j = 0; j < src.length; j++) {
            const u = src[j]!;
            const want = Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff; // round to nearest even
            if (got[j] !== want) bad++;
          }
          expect(bad, `${t.name}: values not rounded to nearest-even bf16`).toBe(0);
        }
      }
    });
  }
});
