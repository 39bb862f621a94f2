// React access to the live feed. Only rarely changing parts (the last finished job) are
// read as React state; the charts subscribe to the feed themselves.
import { createContext, useContext, useSyncExternalStore, type ReactNode } from 'react';
import type { LiveFeed } from './live-feed';
import type { LatencyRow } from './latency-series';

const FeedContext = createContext<LiveFeed | null>(null);

export function LiveFeedProvider({ feed, children }: { feed: LiveFeed; children: ReactNode }) {
  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}

export function useLiveFeed(): LiveFeed {
  const feed = useContext(FeedContext);
  if (!feed) throw new Error('useLiveFeed outside <LiveFeedProvider>');
  return feed;
}

/** The last finished job's latency: changes once per job, not per telemetry sample. */
export function useLatestLatency(): LatencyRow | null {
  const feed = useLiveFeed();
  return useSyncExternalStore(
    (onChange) => feed.subscribe((topic) => topic === 'latency' && onChange()),
    () => feed.latency.latest,
  );
}
