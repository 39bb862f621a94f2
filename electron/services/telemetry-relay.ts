// Worker telemetry → the window's 'telemetry' event at about 10 Hz. The worker samples at the
// period main configures (telemetry.configure, 100 ms); the relay also caps what reaches the
// window, so a worker that sends faster (or in bursts after a stall) cannot flood the bridge:
// samples closer than `minIntervalMs` are coalesced and the newest one is delivered at the next
// slot (never dropped at the end of a burst, never delivered out of order).
import type { TelemetrySample } from '../contract/bridge.js';

export const TELEMETRY_INTERVAL_MS = 100;

export class TelemetryRelay {
  private lastEmit = -Infinity;
  private pending: TelemetrySample | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** Samples received and delivered (for diagnostics and tests). */
  received = 0;
  delivered = 0;

  constructor(
    private readonly deliver: (sample: TelemetrySample) => void,
    private readonly minIntervalMs = TELEMETRY_INTERVAL_MS * 0.9,
    private readonly now: () => number = () => performance.now(),
  ) {}

  push(sample: TelemetrySample): void {
    this.received++;
    const wait = this.lastEmit + this.minIntervalMs - this.now();
    if (wait <= 0 && !this.timer) {
      this.emit(sample);
      return;
    }
    this.pending = sample;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        const next = this.pending;
        this.pending = null;
        if (next) this.emit(next);
      }, Math.max(0, wait));
      this.timer.unref();
    }
  }

  private emit(sample: TelemetrySample): void {
    this.lastEmit = this.now();
    this.delivered++;
    this.deliver(sample);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }
}
