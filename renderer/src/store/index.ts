// One store of slices (zustand), created as a vanilla store so that bridge events can feed
// it from outside React; components read it through the useKotaro hook.
import { createStore, useStore } from 'zustand';
import type { KotaroBridge } from '../../../electron/contract/bridge';
import { createAppSlice, type AppSlice } from './app-slice';

export type KotaroState = AppSlice;

export function createKotaroStore() {
  return createStore<KotaroState>()((...a) => ({
    ...createAppSlice(...a),
  }));
}

export type KotaroStore = ReturnType<typeof createKotaroStore>;

/** Subscribes the store to the host's events; returns the unsubscribe function. */
export function connectStore(store: KotaroStore, bridge: KotaroBridge): () => void {
  const offs = [bridge.on('worker.status', (status) => store.getState().setWorker(status))];
  void store.getState().loadAppInfo(bridge);
  return () => offs.forEach((off) => off());
}

export const kotaroStore = createKotaroStore();

export function useKotaro<T>(selector: (state: KotaroState) => T): T {
  return useStore(kotaroStore, selector);
}
