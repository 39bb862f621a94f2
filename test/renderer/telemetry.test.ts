import { describe, expect, it } from 'vitest';
import { LatencySeries, latencyRow } from '../../renderer/src/telemetry/latency-series';
import { LiveFeed } from '../../renderer/src/telemetry/live-feed';
import { RingBuffer } from '../../renderer/src/telemetry/ring-buffer';
import { VramSeries, breakdown } from '../../renderer/src/telemetry/vram-series';
import { FakeBridge, job, telemetry } from './fake-bridge';

const GiB = 2 ** 30;

describe('RingBuffer', () => {
  it('keeps the newest rows in order once full', () => {
    const ring = new RingBuffer(3, 2);
    for (let i = 1; i <= 5; i++) ring.push([i, i * 10]);
    expect(ring.size).toBe(3);
    expect(ring.copyColumn(0, [])).toEqual([3, 4, 5]);
    expect(ring.copyColumn(1, [9, 9, 9, 9, 9])).toEqual([30, 40, 50]);
    expect(ring.get(0, 1)).toBe(30);
    expect(() => ring.get(3, 0)).toThrow(RangeError);
    expect(() => ring.push([1])).toThrow(/2/);
    ring.clear();
    expect(ring.copyColumn(0, [])).toEqual([]);
  });

  it('refuses a useless shape', () => {
    expect(() => new RingBuffer(0, 1)).toThrow(RangeError);
    expect(() => new RingBuffer(2, 0)).toThrow(RangeError);
  });
});

describe('VRAM breakdown', () => {
  it('splits used memory by what holds it and adds up to the device total', () => {
    const b = breakdown(telemetry());
    // Other = used minus the engine's tensors: other processes and the CUDA context.
    expect(b).toEqual({ weights: 3 * GiB, kvCache: GiB, activations: GiB, other: GiB, free: 2 * GiB, total: 8 * GiB, used: 6 * GiB });
    expect(b.weights + b.kvCache + b.activations + b.other + b.free).toBe(b.total);
    expect(breakdown(telemetry({ otherProcessesBytes: null }))).toEqual(b);
  });

  it('never draws negative layers from inconsistent numbers (CPU backend: no device total)', () => {
    const b = breakdown(telemetry({ deviceUsedBytes: 0, deviceTotalBytes: 0, otherProcessesBytes: 123, backend: 'cpu' }));
    expect(b.used).toBe(5 * GiB);
    expect(b.total).toBe(5 * GiB);
    expect(b.free).toBe(0);
    expect(b.other).toBe(0);
  });
});

describe('VramSeries', () => {
  it('stacks the layers bottom-up for the chart (weights at the bottom, total at the top)', () => {
    const series = new VramSeries(4);
    series.push(telemetry({ t: 1000 }));
    series.push(telemetry({ t: 1100, engine: { weights: 3 * GiB, kvCache: 2 * GiB, activations: 0, workspace: 0 } }));
    const data = series.stacked([]);
    expect(data[0]).toEqual([1, 1.1]);
    // series order: free-top, other-top, activations-top, kv-top, weights-top
    expect(data.map((s) => s[0])).toEqual([1, 8 * GiB, 6 * GiB, 5 * GiB, 4 * GiB, 3 * GiB]);
    expect(data[5]).toEqual([3 * GiB, 3 * GiB]);
    expect(data[4]).toEqual([4 * GiB, 5 * GiB]);
    expect(series.value(1, 'kvCache')).toBe(2 * GiB);
    expect(series.latest?.backend).toBe('cuda');
  });

  it('keeps one minute at 10 Hz and reuses its output arrays', () => {
    const series = new VramSeries();
    const out: number[][] = [];
    for (let i = 0; i < 700; i++) series.push(telemetry({ t: i * 100 }));
    const first = series.stacked(out);
    expect(first).toBe(out);
    expect(out[0]).toHaveLength(600);
    expect(out[0]![0]).toBe(10);
    const col = out[1];
    series.push(telemetry({ t: 70_000 }));
    series.stacked(out);
    expect(out[1]).toBe(col);
    expect(out[0]![599]).toBe(70);
  });
});

describe('latency', () => {
  const done = (id: string, finishedAt: number, totalMs = 1000) =>
    job({
      id,
      state: 'done',
      finishedAt,
      timings: { decodeMs: 10, preprocessMs: 20, visionMs: 300, prefillMs: 170, firstTokenMs: 520, decodeTokensPerSecond: 42.5, totalMs },
    });

  it('splits a job into stages; what the stages leave is generation', () => {
    expect(latencyRow(done('a', 1))).toMatchObject({
      stages: { decode: 10, preprocess: 20, vision: 300, prefill: 170, generate: 500 },
      firstTokenMs: 520,
      tokensPerSecond: 42.5,
      totalMs: 1000,
    });
    expect(latencyRow(job({ id: 'r', state: 'running' }))).toBeNull();
    expect(latencyRow(job({ id: 'n', state: 'done' }))).toBeNull(); // no timings
  });

  it('records each finished job once, stacked for the chart, with gaps for unknown values', () => {
    const series = new LatencySeries(3);
    expect(series.push(done('a', 1))).toBe(true);
    expect(series.push(done('a', 1))).toBe(false); // the same event again
    expect(series.push(done('a', 2, 2000))).toBe(true); // regenerated: a new run
    series.push(job({ id: 'b', state: 'done', finishedAt: 3, timings: { decodeMs: undefined, preprocessMs: undefined, visionMs: undefined, prefillMs: undefined, firstTokenMs: undefined, decodeTokensPerSecond: undefined, totalMs: 50 } }));
    const data = series.chartData([]);
    expect(data[0]).toEqual([1, 2, 3]);
    expect(data[1]).toEqual([1000, 2000, 50]); // stacked top = total
    expect(data[5]).toEqual([10, 10, 0]); // bottom = decode
    expect(data[6]).toEqual([520, 520, null]);
    expect(data[7]).toEqual([42.5, 42.5, null]);
    series.push(done('c', 4));
    expect(series.chartData([])[0]).toEqual([2, 3, 4]);
    expect(series.name(2)).toBe('c.png');
    expect(series.latest?.jobId).toBe('c');
  });
});

describe('LiveFeed', () => {
  it('takes telemetry and finished jobs from the bridge, notifying per topic, and detaches', () => {
    const bridge = new FakeBridge();
    const feed = new LiveFeed();
    const topics: string[] = [];
    feed.subscribe((topic) => topics.push(topic));
    const detach = feed.attach(bridge);
    bridge.emit('telemetry', telemetry());
    bridge.emit('telemetry', telemetry({ t: telemetry().t + 100 }));
    bridge.emit('job.updated', job({ id: 'r', state: 'running' }));
    bridge.emit('job.updated', job({ id: 'd', state: 'done', finishedAt: 5, timings: { decodeMs: 1, preprocessMs: 1, visionMs: 1, prefillMs: 1, firstTokenMs: 4, decodeTokensPerSecond: 10, totalMs: 9 } }));
    expect(topics).toEqual(['vram', 'vram', 'latency']);
    expect(feed.vram.size).toBe(2);
    expect(feed.latency.size).toBe(1);
    detach();
    bridge.emit('telemetry', telemetry());
    expect(feed.vram.size).toBe(2);
  });

  it('seeds latency from jobs finished before the window opened, oldest first', () => {
    const feed = new LiveFeed({ latencyCapacity: 2 });
    const t = (totalMs: number) => ({ decodeMs: 1, preprocessMs: 1, visionMs: 1, prefillMs: 1, firstTokenMs: 2, decodeTokensPerSecond: 5, totalMs });
    feed.seed([
      job({ id: 'late', state: 'done', finishedAt: 30, timings: t(300) }),
      job({ id: 'early', state: 'done', finishedAt: 10, timings: t(100) }),
      job({ id: 'mid', state: 'done', finishedAt: 20, timings: t(200) }),
      job({ id: 'fail', state: 'failed', finishedAt: 40 }),
    ]);
    expect(feed.latency.chartData([])[1]).toEqual([200, 300]);
    expect(feed.latency.latest?.jobId).toBe('late');
  });
});
