// One store of slices (zustand), created as a vanilla store so that bridge events feed it
// from outside React; components read it through useKotaro (store/react.tsx).
import { createStore } from 'zustand/vanilla';
import { createAppSlice } from './app-slice';
import type { StoreDeps } from './deps';
import { createHistorySlice } from './history-slice';
import { createJobsSlice } from './jobs-slice';
import { createModelsSlice } from './models-slice';
import { createSettingsSlice } from './settings-slice';
import type { KotaroState } from './types';
import { createUiSlice } from './ui-slice';

export type { KotaroState } from './types';
export type { StoreDeps, PreviewUrls, ErrorInfo } from './deps';

export function createKotaroStore(deps: StoreDeps) {
  return createStore<KotaroState>()((...a) => ({
    ...createAppSlice(deps)(...a),
    ...createJobsSlice(deps)(...a),
    ...createModelsSlice(deps)(...a),
    ...createSettingsSlice(deps)(...a),
    ...createHistorySlice(deps)(...a),
    ...createUiSlice(deps)(...a),
  }));
}

export type KotaroStore = ReturnType<typeof createKotaroStore>;

/**
 * Subscribes the store to the host's events, then loads what the host already has (events
 * first, so nothing that happens during the loads is missed). Returns the unsubscribe
 * function.
 */
export function connectStore(store: KotaroStore, deps: Pick<StoreDeps, 'bridge'>): () => void {
  const { bridge } = deps;
  const state = () => store.getState();
  const offs = [
    bridge.on('worker.status', (status) => state().setWorker(status)),
    bridge.on('job.updated', (job) => state().applyJobUpdate(job)),
    bridge.on('job.token', (token) => state().applyToken(token)),
    bridge.on('model.status', (status) => state().setModelStatus(status)),
    bridge.on('models.changed', (models) => state().setModels(models)),
    bridge.on('settings.changed', (settings) => state().setSettings(settings)),
  ];
  void state().loadAppInfo();
  void state().loadSettings();
  void state().loadModels();
  void state().loadJobs();
  return () => offs.forEach((off) => off());
}
