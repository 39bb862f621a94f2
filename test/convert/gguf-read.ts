// A small GGUF v3 reader for the converter's tests: every KV with its wire type, every tensor
// info, and the tensors' bytes. Independent of the converter's writer on purpose.
import { readFileSync } from 'node:fs';

export interface ReadKv { key: string; type: number; elemType?: number; value: unknown }
export interface ReadTensor { name: string; ne: number[]; type: number; offset: number; data: Buffer }
export interface ReadGguf { version: number; kvs: ReadKv[]; tensors: ReadTensor[]; dataStart: number; bytes: Buffer }

const BLOCK: Record<number, [number, number]> = {
  0: [1, 4], 1: [1, 2], 30: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34],
  11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210],
};

export function tensorNbytes(type: number, ne: number[]): number {
  const [b, s] = BLOCK[type] ?? [0, 0];
  if (!b) throw new Error(`unknown type ${type}`);
  return (ne.reduce((a, x) => a * x, 1) / b) * s;
}

export function readGguf(path: string): ReadGguf {
  const buf = readFileSync(path);
  let p = 0;
  const u32 = () => { const v = buf.readUInt32LE(p); p += 4; return v; };
  const u64 = () => { const v = Number(buf.readBigUInt64LE(p)); p += 8; return v; };
  const str = () => { const n = u64(); const s = buf.toString('utf8', p, p + n); p += n; return s; };
  const scalar = (t: number): unknown => {
    switch (t) {
      case 0: return buf.readUInt8(p++);
      case 1: return buf.readInt8(p++);
      case 2: { const v = buf.readUInt16LE(p); p += 2; return v; }
      case 3: { const v = buf.readInt16LE(p); p += 2; return v; }
      case 4: return u32();
      case 5: { const v = buf.readInt32LE(p); p += 4; return v; }
      case 6: { const v = buf.readFloatLE(p); p += 4; return v; }
      case 7: return buf.readUInt8(p++) !== 0;
      case 8: return str();
      case 10: return u64();
      case 11: { const v = Number(buf.readBigInt64LE(p)); p += 8; return v; }
      case 12: { const v = buf.readDoubleLE(p); p += 8; return v; }
      default: throw new Error(`bad kv type ${t}`);
    }
  };
  if (u32() !== 0x46554747) throw new Error(`${path}: not GGUF`);
  const version = u32();
  const nTensors = u64(), nKv = u64();
  const kvs: ReadKv[] = [];
  let alignment = 32;
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = u32();
    if (type === 9) {
      const elemType = u32();
      const n = u64();
      const value = Array.from({ length: n }, () => scalar(elemType));
      kvs.push({ key, type, elemType, value });
    } else {
      const value = scalar(type);
      kvs.push({ key, type, value });
      if (key === 'general.alignment') alignment = value as number;
    }
  }
  const infos: Array<Omit<ReadTensor, 'data'>> = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str();
    const nd = u32();
    const ne = Array.from({ length: nd }, () => u64());
    const type = u32();
    const offset = u64();
    infos.push({ name, ne, type, offset });
  }
  const dataStart = Math.ceil(p / alignment) * alignment;
  const tensors = infos.map((t) => {
    const start = dataStart + t.offset;
    return { ...t, data: buf.subarray(start, start + tensorNbytes(t.type, t.ne)) };
  });
  return { version, kvs, tensors, dataStart, bytes: buf };
}

export function kvMap(g: ReadGguf): Map<string, ReadKv> {
  return new Map(g.kvs.map((kv) => [kv.key, kv]));
}
