// The K-quant mixes: which type every tensor gets (llama-quant.cpp's rules, checked against
// expectations written out by hand for real Qwen2.5 shapes and for the fixtures, where every
// row length forces a fallback), the tensor/key order llama-quantize writes, and the data.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { assignTextTypes, convertCheckpoint } from '../../electron/convert/index.js';
import type { PlannedTensor } from '../../electron/convert/tensor-plan.js';
import { converterType, GGML, kMixTypes, quantizeOrder } from '../../electron/convert/type-mix.js';
import { readGguf } from './gguf-read.js';
import { f32Of, hfDir, llamacppFile, quantAddon, quantizer, tempDir } from './helpers.js';

const { F32, F16, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K } = GGML;

/** The tensor list of a Qwen2.5 text model with real dimensions (ggml order). */
function qwenTensors(nLayer: number, nEmbd: number, nFf: number, nKv: number, nVocab: number, tied: boolean): PlannedTensor[] {
  const t = (name: string, ne: number[]): PlannedTensor => ({ name, ne, rows: ne.slice(1).reduce((a, b) => a * b, 1), read: async () => new Float32Array(), source: name, sourceBytes: 0 });
  const list = [t('token_embd.weight', [nEmbd, nVocab]), t('output_norm.weight', [nEmbd])];
  if (!tied) list.push(t('output.weight', [nEmbd, nVocab]));
  for (let i = 0; i < nLayer; i++) {
    list.push(t(`blk.${i}.attn_norm.weight`, [nEmbd]), t(`blk.${i}.ffn_norm.weight`, [nEmbd]),
      t(`blk.${i}.attn_q.weight`, [nEmbd, nEmbd]), t(`blk.${i}.attn_q.bias`, [nEmbd]),
      t(`blk.${i}.attn_k.weight`, [nEmbd, nKv]), t(`blk.${i}.attn_k.bias`, [nKv]),
      t(`blk.${i}.attn_v.weight`, [nEmbd, nKv]), t(`blk.${i}.attn_v.bias`, [nKv]),
      t(`blk.${i}.attn_output.weight`, [nEmbd, nEmbd]), t(`blk.${i}.ffn_gate.weight`, [nEmbd, nFf]),
      t(`blk.${i}.ffn_up.weight`, [nEmbd, nFf]), t(`blk.${i}.ffn_down.weight`, [nFf, nEmbd]));
  }
  return list;
}

function typesOf(list: PlannedTensor[], type: 'q4_k_m' | 'q5_k_m' | 'q6_k', nLayer: number): Map<string, number> {
  return new Map(assignTextTypes(list, type, nLayer).map((t) => [t.name, t.type]));
}

describe('K-quant type assignment (llama-quant.cpp rules)', () => {
  it('Qwen2.5-VL-7B Q4_K_M: Q6_K output, attn_v/ffn_down Q6_K on the "more bits" layers, Q4_K elsewhere', () => {
    const types = typesOf(qwenTensors(28, 3584, 18944, 512, 152064, false), 'q4_k_m', 28);
    // n = 28: i < 3, i >= 24, or (i - 3) % 3 == 2
    const moreBits = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27];
    expect(types.get('output.weight')).toBe(Q6_K);
    expect(types.get('token_embd.weight')).toBe(Q4_K);
    expect(types.get('output_norm.weight')).toBe(F32);
    for (let i = 0; i < 28; i++) {
      const want = moreBits.includes(i) ? Q6_K : Q4_K;
      expect(types.get(`blk.${i}.attn_v.weight`), `layer ${i} attn_v`).toBe(want);
      expect(types.get(`blk.${i}.ffn_down.weight`), `layer ${i} ffn_down`).toBe(want);
      for (const n of ['attn_q', 'attn_k', 'attn_output', 'ffn_gate', 'ffn_up']) expect(types.get(`blk.${i}.${n}.weight`)).toBe(Q4_K);
      for (const n of ['attn_norm.weight', 'ffn_norm.weight', 'attn_q.bias', 'attn_k.bias', 'attn_v.bias']) expect(types.get(`blk.${i}.${n}`)).toBe(F32);
    }
  });

  it('Qwen2.5-3B (tied embeddings) Q5_K_M: token_embd takes the output rule (Q6_K)', () => {
    const types = typesOf(qwenTensors(36, 2048, 11008, 256, 151936, true), 'q5_k_m', 36);
    expect(types.get('token_embd.weight')).toBe(Q6_K);
    // n = 36: i < 4, i >= 31, or (i - 4) % 3 == 2
    const moreBits = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 31, 32, 33, 34, 35];
    for (let i = 0; i < 36; i++) {
      expect(types.get(`blk.${i}.attn_v.weight`), `layer ${i}`).toBe(moreBits.includes(i) ? Q6_K : Q5_K);
      expect(types.get(`blk.${i}.ffn_down.weight`), `layer ${i}`).toBe(moreBits.includes(i) ? Q6_K : Q5_K);
      expect(types.get(`blk.${i}.attn_q.weight`)).toBe(Q5_K);
    }
  });

  it('Q6_K: every quantised tensor Q6_K, norms and biases F32', () => {
    const types = typesOf(qwenTensors(28, 3584, 18944, 512, 152064, false), 'q6_k', 28);
    for (const [name, type] of types) expect(type, name).toBe(name.endsWith('.weight') && !name.includes('_norm') ? Q6_K : F32);
  });

  it('falls back when rows are not whole super-blocks: Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, then F16', () => {
    const t = (name: string, ne: number[]) => ({ name, ne });
    const list = [t('output.weight', [96, 10]), t('token_embd.weight', [96, 10]), t('blk.0.attn_q.weight', [96, 96]),
      t('blk.0.attn_v.weight', [96, 48]), t('blk.0.ffn_down.weight', [200, 96])];
    const base = new Map(list.map((x) => [x.name, converterType(x, 'f32', false)]));
    const q4 = kMixTypes(list, 'q4_k_m', 1, base), q5 = kMixTypes(list, 'q5_k_m', 1, base), q6 = kMixTypes(list, 'q6_k', 1, base);
    expect(q4.get('output.weight')).toBe(Q8_0); // 96 % 256 != 0 → Q8_0 directly
    expect(q4.get('token_embd.weight')).toBe(Q5_0);
    expect(q5.get('token_embd.weight')).toBe(Q5_1);
    expect(q6.get('token_embd.weight')).toBe(Q8_0);
    expect(q4.get('blk.0.attn_q.weight')).toBe(Q5_0);
    expect(q4.get('blk.0.attn_v.weight')).toBe(Q8_0); // layer 0 of 1 is a "more bits" layer: Q6_K → Q8_0
    expect(q4.get('blk.0.ffn_down.weight')).toBe(F16); // 200 % 32 != 0 even for the fallback
    expect(q6.get('blk.0.ffn_down.weight')).toBe(F16);
  });

  it("orders tensors as llama-quantize's loader does: non-layer tensors, then by layer number", () => {
    const names = ['blk.10.attn_q.weight', 'token_embd.weight', 'blk.2.ffn_up.weight', 'output.weight', 'blk.2.attn_k.weight', 'output_norm.weight'];
    expect(names.sort(quantizeOrder)).toEqual(['output.weight', 'output_norm.weight', 'token_embd.weight', 'blk.2.attn_k.weight', 'blk.2.ffn_up.weight', 'blk.10.attn_q.weight']);
  });
});

const out = tempDir('kmix');
afterAll(() => out.remove());

// Expected types for the fixtures, written out by hand from the rules (ne0: qwen2 96/192, VL 128/256).
const EXPECT: Record<string, Record<'q4_k_m' | 'q5_k_m' | 'q6_k', Record<string, number>>> = {
  'tiny-qwen2-a': {
    // tied: token_embd gets the output rule; 3 layers: layer 2 is the only "more bits" layer
    q4_k_m: { 'token_embd.weight': Q8_0, 'blk.0.attn_q.weight': Q5_0, 'blk.1.attn_v.weight': Q5_0, 'blk.2.attn_v.weight': Q8_0,
      'blk.0.ffn_down.weight': Q5_0, 'blk.2.ffn_down.weight': Q8_0, 'blk.2.ffn_up.weight': Q5_0 },
    q5_k_m: { 'token_embd.weight': Q8_0, 'blk.0.attn_q.weight': Q5_1, 'blk.1.attn_v.weight': Q5_1, 'blk.2.attn_v.weight': Q8_0,
      'blk.0.ffn_down.weight': Q5_1, 'blk.2.ffn_down.weight': Q8_0, 'blk.2.ffn_up.weight': Q5_1 },
    q6_k: { 'token_embd.weight': Q8_0, 'blk.0.attn_q.weight': Q8_0, 'blk.1.attn_v.weight': Q8_0, 'blk.2.attn_v.weight': Q8_0,
      'blk.0.ffn_down.weight': Q8_0, 'blk.2.ffn_down.weight': Q8_0, 'blk.2.ffn_up.weight': Q8_0 },
  },
  'tiny-qwen25vl-a': {
    // untied; 2 layers: layer 1 is the "more bits" layer; ffn_down rows (256) fit K-quants
    q4_k_m: { 'output.weight': Q8_0, 'token_embd.weight': Q5_0, 'blk.0.attn_v.weight': Q5_0, 'blk.1.attn_v.weight': Q8_0,
      'blk.0.ffn_down.weight': Q4_K, 'blk.1.ffn_down.weight': Q6_K, 'blk.0.attn_output.weight': Q5_0 },
    q5_k_m: { 'output.weight': Q8_0, 'token_embd.weight': Q5_1, 'blk.0.attn_v.weight': Q5_1, 'blk.1.attn_v.weight': Q8_0,
      'blk.0.ffn_down.weight': Q5_K, 'blk.1.ffn_down.weight': Q6_K, 'blk.0.attn_output.weight': Q5_1 },
    q6_k: { 'output.weight': Q8_0, 'token_embd.weight': Q8_0, 'blk.0.attn_v.weight': Q8_0, 'blk.1.attn_v.weight': Q8_0,
      'blk.0.ffn_down.weight': Q6_K, 'blk.1.ffn_down.weight': Q6_K, 'blk.0.attn_output.weight': Q8_0 },
  },
};

// Relative RMS error bound of a type on these weights (the dequantised file vs the f32 file).
const REL_RMS: Record<number, number> = { [Q8_0]: 0.01, [Q6_K]: 0.03, [Q5_0]: 0.06, [Q5_1]: 0.05, [Q5_K]: 0.05, [Q4_K]: 0.1 };
const TYPE_NAMES: Record<number, string> = { [Q8_0]: 'q8_0', [Q6_K]: 'q6_K', [Q5_0]: 'q5_0', [Q5_1]: 'q5_1', [Q5_K]: 'q5_K', [Q4_K]: 'q4_K', [F16]: 'f16' };

describe('K-quant conversion of the fixtures', () => {
  for (const fixture of Object.keys(EXPECT)) {
    for (const type of ['q4_k_m', 'q5_k_m', 'q6_k'] as const) {
      it(`${fixture} ${type}`, async () => {
        const dir = join(out.path, `${fixture}-${type}`);
        const result = await convertCheckpoint({ input: hfDir(fixture), outDir: dir, type, quantizer: quantizer() });
        const model = readGguf(result.files[0]!.path);
        const ref = readGguf(llamacppFile(fixture, 'model', 'f32'));
        const byName = new Map(model.tensors.map((t) => [t.name, t]));

        // the hand-written expectations
        for (const [name, want] of Object.entries(EXPECT[fixture]![type])) expect(byName.get(name)?.type, name).toBe(want);
        // 1-D tensors and norms stay F32 and keep their bytes
        for (const r of ref.tensors) if (r.ne.length === 1) {
          expect(byName.get(r.name)!.type).toBe(F32);
          expect(byName.get(r.name)!.data.equals(r.data)).toBe(true);
        }
        // llama-quantize's order: non-layer tensors by name, then layer by layer
        const names = model.tensors.map((t) => t.name);
        expect(names).toEqual([...names].sort(quantizeOrder));
        expect(new Set(names)).toEqual(new Set(ref.tensors.map((t) => t.name)));

        // metadata: the f32 file's keys, with general.quantization_version and general.file_type moved last
        const refKeys = ref.kvs.map((k) => k.key).filter((k) => k !== 'general.file_type' && k !== 'general.quantization_version');
        expect(model.kvs.map((k) => k.key)).toEqual([...refKeys, 'general.quantization_version', 'general.file_type']);
        expect(model.kvs.at(-1)!.value).toBe({ q4_k_m: 15, q5_k_m: 17, q6_k: 18 }[type]);
        for (const kv of model.kvs) if (refKeys.includes(kv.key)) expect(kv.value, kv.key).toEqual(ref.kvs.find((k) => k.key === kv.key)!.value);

        // data: each quantised tensor is quantize(f32 rows) exactly, and within its type's error of the f32 weights
        const addon = quantAddon();
        for (const r of ref.tensors) {
          const t = byName.get(r.name)!;
          if (t.type === F32) continue;
          const x = f32Of(r.data);
          const typeName = TYPE_NAMES[t.type]!;
          expect(Buffer.from(addon.quantize(typeName, x, r.ne[0]!)).equals(t.data), `${t.name} bytes`).toBe(true);
          const y = addon.dequantize(typeName, t.data, r.ne[0]!);
          let se = 0, sx = 0;
          for (let i = 0; i < x.length; i++) { se += (x[i]! - y[i]!) ** 2; sx += x[i]! ** 2; }
          expect(Math.sqrt(se / sx), `${t.name} (${typeName}) relative rms error`).toBeLessThan(REL_RMS[t.type] ?? 0.001);
        }

        // the mmproj next to a K-quant model is llama.cpp's f16 mmproj, byte for byte
        if (fixture === 'tiny-qwen25vl-a') {
          const mm = readGguf(result.files[1]!.path), mmRef = readGguf(llamacppFile(fixture, 'mmproj', 'f16'));
          expect(mm.bytes.equals(mmRef.bytes)).toBe(true);
        }
      });
    }
  }
});
