// VRAM over time, split the way the live panel stacks it: weights, KV cache, activations
// (with the engine's workspace), other processes, free. Samples arrive at ~10 Hz; the
// ring keeps the last minute.
import type { TelemetrySample } from '../../../electron/contract/bridge';
import { RingBuffer } from './ring-buffer';

export const VRAM_LAYERS = ['weights', 'kvCache', 'activations', 'other', 'free'] as const;
export type VramLayer = (typeof VRAM_LAYERS)[number];
export type VramBreakdown = Record<VramLayer, number> & { total: number; used: number };

// Column 0 is the time (s); 1..5 the layers in VRAM_LAYERS order.
const T = 0;

/** Splits one sample into the stacked layers. Never negative; the layers sum to max(total, used). */
export function breakdown(sample: TelemetrySample): VramBreakdown {
  const nonNeg = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  const weights = nonNeg(sample.engine.weights);
  const kvCache = nonNeg(sample.engine.kvCache);
  const activations = nonNeg(sample.engine.activations) + nonNeg(sample.engine.workspace);
  const engine = weights + kvCache + activations;
  const used = Math.max(nonNeg(sample.deviceUsedBytes), engine);
  // Everything on the device that is not the engine's own tensors: other processes (the
  // window, other programs) and the CUDA context. Counted as used minus engine, not from
  // NVML's per-process figure, so the stack always adds up to the device total.
  const other = used - engine;
  const total = Math.max(nonNeg(sample.deviceTotalBytes), used);
  return { weights, kvCache, activations, other, free: total - used, total, used };
}

export class VramSeries {
  private readonly ring: RingBuffer;
  private readonly row = new Float64Array(1 + VRAM_LAYERS.length);
  latest: (VramBreakdown & { backend: string; t: number }) | null = null;

  constructor(capacity = 600) {
    this.ring = new RingBuffer(capacity, 1 + VRAM_LAYERS.length);
  }

  get size(): number {
    return this.ring.size;
  }

  push(sample: TelemetrySample): void {
    const b = breakdown(sample);
    this.row[T] = sample.t / 1000;
    VRAM_LAYERS.forEach((layer, i) => (this.row[1 + i] = b[layer]));
    this.ring.push(this.row);
    this.latest = { ...b, backend: sample.backend, t: sample.t };
  }

  /** Raw value of a layer in the i-th oldest sample (for the legend). */
  value(i: number, layer: VramLayer): number {
    return this.ring.get(i, 1 + VRAM_LAYERS.indexOf(layer));
  }

  /**
   * uPlot data for a stacked area chart: [times, free-top, other-top, activations-top,
   * kv-top, weights-top]. Each series is the running sum from the bottom layer (weights)
   * up, drawn tallest first so each fill covers the one below it.
   */
  stacked(out: number[][]): number[][] {
    const n = this.ring.size;
    out.length = 1 + VRAM_LAYERS.length;
    for (let s = 0; s < out.length; s++) {
      out[s] ??= [];
      out[s]!.length = n;
    }
    this.ring.copyColumn(T, out[0]!);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let l = 0; l < VRAM_LAYERS.length; l++) {
        sum += this.ring.get(i, 1 + l);
        // Layer l (bottom-up) goes to series index (layers - l): weights last, free first.
        out[VRAM_LAYERS.length - l]![i] = sum;
      }
    }
    return out;
  }
}
