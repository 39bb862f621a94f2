// What the window knows about the host: app info and the GPU worker's status.
import type { StateCreator } from 'zustand';
import type { AppInfo, WorkerStatus } from '../../../electron/contract/bridge';
import type { StoreDeps } from './deps';
import type { KotaroState } from './types';

export interface AppSlice {
  appInfo: AppInfo | null;
  worker: WorkerStatus | null;
  connectionError: string | null;
  loadAppInfo(): Promise<void>;
  setWorker(status: WorkerStatus): void;
}

export const createAppSlice =
  (deps: StoreDeps): StateCreator<KotaroState, [], [], AppSlice> =>
  (set) => ({
    appInfo: null,
    worker: null,
    connectionError: null,
    async loadAppInfo() {
      try {
        const info = await deps.bridge.invoke('app.info', {});
        set({ appInfo: info, worker: info.worker, connectionError: null });
      } catch (error) {
        set({ connectionError: (error as Error).message });
      }
    },
    setWorker(status) {
      set({ worker: status });
    },
  });
