import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { getBridge } from './bridge';
import { connectStore, createKotaroStore } from './store';
import { StoreProvider } from './store/react';
import { LiveFeed } from './telemetry/live-feed';
import { LiveFeedProvider } from './telemetry/react';
import './styles.css';

const bridge = getBridge();
const store = createKotaroStore({
  bridge,
  previews: { create: (file) => URL.createObjectURL(file), revoke: (url) => URL.revokeObjectURL(url) },
  systemLocale: navigator.language,
});
// The live feed subscribes before the store loads anything, so no sample is missed.
const feed = new LiveFeed();
feed.attach(bridge);
connectStore(store, { bridge });
// Latency of jobs finished before this window opened (jobs.list) seeds the chart once.
const stopSeeding = store.subscribe((state) => {
  if (!state.jobsLoaded) return;
  stopSeeding();
  feed.seed(Object.values(state.jobs));
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreProvider store={store}>
      <LiveFeedProvider feed={feed}>
        <App />
      </LiveFeedProvider>
    </StoreProvider>
  </StrictMode>,
);
