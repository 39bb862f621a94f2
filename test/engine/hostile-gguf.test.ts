// Hostile GGUF files through the addon, as a user's file would reach the engine: each load
// is refused with a coded JS error (never a crash of the process, never a hang). The native
// test test_gguf_malformed covers the reader case by case; this holds the whole path
// (JS → addon → engine thread → reader → JS error) to the same promise.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../gpu-worker/engine-binding.js';
import { addon, fixtureFiles, scratch, TEXT } from './helpers.js';

const text = fixtureFiles(TEXT).llamacpp('f32');
const original = readFileSync(text.model);
const tmp = scratch('hostile');
afterAll(() => tmp.remove());

function variant(name: string, bytes: Buffer): string {
  const path = join(tmp.dir, `${name}.gguf`);
  writeFileSync(path, bytes);
  return path;
}

describe('hostile GGUF files through the addon', () => {
  it.each([8, 16, 24, 100, 1000, 10_000, Math.floor(original.length / 2), original.length - 1])(
    'a file truncated to %i bytes is refused with GGUF_MALFORMED',
    async (length) => {
      const path = variant(`truncated-${length}`, original.subarray(0, length));
      await expect(loadModel(addon(), { modelPath: path, backend: 'cpu' })).rejects.toMatchObject({ code: 'GGUF_MALFORMED' });
    },
  );

  it('absurd tensor and key counts are refused before anything is allocated', async () => {
    const bytes = Buffer.from(original);
    bytes.writeBigUInt64LE(0xffff_ffff_ffffn, 8); // tensor count
    await expect(loadModel(addon(), { modelPath: variant('tensors', bytes), backend: 'cpu' })).rejects.toMatchObject({ code: 'GGUF_MALFORMED' });
    const keys = Buffer.from(original);
    keys.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 16); // metadata key count
    await expect(loadModel(addon(), { modelPath: variant('keys', keys), backend: 'cpu' })).rejects.toMatchObject({ code: 'GGUF_MALFORMED' });
  });

  it('an unknown version is refused as unsupported', async () => {
    const bytes = Buffer.from(original);
    bytes.writeUInt32LE(99, 4);
    await expect(loadModel(addon(), { modelPath: variant('version', bytes), backend: 'cpu' })).rejects.toMatchObject({ code: 'GGUF_UNSUPPORTED' });
  });

  it('random byte flips give an error with a code or a working model, never a crash', async () => {
    let seed = 1234;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 40; i++) {
      const bytes = Buffer.from(original);
      // Flip bytes in the header and metadata region, where the structure lives.
      for (let j = 0; j < 4; j++) {
        const at = Math.floor(rand() * Math.min(bytes.length, 20_000));
        bytes[at] = bytes[at]! ^ (1 + Math.floor(rand() * 255));
      }
      try {
        const model = await loadModel(addon(), { modelPath: variant(`flip-${i}`, bytes), backend: 'cpu' });
        await model.unload();
      } catch (error) {
        expect(typeof (error as { code?: unknown }).code).toBe('string');
      }
    }
  });
});
