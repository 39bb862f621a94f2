// Source element types → float32, as the reference converter does before quantising
// (torch .to(float32): exact for F16/BF16, round-to-nearest for F64).
import { fail } from './errors.js';
import type { SafetensorsDtype } from './safetensors.js';

let f16Table: Float32Array | null = null;

/** All 65536 fp16 values as float32 (built once; exact). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

/** Converts little-endian raw bytes (from SafetensorsFile.readRows, 8-byte aligned) to float32. */
export function toFloat32(dtype: SafetensorsDtype, bytes: Uint8Array, what: string): Float32Array {
  switch (dtype) {
    case 'F32':
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'F16': {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
      const table = halfTable();
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
      return out;
    }
    case 'BF16': {
      // bf16 is the top half of a float32: widen in place of the bits
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
      return new Float32Array(out.buffer);
    }
    case 'F64':
      return Float32Array.from(new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8));
    default:
      fail('CHECKPOINT_UNSUPPORTED', `${what}: ${dtype} weights are not converted (quantised or integer checkpoints are not supported; use the float release)`);
  }
}
