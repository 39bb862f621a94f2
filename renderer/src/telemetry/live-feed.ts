// The live panel's data, fed straight from bridge events and kept out of React: VRAM
// samples arrive ~10 times a second, and pushing each through the store would re-render
// the window at that rate. Charts subscribe here and redraw on animation frames.
import type { JobView, KotaroBridge } from '../../../electron/contract/bridge';
import { LatencySeries } from './latency-series';
import { VramSeries } from './vram-series';

export type FeedTopic = 'vram' | 'latency';

export class LiveFeed {
  readonly vram: VramSeries;
  readonly latency: LatencySeries;
  private readonly listeners = new Set<(topic: FeedTopic) => void>();
  /** Bumped on every change; lets React read the (rarely changing) latency summary. */
  version = 0;

  constructor(options: { vramCapacity?: number; latencyCapacity?: number } = {}) {
    this.vram = new VramSeries(options.vramCapacity ?? 600);
    this.latency = new LatencySeries(options.latencyCapacity ?? 50);
  }

  /** Subscribes to the host's telemetry and job events; returns the unsubscribe function. */
  attach(bridge: KotaroBridge): () => void {
    const offs = [
      bridge.on('telemetry', (sample) => {
        this.vram.push(sample);
        this.notify('vram');
      }),
      bridge.on('job.updated', (job) => {
        if (this.latency.push(job)) this.notify('latency');
      }),
    ];
    return () => offs.forEach((off) => off());
  }

  /** Records finished jobs known before the window opened, oldest first. */
  seed(jobs: JobView[]): void {
    const done = jobs.filter((job) => job.state === 'done').sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    let added = false;
    for (const job of done.slice(-this.latency.capacity)) added = this.latency.push(job) || added;
    if (added) this.notify('latency');
  }

  subscribe(listener: (topic: FeedTopic) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(topic: FeedTopic): void {
    this.version++;
    for (const listener of this.listeners) listener(topic);
  }
}
