// The TS GGUF reader: real files from llama.cpp's converter, and hostile ones (every field
// corrupted or truncated): always a GgufError with a code, never a crash or a runaway allocation.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { bufferSource, GgufError, getStringArray, readGgufFromSource, readGgufInfo, summarizeGguf, type GgufArray } from '../../electron/gguf/index.js';
import { fixturesRoot } from '../helpers/paths.js';
import { GgufBytes, validGguf } from './gguf-bytes.js';

const read = (b: Uint8Array, opts = {}) => readGgufFromSource(bufferSource(b), opts);

function expectGgufError(f: () => unknown, code: string, pattern?: RegExp): void {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(GgufError);
    expect((error as GgufError).code).toBe(code);
    if (pattern) expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a GgufError');
}

describe('GGUF reader on llama.cpp files', () => {
  it('reads the VL text model: metadata, tokenizer arrays and tensor infos', async () => {
    const info = await readGgufInfo(join(fixturesRoot, 'tiny-qwen25vl-a', 'llamacpp', 'model-q8_0.gguf'));
    expect(info.version).toBe(3);
    expect(info.metadata.get('general.architecture')).toBe('qwen2vl');
    expect(info.metadataTypes.get('qwen2vl.block_count')).toBe('u32');
    const sections = info.metadata.get('qwen2vl.rope.dimension_sections') as GgufArray;
    expect(Array.from(sections.items as Int32Array)).toEqual([4, 6, 6, 0]);
    expect(getStringArray(info, 'tokenizer.ggml.tokens')).toHaveLength(704);
    const embd = info.tensors.find((t) => t.name === 'token_embd.weight')!;
    expect(embd.dims).toEqual([128, 704]);
    expect(embd.type.name).toBe('Q8_0');
    expect(embd.bytes).toBe((128 * 704 / 32) * 34);
    // Tensors tile the data section without overlapping and end inside the file.
    const sorted = [...info.tensors].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.offset).toBeGreaterThanOrEqual(sorted[i - 1]!.offset + sorted[i - 1]!.bytes);
    expect(sorted.at(-1)!.offset + sorted.at(-1)!.bytes).toBeLessThanOrEqual(info.fileSize);
    const summary = summarizeGguf(info);
    expect(summary).toMatchObject({ architecture: 'qwen2vl', kind: 'model', quantization: 'Q8_0', contextLength: 4096, hasChatTemplate: true, unsupportedTensorTypes: [] });
  });

  it('summarises an mmproj', async () => {
    const info = await readGgufInfo(join(fixturesRoot, 'tiny-qwen25vl-a', 'llamacpp', 'mmproj-f16.gguf'));
    expect(summarizeGguf(info)).toMatchObject({ architecture: 'clip', kind: 'mmproj', projectorType: 'qwen2.5vl_merger', quantization: 'F16' });
  });

  it('keeps at most maxArrayItems items of an array and says so', async () => {
    const info = await readGgufInfo(join(fixturesRoot, 'tiny-qwen2-a', 'llamacpp', 'model-f32.gguf'), { maxArrayItems: 3 });
    const tokens = info.metadata.get('tokenizer.ggml.tokens') as GgufArray;
    expect(tokens).toMatchObject({ length: 704, truncated: true });
    expect(tokens.items).toHaveLength(3);
    const types = info.metadata.get('tokenizer.ggml.token_type') as GgufArray;
    expect(types.items).toBeInstanceOf(Int32Array);
    expect(types.items).toHaveLength(3);
    // Reading went on correctly past the skipped items.
    expect(info.tensors.length).toBeGreaterThan(10);
    expect(() => getStringArray(info, 'tokenizer.ggml.tokens')).toThrow(/truncated/);
  });

  it('reports a missing file as FILE_IO', async () => {
    await expect(readGgufInfo('/nonexistent/model.gguf')).rejects.toMatchObject({ code: 'FILE_IO' });
  });
});

describe('GGUF reader on hostile input', () => {
  it('reads the hand-built valid file', () => {
    const info = read(validGguf());
    expect(info.tensors.map((t) => [t.name, t.dims, t.bytes])).toEqual([['t.a', [4], 16], ['t.b', [8, 2], 64]]);
    expect(info.dataOffset % 32).toBe(0);
  });

  it('refuses every truncation of a valid file with GGUF_MALFORMED', () => {
    const full = validGguf();
    for (let n = 0; n < full.length; n++) {
      expectGgufError(() => read(full.subarray(0, n)), 'GGUF_MALFORMED');
    }
  });

  it('never throws anything but a GgufError on random corruption', () => {
    const full = validGguf();
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 3000; trial++) {
      const b = Buffer.from(full);
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      try {
        read(b);
      } catch (error) {
        expect(error).toBeInstanceOf(GgufError);
      }
    }
  });

  it('refuses a bad magic and unsupported versions', () => {
    expectGgufError(() => read(Buffer.from('GGML\x03\0\0\0')), 'GGUF_MALFORMED', /magic/);
    expectGgufError(() => read(new GgufBytes().header(0, 0, 1).build()), 'GGUF_UNSUPPORTED', /version 1/);
    expectGgufError(() => read(new GgufBytes().header(0, 0, 0x03000000).build()), 'GGUF_UNSUPPORTED', /big-endian/);
  });

  it('refuses counts the file cannot hold instead of allocating for them', () => {
    expectGgufError(() => read(new GgufBytes().header(0, 2 ** 40).build()), 'GGUF_MALFORMED', /metadata entries/);
    expectGgufError(() => read(new GgufBytes().header(2 ** 40, 0).build()), 'GGUF_MALFORMED', /tensors/);
    // A count beyond 2^53 (it could not even be represented exactly).
    const huge = new GgufBytes().raw(Buffer.from('GGUF', 'ascii')).u32(3).u64(0x7fffffffffffffffn).u64(0).build();
    expectGgufError(() => read(huge), 'GGUF_MALFORMED', /implausibly large/);
    // An array claiming a billion strings.
    const arr = new GgufBytes().header(0, 1).str('k').u32(9).u32(8).u64(1e9).build();
    expectGgufError(() => read(arr), 'GGUF_MALFORMED', /claims 1000000000 items/);
    // A string longer than the file.
    const longStr = new GgufBytes().header(0, 1).str('k').u32(8).u64(2 ** 50).build();
    expectGgufError(() => read(longStr), 'GGUF_UNSUPPORTED', /bytes long/);
    const lieStr = new GgufBytes().header(0, 1).str('k').u32(8).u64(1000).raw(Buffer.from('short')).build();
    expectGgufError(() => read(lieStr), 'GGUF_MALFORMED', /ends inside/);
  });

  it('refuses duplicate keys, unknown value types, bad bools and bad alignment', () => {
    expectGgufError(() => read(new GgufBytes().header(0, 2).kvU32('a', 1).kvU32('a', 2).build()), 'GGUF_MALFORMED', /twice/);
    expectGgufError(() => read(new GgufBytes().header(0, 1).str('a').u32(13).u32(0).build()), 'GGUF_MALFORMED', /unknown value type 13/);
    expectGgufError(() => read(new GgufBytes().header(0, 1).str('a').u32(7).u8(2).build()), 'GGUF_MALFORMED', /bool/);
    expectGgufError(() => read(new GgufBytes().header(0, 1).kvU32('general.alignment', 24).build()), 'GGUF_MALFORMED', /power-of-two/);
    expectGgufError(() => read(new GgufBytes().header(0, 1).str('').u32(4).u32(0).build()), 'GGUF_MALFORMED', /empty/);
  });

  it('refuses bad tensor infos: dims, types, block multiples, alignment, offsets past the end', () => {
    const one = (dims: number[], type: number, offset: number, dataBytes = 64) =>
      new GgufBytes().header(1, 0).tensorInfo('t', dims, type, offset).align().raw(new Uint8Array(dataBytes)).build();
    expect(read(one([16], 0, 0)).tensors[0]!.bytes).toBe(64);
    expectGgufError(() => read(one([], 0, 0)), 'GGUF_MALFORMED', /0 dimensions/);
    expectGgufError(() => read(one([1, 1, 1, 1, 1], 0, 0)), 'GGUF_MALFORMED', /5 dimensions/);
    expectGgufError(() => read(one([16], 99, 0)), 'GGUF_UNSUPPORTED', /type id 99/);
    expectGgufError(() => read(one([16], 8, 0)), 'GGUF_MALFORMED', /block of 32/);
    expectGgufError(() => read(one([16], 0, 8)), 'GGUF_MALFORMED', /aligned/);
    expectGgufError(() => read(one([32], 0, 0)), 'GGUF_MALFORMED', /past the end/);
    expectGgufError(() => read(one([2 ** 40, 2 ** 40], 0, 0)), 'GGUF_MALFORMED', /too many elements/);
    const dup = new GgufBytes().header(2, 0).tensorInfo('t', [4], 0, 0).tensorInfo('t', [4], 0, 32).align().raw(new Uint8Array(64)).build();
    expectGgufError(() => read(dup), 'GGUF_MALFORMED', /twice/);
  });

  it('treats "__proto__" as an ordinary key', () => {
    const info = read(new GgufBytes().header(0, 1).kvU32('__proto__', 7).build());
    expect(info.metadata.get('__proto__')).toBe(7);
    expect(Object.prototype).not.toHaveProperty('7');
  });

  it('reads a file on disk the same as from a buffer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kotaro-gguf-'));
    const file = join(dir, 'x.gguf');
    writeFileSync(file, validGguf());
    const a = await readGgufInfo(file);
    const b = read(validGguf());
    expect(a.tensors).toEqual(b.tensors);
    expect([...a.metadata.keys()]).toEqual([...b.metadata.keys()]);
  });
});
