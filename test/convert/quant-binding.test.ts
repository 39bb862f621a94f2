// The addon's quantisation surface (native/addon/quant_binding.cpp) as the converter uses it.
import { describe, expect, it } from 'vitest';
import { loadEngineAddon } from '../../gpu-worker/engine-binding.js';
import { quantAddon } from './helpers.js';

interface AsyncAddon { quantizeAsync(type: unknown, src: unknown, rowLength: unknown): Promise<Buffer> }

function sine(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 11)));
}

describe('quant binding', () => {
  const addon = quantAddon();

  it('typeInfo by name (any case) and by id', () => {
    expect(addon.typeInfo('Q4_K')).toEqual({ name: 'q4_K', id: 12, blockSize: 256, typeSize: 144, supported: true });
    expect(addon.typeInfo(8)).toEqual({ name: 'q8_0', id: 8, blockSize: 32, typeSize: 34, supported: true });
    expect(() => addon.typeInfo('q9_9')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => addon.typeInfo(4)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('quantizes many rows at once, row by row', () => {
    const x = sine(3 * 512);
    const all = addon.quantize('q6_K', x, 512);
    expect(all.length).toBe(3 * 420);
    const row1 = addon.quantize('q6_K', x.subarray(512, 1024), 512);
    expect(Buffer.from(all.subarray(420, 840)).equals(Buffer.from(row1))).toBe(true);
    const y = addon.dequantize('q6_K', all, 512);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    expect(worst).toBeLessThan(11 / 24); // max error ≤ amax/24 for Q6_K on these rows (amax ≤ 11)
  });

  it('f16 and bf16 round to nearest even', () => {
    const x = Float32Array.of(1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -2.5, 65520);
    expect([...new Uint16Array(new Uint8Array(addon.quantize('f16', x, 5)).buffer)]).toEqual([0x3c00, 0x3c00, 0x3c02, 0xc100, 0x7c00]);
    const b = Float32Array.of(1, -3, new Float32Array(new Uint32Array([0x3f818000]).buffer)[0]!);
    expect([...new Uint16Array(new Uint8Array(addon.quantize('bf16', b, 3)).buffer)]).toEqual([0x3f80, 0xc040, 0x3f82]);
  });

  it('rejects bad arguments with coded errors', () => {
    expect(() => addon.quantize('q4_K', sine(300), 300)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/block size 256/) }));
    expect(() => addon.quantize('q8_0', sine(100), 64)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not a whole number of rows/) }));
    expect(() => addon.quantize('q2_K', sine(256), 256)).toThrow(expect.objectContaining({ code: 'GGUF_UNSUPPORTED' }));
    expect(() => addon.quantize('q8_0', new Float64Array(32) as unknown as Float32Array, 32)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => addon.dequantize('q8_0', Buffer.alloc(35), 32)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('quantizeAsync gives the same bytes and rejects (not throws) on bad input', async () => {
    const async = loadEngineAddon() as unknown as AsyncAddon;
    const x = sine(4 * 256);
    expect(Buffer.from(await async.quantizeAsync('q4_K', x, 256)).equals(Buffer.from(addon.quantize('q4_K', x, 256)))).toBe(true);
    await expect(async.quantizeAsync('q4_K', x, 100)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(async.quantizeAsync('nope', x, 256)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
