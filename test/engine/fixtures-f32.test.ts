// Acceptance: the engine on the CPU backend against transformers' float32 outputs, with the
// F32 files llama.cpp's converter made (fixtures/*/llamacpp) and with our own conversion.
//   - token ids identical; M-RoPE positions identical;
//   - vision embeddings and logits within float32 rounding (measured max relative error
//     ~1.5e-6 and ~1.7e-6; the bound below is 1e-4, far under 1e-3);
//   - 20 greedy tokens identical (compared up to a reference near-tie, none occur here);
//   - from the PNGs, our pixel values match the image processor's (transformers 5.17 resizes
//     with torch's uint8 antialiased bicubic, which the engine reproduces; plain PIL bicubic
//     would differ by one or two levels on ~0.3% of values, see docs/engine.md): measured max
//     abs 2.4e-7 in normalised units, i.e. float rounding of the normalisation only;
//   - the llama.cpp files and our converted files give bit-identical logits.
import { afterAll, describe, expect, it } from 'vitest';
import { runFixtureEval, type EvalReport } from '../../gpu-worker/eval/run-eval.js';
import { compareArrays } from '../../gpu-worker/eval/metrics.js';
import { addon, convertFixture, fixtureFiles, scratch, TEXT, VL } from './helpers.js';

const LOGITS_MAX_REL = 1e-4;
const VISION_MAX_REL = 1e-4;
const PIXELS_MAX_ABS = 1e-5;
const PIXELS_MEAN_ABS = 1e-6;

const tmp = scratch('f32');
afterAll(() => tmp.remove());

function expectReferenceMatch(report: EvalReport, vl: boolean): void {
  for (const c of report.cases) {
    expect.soft(c.tokens, `${c.name} tokens`).toMatchObject({ identical: true });
    if (vl) expect.soft(c.positionIds, `${c.name} positions`).toMatchObject({ identical: true });
    expect.soft(c.logits.maxRel, `${c.name} logits max rel`).toBeLessThan(LOGITS_MAX_REL);
    expect.soft(c.logits.top1Agreement, `${c.name} top-1`).toBe(1);
    expect.soft(c.greedy.comparedSteps, `${c.name} greedy steps compared`).toBe(20);
    expect.soft(c.greedy.match, `${c.name} greedy ${c.greedy.ours} vs ${c.greedy.ref}`).toBe(true);
    if (c.visionEmbeds) expect.soft(c.visionEmbeds.maxRel, `${c.name} vision max rel`).toBeLessThan(VISION_MAX_REL);
    if (c.pixelValues) {
      expect.soft(c.pixelValues.gridsIdentical, `${c.name} grids ${JSON.stringify(c.pixelValues.oursGrid)}`).toBe(true);
      expect.soft(c.pixelValues.maxAbs, `${c.name} pixels max abs`).toBeLessThan(PIXELS_MAX_ABS);
      expect.soft(c.pixelValues.meanAbs, `${c.name} pixels mean abs`).toBeLessThan(PIXELS_MEAN_ABS);
    }
  }
}

describe.each([
  { name: VL, vl: true },
  { name: TEXT, vl: false },
])('$name, F32, CPU backend', ({ name, vl }) => {
  const files = fixtureFiles(name);
  let fromLlamaCpp: EvalReport;

  it('llama.cpp\'s F32 files reproduce the reference', async () => {
    const f = files.llamacpp('f32');
    fromLlamaCpp = await runFixtureEval({ addon: addon(), modelPath: f.model, mmprojPath: f.mmproj, manifestPath: files.manifest, backend: 'cpu', keepLogits: true });
    expect(fromLlamaCpp.backend).toBe('cpu');
    expect(fromLlamaCpp.cases.length).toBeGreaterThanOrEqual(3);
    if (vl) expect(fromLlamaCpp.cases.filter((c) => c.visionEmbeds !== null).length).toBe(4);
    expectReferenceMatch(fromLlamaCpp, vl);
    console.log(`${name} llama.cpp F32: logits max rel ${fromLlamaCpp.summary.logitsMaxRel.toExponential(2)} (abs ${fromLlamaCpp.summary.logitsMaxAbs.toExponential(2)}), ` +
      `vision max rel ${fromLlamaCpp.summary.visionEmbedsMaxRel?.toExponential(2) ?? '-'}, pixels max abs ${fromLlamaCpp.summary.pixelValuesMaxAbs?.toExponential(2) ?? '-'}`);
  });

  it('our converted F32 files reproduce the reference and give the same logits as llama.cpp\'s', async () => {
    const conv = await convertFixture(name, 'f32', `${tmp.dir}/${name}`);
    const ours = await runFixtureEval({ addon: addon(), modelPath: conv.model, mmprojPath: conv.mmproj, manifestPath: files.manifest, backend: 'cpu', keepLogits: true });
    expectReferenceMatch(ours, vl);
    for (const [caseName, logits] of ours.logits!) {
      const d = compareArrays(logits, fromLlamaCpp.logits!.get(caseName)!);
      expect(d.sameLength).toBe(true);
      expect(d.maxAbs, `${caseName}: converted vs llama.cpp logits`).toBe(0);
    }
  });
});
