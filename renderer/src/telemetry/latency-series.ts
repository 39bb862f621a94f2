// Latency of the last finished images: stage times (stacked), time to first token and
// decode speed. Fed by job.updated events when a job is done; one row per job.
import type { JobView } from '../../../electron/contract/bridge';
import { RingBuffer } from './ring-buffer';

export const LATENCY_STAGES = ['decode', 'preprocess', 'vision', 'prefill', 'generate'] as const;
export type LatencyStage = (typeof LATENCY_STAGES)[number];

export interface LatencyRow {
  jobId: string;
  name: string;
  stages: Record<LatencyStage, number>;
  firstTokenMs: number | null;
  tokensPerSecond: number | null;
  totalMs: number;
}

/** The stage split of a finished job; null when it carries no timings. */
export function latencyRow(job: JobView): LatencyRow | null {
  const t = job.timings;
  if (job.state !== 'done' || t.totalMs === undefined || !Number.isFinite(t.totalMs)) return null;
  const ms = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && v > 0 ? v : 0);
  const decode = ms(t.decodeMs);
  const preprocess = ms(t.preprocessMs);
  const vision = ms(t.visionMs);
  const prefill = ms(t.prefillMs);
  // What the named stages do not cover is generation (decoding tokens, parsing).
  const generate = Math.max(0, t.totalMs - decode - preprocess - vision - prefill);
  return {
    jobId: job.id,
    name: job.imageName,
    stages: { decode, preprocess, vision, prefill, generate },
    firstTokenMs: t.firstTokenMs ?? null,
    tokensPerSecond: t.decodeTokensPerSecond ?? null,
    totalMs: t.totalMs,
  };
}

// Columns: 0 job number, 1..5 stages, 6 first token ms, 7 tokens/s (NaN when unknown).
const WIDTH = 1 + LATENCY_STAGES.length + 2;

export class LatencySeries {
  private readonly ring: RingBuffer;
  private readonly seen = new Set<string>();
  private readonly seenOrder: string[] = [];
  private readonly names: string[] = [];
  private jobNumber = 0;
  latest: LatencyRow | null = null;

  constructor(readonly capacity = 50) {
    this.ring = new RingBuffer(capacity, WIDTH);
  }

  get size(): number {
    return this.ring.size;
  }

  /** Records a finished job once (job.updated repeats; regenerating the same id records again only after it ran again). */
  push(job: JobView): boolean {
    const key = `${job.id}@${job.finishedAt ?? ''}`;
    if (this.seen.has(key)) return false;
    const row = latencyRow(job);
    if (!row) return false;
    this.seen.add(key);
    this.seenOrder.push(key);
    if (this.seenOrder.length > this.capacity * 4) this.seen.delete(this.seenOrder.shift()!);
    this.jobNumber++;
    this.ring.push([
      this.jobNumber,
      ...LATENCY_STAGES.map((stage) => row.stages[stage]),
      row.firstTokenMs ?? NaN,
      row.tokensPerSecond ?? NaN,
    ]);
    this.names.push(row.name);
    if (this.names.length > this.capacity) this.names.shift();
    this.latest = row;
    return true;
  }

  /** Image name of the i-th oldest row. */
  name(i: number): string {
    return this.names[i] ?? '';
  }

  stageValue(i: number, stage: LatencyStage): number {
    return this.ring.get(i, 1 + LATENCY_STAGES.indexOf(stage));
  }

  /**
   * uPlot data: [job numbers, stacked stage tops (total first … decode last), first
   * token ms, tokens/s]. Unknown values become null (a gap), as uPlot expects.
   */
  chartData(out: Array<Array<number | null>>): Array<Array<number | null>> {
    const n = this.ring.size;
    const stages = LATENCY_STAGES.length;
    out.length = 1 + stages + 2;
    for (let s = 0; s < out.length; s++) {
      out[s] ??= [];
      out[s]!.length = n;
    }
    for (let i = 0; i < n; i++) {
      out[0]![i] = this.ring.get(i, 0);
      let sum = 0;
      for (let l = 0; l < stages; l++) {
        sum += this.ring.get(i, 1 + l);
        out[stages - l]![i] = sum;
      }
      const ttft = this.ring.get(i, 1 + stages);
      const tps = this.ring.get(i, 2 + stages);
      out[1 + stages]![i] = Number.isNaN(ttft) ? null : ttft;
      out[2 + stages]![i] = Number.isNaN(tps) ? null : tps;
    }
    return out;
  }
}
