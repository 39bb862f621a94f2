// The safetensors side: truncated / garbled files give clear coded errors, sharded checkpoints
// (model.safetensors.index.json) convert to the same bytes as the single file, and row reads
// return exactly the requested rows.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertCheckpoint, ConvertError } from '../../electron/convert/index.js';
import { Checkpoint } from '../../electron/convert/checkpoint.js';
import { SafetensorsFile } from '../../electron/convert/safetensors.js';
import { hfDir, llamacppFile, quantizer, tempDir } from './helpers.js';

const tmp = tempDir('safetensors');
afterAll(() => tmp.remove());
let n = 0;

/** A copy of a fixture's hf/ folder without its weights (named hf/ too: general.name comes from it). */
function copyFixture(fixture: string): string {
  const dir = join(tmp.path, `ckpt-${n++}`, 'hf');
  const src = hfDir(fixture);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(src)) if (f !== 'model.safetensors') copyFileSync(join(src, f), join(dir, f));
  return dir;
}

interface RawTensor { name: string; dtype: string; shape: number[]; data: Buffer }

function readRawTensors(path: string): RawTensor[] {
  const buf = readFileSync(path);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return Object.entries(header).filter(([k]) => k !== '__metadata__').map(([name, h]) => ({
    name, dtype: h.dtype, shape: h.shape, data: buf.subarray(8 + len + h.data_offsets[0], 8 + len + h.data_offsets[1]),
  }));
}

function writeSafetensors(path: string, tensors: RawTensor[]): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) { header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] }; off += t.data.length; }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...tensors.map((t) => t.data)]));
}

async function expectCode(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const error = await p.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConvertError);
  expect((error as ConvertError).code).toBe(code);
  expect((error as Error).message).toMatch(message);
}

const fixtureWeights = () => join(hfDir('tiny-qwen2-a'), 'model.safetensors');

describe('bad safetensors files', () => {
  it('a truncated file names the tensor that runs past the end', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    copyFileSync(fixtureWeights(), join(dir, 'model.safetensors'));
    truncateSync(join(dir, 'model.safetensors'), 600_000);
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f16', quantizer: quantizer() }),
      'SAFETENSORS_MALFORMED', /model\.safetensors: tensor '.+' ends at byte \d+ but the file is 600000 bytes long \(truncated download\?\)/);
  });

  it('a file cut inside its header', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    copyFileSync(fixtureWeights(), join(dir, 'model.safetensors'));
    truncateSync(join(dir, 'model.safetensors'), 100);
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'SAFETENSORS_MALFORMED', /header claims \d+ bytes/);
  });

  it('a garbled header', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    const bytes = readFileSync(fixtureWeights());
    bytes.write('{{garbage', 8);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'SAFETENSORS_MALFORMED', /header is not valid JSON/);
  });

  it('a file that is not safetensors at all', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    writeFileSync(join(dir, 'model.safetensors'), Buffer.from('PK\u0003\u0004 this is a zip file, not safetensors'));
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'SAFETENSORS_MALFORMED', /header length \d+ is not plausible/);
  });

  it('a tensor whose byte range does not match its shape', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    const tensors = readRawTensors(fixtureWeights());
    tensors[0] = { ...tensors[0]!, shape: [tensors[0]!.shape[0]! + 1, ...tensors[0]!.shape.slice(1)] };
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'SAFETENSORS_MALFORMED', /bytes of data for shape/);
  });

  it('a checkpoint missing a layer tensor', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    writeSafetensors(join(dir, 'model.safetensors'), readRawTensors(fixtureWeights()).filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'));
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'SAFETENSORS_MALFORMED', /blk\.1\.ffn_up\.weight/);
  });

  it('no weights at all', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'CHECKPOINT_MISSING', /no model\*\.safetensors/);
  });

  it('an unsupported architecture', async () => {
    const dir = copyFixture('tiny-qwen2-a');
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['LlamaForCausalLM'] }));
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'CHECKPOINT_UNSUPPORTED', /LlamaForCausalLM/);
  });

  it('an unknown --type', async () => {
    await expectCode(convertCheckpoint({ input: hfDir('tiny-qwen2-a'), outDir: join(tmp.path, 'x'), type: 'q2_k' as never }), 'INVALID_ARGUMENT', /unknown output type/);
  });
});

describe('sharded checkpoints', () => {
  function shard(fixture: string, withIndex: boolean, dropSecond = false): string {
    const dir = copyFixture(fixture);
    const tensors = readRawTensors(join(hfDir(fixture), 'model.safetensors')).sort((a, b) => (a.name < b.name ? -1 : 1));
    const half = Math.ceil(tensors.length / 2);
    const parts = [tensors.slice(0, half), tensors.slice(half)];
    const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    parts.forEach((p, i) => { if (!(dropSecond && i === 1)) writeSafetensors(join(dir, names[i]!), [...p].reverse()); });
    if (withIndex) {
      const weightMap: Record<string, string> = {};
      parts.forEach((p, i) => p.forEach((t) => { weightMap[t.name] = names[i]!; }));
      writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    }
    return dir;
  }

  for (const fixture of ['tiny-qwen2-a', 'tiny-qwen25vl-a']) {
    it(`${fixture} in two shards converts to llama.cpp's q8_0 bytes`, async () => {
      const dir = shard(fixture, true);
      const r = await convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'q8_0', quantizer: quantizer() });
      for (const f of r.files) expect(readFileSync(f.path).equals(readFileSync(llamacppFile(fixture, f.kind, 'q8_0')))).toBe(true);
    });
  }

  it('a shard listed in the index but missing on disk', async () => {
    const dir = shard('tiny-qwen2-a', true, true);
    await expectCode(convertCheckpoint({ input: dir, outDir: join(dir, 'out'), type: 'f32' }), 'SAFETENSORS_MALFORMED',
      /missing or incomplete shard files: model-00002-of-00002\.safetensors/);
  });
});

describe('SafetensorsFile', () => {
  it('reads exactly the requested rows with positioned reads', async () => {
    const f = await SafetensorsFile.open(fixtureWeights());
    try {
      const e = f.entries.find((x) => x.name === 'model.embed_tokens.weight')!;
      const raw = readRawTensors(fixtureWeights()).find((x) => x.name === e.name)!;
      const rowBytes = e.shape[1]! * 4;
      const rows = await f.readRows(e, 5, 3);
      expect(Buffer.from(rows).equals(raw.data.subarray(5 * rowBytes, 8 * rowBytes))).toBe(true);
      await expect(f.readRows(e, e.shape[0]! - 1, 2)).rejects.toThrow(/rows/);
    } finally {
      await f.close();
    }
  });

  it('orders tensors by shard, then by name (the order llama.cpp writes)', async () => {
    const ckpt = await Checkpoint.open(hfDir('tiny-qwen25vl-a'));
    try {
      const names = ckpt.tensors.map((t) => t.name);
      expect(names[0]).toBe('lm_head.weight');
      expect(names).toEqual([...names].sort());
    } finally {
      await ckpt.close();
    }
  });
});
