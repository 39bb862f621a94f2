// Builds the window's store around a FakeBridge, as main.tsx does around the real one.
import { connectStore, createKotaroStore } from '../../renderer/src/store';
import { FakeBridge, fakePreviews, settingsFixture, status } from './fake-bridge';

export function makeStore(options: { bridge?: FakeBridge; systemLocale?: string; connect?: boolean } = {}) {
  const bridge = options.bridge ?? new FakeBridge();
  const previews = fakePreviews();
  const store = createKotaroStore({ bridge, previews, systemLocale: options.systemLocale ?? 'en-US' });
  const disconnect = options.connect ? connectStore(store, { bridge }) : () => undefined;
  return { bridge, previews, store, state: () => store.getState(), disconnect };
}

/** A bridge that answers the start-up calls (app.info, settings, models, jobs) plainly. */
export function startedBridge(): FakeBridge {
  return new FakeBridge()
    .handle('app.info', () => ({
      name: 'Kotaro',
      version: '0.1.0',
      host: 'serve',
      platform: 'linux-x64',
      bridgeVersion: 1,
      worker: { state: 'ready', pid: 42, restarts: 0, lastError: null, engine: null },
    }))
    .handle('settings.get', () => settingsFixture)
    .handle('models.list', () => [])
    .handle('models.status', () => status())
    .handle('jobs.list', () => []);
}
