// How far our numbers are from the reference, in the terms the acceptance tests state.
//  - maxAbs:  max |ours - ref|
//  - maxRel:  maxAbs / max |ref| (the error relative to the array's scale; elementwise ratios
//             explode at reference values near zero and say nothing)
//  - top-1 agreement of logits rows, KL(ref || ours) of their softmaxes
//  - greedy tokens compared up to the first near-tie of the reference (fixtures/README.md)

export interface ArrayDiff {
  count: number;
  maxAbs: number;
  maxRel: number;
  /** Mean |ours - ref|: the typical error, next to the worst one. */
  meanAbs: number;
  /** Where maxAbs occurs (flat index), for debugging. */
  argMaxAbs: number;
  /** Equal lengths? (when not, the other numbers cover the common prefix). */
  sameLength: boolean;
}

export function compareArrays(ours: ArrayLike<number>, ref: ArrayLike<number>): ArrayDiff {
  const n = Math.min(ours.length, ref.length);
  let maxAbs = 0;
  let arg = -1;
  let scale = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(ours[i]! - ref[i]!);
    sum += Number.isNaN(d) ? Infinity : d;
    // NaN in ours counts as an infinite error.
    const e = Number.isNaN(d) ? Infinity : d;
    if (e > maxAbs || arg < 0) [maxAbs, arg] = [e, i];
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return { count: n, maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs, meanAbs: n ? sum / n : 0, argMaxAbs: arg, sameLength: ours.length === ref.length };
}

export function countMismatches(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let k = Math.abs(ours.length - ref.length);
  for (let i = 0; i < Math.min(ours.length, ref.length); i++) if (ours[i] !== ref[i]) k++;
  return k;
}

function argmax(row: ArrayLike<number>, from: number, n: number): number {
  let best = from;
  for (let i = from + 1; i < from + n; i++) if (row[i]! > row[best]!) best = i;
  return best - from;
}

function logSoftmax(x: ArrayLike<number>, from: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, x[from + i]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(x[from + i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = x[from + i]! - lse;
  return out;
}

export interface LogitsDiff {
  rows: number;
  /** Fraction of rows whose argmax agrees. */
  top1Agreement: number;
  /** KL(ref || ours) in nats: mean and max over rows. */
  klMean: number;
  klMax: number;
}

/** Compares [rows, vocab] logits row by row. */
export function compareLogits(ours: ArrayLike<number>, ref: ArrayLike<number>, vocab: number): LogitsDiff {
  const rows = Math.floor(Math.min(ours.length, ref.length) / vocab);
  let agree = 0;
  let klSum = 0;
  let klMax = 0;
  for (let r = 0; r < rows; r++) {
    const o = r * vocab;
    if (argmax(ours, o, vocab) === argmax(ref, o, vocab)) agree++;
    const p = logSoftmax(ref, o, vocab);
    const q = logSoftmax(ours, o, vocab);
    let kl = 0;
    for (let i = 0; i < vocab; i++) kl += Math.exp(p[i]!) * (p[i]! - q[i]!);
    kl = Math.max(0, kl);
    klSum += kl;
    klMax = Math.max(klMax, kl);
  }
  return { rows, top1Agreement: rows ? agree / rows : 0, klMean: rows ? klSum / rows : 0, klMax };
}

export interface GreedyComparison {
  /** Steps compared: up to the first reference near-tie (exclusive) or all of them. */
  comparedSteps: number;
  /** Steps of the compared range whose tokens agree before the first disagreement. */
  matchingPrefix: number;
  /** True when every compared step agrees. */
  match: boolean;
  /** The first step whose reference top-2 gap is below the tie threshold (null: none). */
  firstNearTie: number | null;
  totalSteps: number;
}

export const NEAR_TIE_GAP = 5e-4;

/**
 * Greedy tokens against the reference: compared step by step, stopping at the first step
 * whose reference logits (greedy_logits [steps, vocab]) have a top-2 gap below `tieGap` —
 * past a near-tie two correct float32 implementations may part ways.
 */
export function compareGreedy(ours: ArrayLike<number>, ref: ArrayLike<number>, refLogits: ArrayLike<number> | null, vocab: number, tieGap = NEAR_TIE_GAP): GreedyComparison {
  const steps = ref.length;
  let firstNearTie: number | null = null;
  if (refLogits) {
    for (let i = 0; i < steps && firstNearTie === null; i++) {
      let a = -Infinity;
      let b = -Infinity;
      for (let j = 0; j < vocab; j++) {
        const v = refLogits[i * vocab + j]!;
        if (v > a) [a, b] = [v, a];
        else if (v > b) b = v;
      }
      if (a - b < tieGap) firstNearTie = i;
    }
  }
  // The token at a near-tie step itself is compared too? No: at a tie either token is right.
  const compared = firstNearTie ?? steps;
  let prefix = 0;
  while (prefix < compared && prefix < ours.length && ours[prefix] === ref[prefix]) prefix++;
  return { comparedSteps: compared, matchingPrefix: prefix, match: prefix === compared, firstNearTie, totalSteps: steps };
}
