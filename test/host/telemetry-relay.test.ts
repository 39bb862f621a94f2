// The telemetry relay's pacing, on a fake clock: 10 Hz passes through, a 200 Hz burst is
// coalesced to the 10 Hz slots, and the newest sample of a burst is always delivered last.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TelemetryRelay } from '../../electron/services/telemetry-relay.js';
import type { TelemetrySample } from '../../electron/contract/bridge.js';

const sample = (t: number): TelemetrySample => ({
  t, deviceUsedBytes: 0, deviceTotalBytes: 0, engine: { weights: 0, kvCache: 0, activations: 0, workspace: 0 }, otherProcessesBytes: null, backend: 'cpu',
});

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('telemetry relay', () => {
  function relay() {
    const out: number[] = [];
    const r = new TelemetryRelay((s) => out.push(s.t), 90, () => Date.now());
    return { r, out };
  }

  it('passes a 10 Hz stream through unchanged', () => {
    const { r, out } = relay();
    for (let i = 0; i < 50; i++) {
      r.push(sample(i));
      vi.advanceTimersByTime(100);
    }
    expect(out).toEqual([...Array(50).keys()]);
  });

  it('coalesces a 200 Hz stream to about 10 Hz, in order, ending with the newest sample', () => {
    const { r, out } = relay();
    for (let i = 0; i < 400; i++) { // 2 s
      r.push(sample(i));
      vi.advanceTimersByTime(5);
    }
    vi.advanceTimersByTime(200);
    // 2 s at one sample per 90 ms slot (≈11 Hz at most) plus the trailing newest one
    expect(out.length).toBeGreaterThanOrEqual(20);
    expect(out.length).toBeLessThanOrEqual(Math.floor(2000 / 90) + 2);
    expect(out).toEqual([...out].sort((a, b) => a - b));
    expect(out.at(-1)).toBe(399);
    expect(r.received).toBe(400);
  });
});
