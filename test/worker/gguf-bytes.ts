// Builds GGUF bytes by hand for the reader's tests, including deliberately broken ones: each
// piece is written exactly as the format says, so a test can corrupt any single field.
export class GgufBytes {
  private parts: Buffer[] = [];

  u8(v: number): this { const b = Buffer.alloc(1); b.writeUInt8(v); this.parts.push(b); return this; }
  u32(v: number): this { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.parts.push(b); return this; }
  i32(v: number): this { const b = Buffer.alloc(4); b.writeInt32LE(v); this.parts.push(b); return this; }
  f32(v: number): this { const b = Buffer.alloc(4); b.writeFloatLE(v); this.parts.push(b); return this; }
  u64(v: number | bigint): this { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  raw(b: Uint8Array): this { this.parts.push(Buffer.from(b)); return this; }
  str(s: string): this { const b = Buffer.from(s, 'utf8'); return this.u64(b.length).raw(b); }

  header(tensors: number, kvs: number, version = 3): this {
    return this.raw(Buffer.from('GGUF', 'ascii')).u32(version).u64(tensors).u64(kvs);
  }
  kvString(key: string, value: string): this { return this.str(key).u32(8).str(value); }
  kvU32(key: string, value: number): this { return this.str(key).u32(4).u32(value); }
  kvStrings(key: string, values: string[]): this {
    this.str(key).u32(9).u32(8).u64(values.length);
    for (const v of values) this.str(v);
    return this;
  }
  kvI32s(key: string, values: number[]): this {
    this.str(key).u32(9).u32(5).u64(values.length);
    for (const v of values) this.i32(v);
    return this;
  }
  tensorInfo(name: string, dims: number[], type: number, offset: number): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }
  get length(): number { return this.parts.reduce((n, p) => n + p.length, 0); }
  /** Pads to `alignment` (the data section starts aligned). */
  align(alignment = 32): this { const pad = (alignment - (this.length % alignment)) % alignment; return this.raw(new Uint8Array(pad)); }
  build(): Buffer { return Buffer.concat(this.parts); }
}

/** A small valid file: 3 keys (one a string array), 2 F32 tensors of [4] and [8, 2]. */
export function validGguf(): Buffer {
  const g = new GgufBytes().header(2, 3)
    .kvString('general.architecture', 'qwen2')
    .kvStrings('tokenizer.ggml.tokens', ['a', 'b', 'c', 'd', 'e'])
    .kvI32s('qwen2.rope.dimension_sections', [4, 6, 6, 0])
    .tensorInfo('t.a', [4], 0, 0)
    .tensorInfo('t.b', [8, 2], 0, 32)
    .align();
  return g.raw(new Uint8Array(32 + 64)).build();
}
