// `kotaro eval`: runs every case of a reference fixture through the engine (CPU or CUDA) and
// reports how far each stage is from transformers' numbers (gpu-worker/eval/run-eval.ts).
// Exit code 0 when tokens and positions are identical, logits are within float32 rounding
// (max rel error < 1e-3) and the greedy tokens match up to the reference's first near-tie.
import { parseArgs } from 'node:util';
import type { CliCommand } from '../command.js';
import { runFixtureEval, type EvalReport } from '../../../gpu-worker/eval/run-eval.js';

const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x === 0 ? '0' : x.toExponential(2));

export function formatReport(report: EvalReport): string {
  const lines = [`fixture ${report.fixture} · ${report.weightType} · backend ${report.backend}`];
  lines.push('case                  tokens  pos   pixels(maxAbs)  vision(maxRel)  logits(maxRel)  top1   KLmax     greedy');
  for (const c of report.cases) {
    lines.push([
      c.name.padEnd(20),
      (c.tokens.identical ? 'same' : `${c.tokens.mismatches} diff`).padStart(7),
      (c.positionIds === null ? '-' : c.positionIds.identical ? 'same' : 'DIFF').padStart(5),
      fmt(c.pixelValues?.maxAbs).padStart(15),
      fmt(c.visionEmbeds?.maxRel).padStart(15),
      fmt(c.logits.maxRel).padStart(15),
      c.logits.top1Agreement.toFixed(3).padStart(6),
      fmt(c.logits.klMax).padStart(9),
      `${c.greedy.matchingPrefix}/${c.greedy.comparedSteps}${c.greedy.firstNearTie !== null ? ` (tie@${c.greedy.firstNearTie})` : ''}`.padStart(12),
    ].join(' '));
  }
  const s = report.summary;
  lines.push(`summary: tokens ${s.tokensIdentical ? 'identical' : 'DIFFER'}, positions ${s.positionsIdentical ? 'identical' : 'DIFFER'}, ` +
    `logits max rel ${fmt(s.logitsMaxRel)} (abs ${fmt(s.logitsMaxAbs)}), vision max rel ${fmt(s.visionEmbedsMaxRel)}, ` +
    `pixels max abs ${fmt(s.pixelValuesMaxAbs)}, top-1 min ${s.top1AgreementMin.toFixed(3)}, KL max ${fmt(s.klMax)}, greedy ${s.greedyAllMatch ? 'match' : 'DIFFER'}`);
  return lines.join('\n');
}

export function reportPasses(report: EvalReport): boolean {
  const s = report.summary;
  return s.tokensIdentical && s.positionsIdentical && s.logitsMaxRel < 1e-3 && (s.visionEmbedsMaxRel ?? 0) < 1e-3 && s.greedyAllMatch;
}

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'hold the engine to a reference fixture (tokens, pixels, vision, logits, greedy tokens)',
  usage: 'kotaro eval --model <model.gguf> [--mmproj <mmproj.gguf>] --fixture <refs/manifest.json> [--dump <dir>] [--backend cpu|cuda|auto] [--threads N] [--case NAME]... [--json]',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        mmproj: { type: 'string' },
        fixture: { type: 'string' },
        dump: { type: 'string' },
        backend: { type: 'string', default: 'cpu' },
        threads: { type: 'string' },
        case: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (!values.model) throw Object.assign(new Error('--model is required'), { code: 'INVALID_ARGUMENT' });
    if (!values.fixture) throw Object.assign(new Error('--fixture is required (a refs/manifest.json)'), { code: 'INVALID_ARGUMENT' });
    const backend = values.backend;
    if (backend !== 'cpu' && backend !== 'cuda' && backend !== 'auto') throw Object.assign(new Error(`--backend: cpu, cuda or auto, not ${backend}`), { code: 'INVALID_ARGUMENT' });
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw Object.assign(new Error('--threads: a positive integer'), { code: 'INVALID_ARGUMENT' });
    const report = await runFixtureEval({
      modelPath: values.model,
      mmprojPath: values.mmproj ?? null,
      manifestPath: values.fixture,
      dumpDir: values.dump ?? null,
      backend,
      threads,
      cases: values.case,
    });
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return reportPasses(report) ? 0 : 3;
  },
};
