// Holds the engine (through the addon, as the worker drives it) to a reference fixture:
// for every case of a manifest,
//   - the prompt text through our tokenizer → input_ids (placeholders expanded with the grid our
//     preprocessing gives the PNG),
//   - the PNGs through our image path (sharp decode → engine preprocessing) → pixel_values,
//   - the manifest's own pixel_values → vision tower → vision_embeds,
//   - the reference input_ids + those embeddings → prefill → logits, M-RoPE position_ids,
//   - then greedy tokens,
// each compared with transformers' arrays (metrics.ts) and optionally dumped for inspection.
// The forward pass takes the reference ids and pixels so each stage is measured on its own.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEngineAddon, loadModel, type EngineAddon, type EngineImage, type EngineModel } from '../engine-binding.js';
import { ModelTokenizer, expandImagePads } from '../tokenizer/index.js';
import { decodeImageFile } from '../image/decode-image.js';
import { loadFixture, readF32, readI32, type Fixture, type FixtureCase } from './fixture.js';
import { compareArrays, compareGreedy, compareLogits, countMismatches, type ArrayDiff, type GreedyComparison, type LogitsDiff } from './metrics.js';

export interface EvalOptions {
  modelPath: string;
  mmprojPath?: string | null;
  manifestPath: string;
  /** Write our arrays and report.json here. */
  dumpDir?: string | null;
  backend?: 'auto' | 'cpu' | 'cuda';
  threads?: number;
  /** Keep our logits in the result (for comparing one run with another, e.g. Q4_K_M vs F32). */
  keepLogits?: boolean;
  /** Only these cases (default: all). */
  cases?: string[];
  addon?: EngineAddon;
}

export interface CaseReport {
  name: string;
  tokens: { identical: boolean; mismatches: number; ours: number; ref: number };
  /** Ours from the PNGs vs the manifest's pixel_values (absent for text-only cases). */
  pixelValues: (ArrayDiff & { gridsIdentical: boolean; oursGrid: number[][]; refGrid: number[][] }) | null;
  visionEmbeds: ArrayDiff | null;
  positionIds: { identical: boolean; mismatches: number } | null;
  logits: ArrayDiff & LogitsDiff;
  greedy: GreedyComparison & { ours: number[]; ref: number[] };
  ms: { preprocess: number; vision: number; prefill: number; generate: number };
}

export interface EvalReport {
  fixture: string;
  modelPath: string;
  mmprojPath: string | null;
  backend: string;
  weightType: string;
  cases: CaseReport[];
  summary: {
    tokensIdentical: boolean;
    positionsIdentical: boolean;
    pixelValuesMaxAbs: number | null;
    visionEmbedsMaxRel: number | null;
    logitsMaxRel: number;
    logitsMaxAbs: number;
    top1AgreementMin: number;
    klMax: number;
    greedyAllMatch: boolean;
  };
  /** Our logits by case (only with keepLogits; not written to report.json). */
  logits?: Map<string, Float32Array>;
}

function writeArray(dir: string, name: string, data: Float32Array | Int32Array): void {
  writeFileSync(join(dir, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** The pixel budget: the fixture's (GGUF files do not carry one), else the engine's default. */
function pixelBudget(fixture: Fixture): { minPixels?: number; maxPixels?: number } {
  return { ...(fixture.minPixels ? { minPixels: fixture.minPixels } : {}), ...(fixture.maxPixels ? { maxPixels: fixture.maxPixels } : {}) };
}

async function evalCase(fixture: Fixture, c: FixtureCase, model: EngineModel, tokenizer: ModelTokenizer, dumpDir: string | null, keep: Map<string, Float32Array> | null): Promise<CaseReport> {
  const vocab = model.info.nVocab;
  const refIds = readI32(fixture, c, 'input_ids');
  if (!refIds) throw new Error(`case ${c.name} has no input_ids`);
  const ms = { preprocess: 0, vision: 0, prefill: 0, generate: 0 };

  // 1. Our image path on the PNGs.
  let pixelValues: CaseReport['pixelValues'] = null;
  const oursGrid: number[][] = [];
  const refGridArr = readI32(fixture, c, 'image_grid_thw');
  const refGrid: number[][] = [];
  for (let i = 0; refGridArr && i < refGridArr.shape[0]!; i++) refGrid.push(Array.from(refGridArr.data.subarray(3 * i, 3 * i + 3)));
  if (c.images.length > 0) {
    const parts: Float32Array[] = [];
    for (const path of c.images) {
      const img = await decodeImageFile(path);
      const px = await model.preprocessImage(img.rgb, img.width, img.height);
      ms.preprocess += px.ms;
      oursGrid.push([px.gridT, px.gridH, px.gridW]);
      parts.push(px.pixels);
    }
    const ours = concat(parts);
    if (dumpDir) writeArray(dumpDir, `${c.name}.pixel_values.f32`, ours);
    const ref = readF32(fixture, c, 'pixel_values');
    if (ref) {
      pixelValues = { ...compareArrays(ours, ref.data), gridsIdentical: JSON.stringify(oursGrid) === JSON.stringify(refGrid), oursGrid, refGrid };
    }
  }

  // 2. Tokens: the prompt text, placeholders expanded with our grids.
  let ourIds = tokenizer.encode(c.promptText);
  if (c.images.length > 0) {
    const merge = model.info.visionMergeSize;
    ourIds = expandImagePads(ourIds, tokenizer.special.imagePad!, oursGrid.map(([t, h, w]) => (t! * h! * w!) / (merge * merge)));
  }
  if (dumpDir) writeArray(dumpDir, `${c.name}.input_ids.i32`, ourIds);
  const mismatches = countMismatches(ourIds, refIds.data);
  const tokens = { identical: mismatches === 0, mismatches, ours: ourIds.length, ref: refIds.data.length };

  // 3. The vision tower on the manifest's pixel_values.
  let visionEmbeds: ArrayDiff | null = null;
  const images: EngineImage[] = [];
  const refPixels = readF32(fixture, c, 'pixel_values');
  if (refPixels && refGrid.length > 0) {
    const rowLength = refPixels.shape[1]!;
    let row = 0;
    for (const [t, h, w] of refGrid) {
      const rows = t! * h! * w!;
      const image = await model.encodePixels(refPixels.data.subarray(row * rowLength, (row + rows) * rowLength), { gridT: t!, gridH: h!, gridW: w! });
      ms.vision += image.visionMs;
      images.push(image);
      row += rows;
    }
    const ours = concat(images.map((im) => im.embeddings()));
    if (dumpDir) writeArray(dumpDir, `${c.name}.vision_embeds.f32`, ours);
    const ref = readF32(fixture, c, 'vision_embeds');
    if (ref) visionEmbeds = compareArrays(ours, ref.data);
  }

  // 4. Prefill the reference ids (with those embeddings) → logits and positions; then greedy.
  const session = await model.createSession();
  try {
    const prefill = await session.prefill(refIds.data, images, { allLogits: true });
    ms.prefill = prefill.ms;
    const logits = prefill.logits!;
    if (keep) keep.set(c.name, logits);
    if (dumpDir) writeArray(dumpDir, `${c.name}.logits.f32`, logits);
    const refLogits = readF32(fixture, c, 'logits');
    if (!refLogits) throw new Error(`case ${c.name} has no logits`);
    const logitsReport = { ...compareArrays(logits, refLogits.data), ...compareLogits(logits, refLogits.data, vocab) };

    const positions = await session.positionIds();
    if (dumpDir) writeArray(dumpDir, `${c.name}.position_ids.i32`, positions);
    const refPositions = readI32(fixture, c, 'position_ids');
    const positionIds = refPositions ? { identical: countMismatches(positions, refPositions.data) === 0, mismatches: countMismatches(positions, refPositions.data) } : null;

    const refGreedy = readI32(fixture, c, 'greedy_tokens');
    const steps = refGreedy?.data.length ?? 20;
    const generated = await session.generate({ maxNewTokens: steps, temperature: 0 });
    ms.generate = generated.ms;
    if (dumpDir) writeArray(dumpDir, `${c.name}.greedy_tokens.i32`, generated.tokens);
    const refGreedyLogits = readF32(fixture, c, 'greedy_logits');
    const greedy = {
      ...compareGreedy(generated.tokens, refGreedy?.data ?? new Int32Array(0), refGreedyLogits?.data ?? null, vocab),
      ours: Array.from(generated.tokens),
      ref: Array.from(refGreedy?.data ?? []),
    };
    return { name: c.name, tokens, pixelValues, visionEmbeds, positionIds, logits: logitsReport, greedy, ms };
  } finally {
    await session.dispose();
    for (const im of images) im.dispose();
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return out;
}

export async function runFixtureEval(options: EvalOptions): Promise<EvalReport> {
  const fixture = loadFixture(options.manifestPath);
  const addon = options.addon ?? loadEngineAddon();
  const tokenizer = ModelTokenizer.fromFile(options.modelPath);
  const model = await loadModel(addon, {
    modelPath: options.modelPath,
    mmprojPath: options.mmprojPath ?? null,
    backend: options.backend ?? 'cpu',
    ...(options.threads ? { threads: options.threads } : {}),
    // Room for the longest prompt and its greedy tokens.
    contextLength: Math.max(256, ...fixture.cases.map((c) => (c.arrays.get('input_ids')?.shape[0] ?? 0) + (c.arrays.get('greedy_tokens')?.shape[0] ?? 20) + 8)),
    ...pixelBudget(fixture),
  });
  const dumpDir = options.dumpDir ?? null;
  if (dumpDir) mkdirSync(dumpDir, { recursive: true });
  const keep = options.keepLogits ? new Map<string, Float32Array>() : null;
  const cases: CaseReport[] = [];
  try {
    for (const c of fixture.cases) {
      if (options.cases && !options.cases.includes(c.name)) continue;
      cases.push(await evalCase(fixture, c, model, tokenizer, dumpDir, keep));
    }
  } finally {
    await model.unload();
  }
  const maxOf = (xs: Array<number | undefined>) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? Math.max(...v) : null;
  };
  const report: EvalReport = {
    fixture: fixture.name,
    modelPath: options.modelPath,
    mmprojPath: options.mmprojPath ?? null,
    backend: model.info.backend,
    weightType: model.info.weightType,
    cases,
    summary: {
      tokensIdentical: cases.every((c) => c.tokens.identical),
      positionsIdentical: cases.every((c) => c.positionIds === null || c.positionIds.identical),
      pixelValuesMaxAbs: maxOf(cases.map((c) => c.pixelValues?.maxAbs)),
      visionEmbedsMaxRel: maxOf(cases.map((c) => c.visionEmbeds?.maxRel)),
      logitsMaxRel: Math.max(...cases.map((c) => c.logits.maxRel)),
      logitsMaxAbs: Math.max(...cases.map((c) => c.logits.maxAbs)),
      top1AgreementMin: Math.min(...cases.map((c) => c.logits.top1Agreement)),
      klMax: Math.max(...cases.map((c) => c.logits.klMax)),
      greedyAllMatch: cases.every((c) => c.greedy.match),
    },
  };
  if (dumpDir) writeFileSync(join(dumpDir, 'report.json'), JSON.stringify(report, null, 2));
  if (keep) report.logits = keep;
  return report;
}
