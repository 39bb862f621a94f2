// What the window knows about the host: app info and the GPU worker's status.
import type { StateCreator } from 'zustand';
import type { AppInfo, WorkerStatus } from '../../../electron/contract/bridge';
import type { KotaroBridge } from '../../../electron/contract/bridge';

export interface AppSlice {
  appInfo: AppInfo | null;
  worker: WorkerStatus | null;
  connectionError: string | null;
  loadAppInfo(bridge: KotaroBridge): Promise<void>;
  setWorker(status: WorkerStatus): void;
}

export const createAppSlice: StateCreator<AppSlice, [], [], AppSlice> = (set) => ({
  appInfo: null,
  worker: null,
  connectionError: null,
  async loadAppInfo(bridge) {
    try {
      const info = await bridge.invoke('app.info', {});
      set({ appInfo: info, worker: info.worker, connectionError: null });
    } catch (error) {
      set({ connectionError: (error as Error).message });
    }
  },
  setWorker(status) {
    set({ worker: status });
  },
});
