// The model registry as the host reports it (models.list / models.rescan / models.changed)
// and the loaded model's status (models.status / model.status events, with progress).
import type { StateCreator } from 'zustand';
import type { ModelEntry, ModelStatus } from '../../../electron/contract/bridge';
import { errorOf } from '../util/format';
import type { ErrorInfo, StoreDeps } from './deps';
import type { KotaroState } from './types';

export interface ModelsSlice {
  models: ModelEntry[];
  modelStatus: ModelStatus | null;
  modelsLoaded: boolean;
  rescanning: boolean;
  modelsError: ErrorInfo | null;
  loadModels(): Promise<void>;
  rescanModels(): Promise<void>;
  loadModel(modelId: string): Promise<void>;
  unloadModel(): Promise<void>;
  setModels(models: ModelEntry[]): void;
  setModelStatus(status: ModelStatus): void;
}

export const createModelsSlice =
  (deps: StoreDeps): StateCreator<KotaroState, [], [], ModelsSlice> =>
  (set) => ({
    models: [],
    modelStatus: null,
    modelsLoaded: false,
    rescanning: false,
    modelsError: null,

    async loadModels() {
      try {
        const [models, status] = await Promise.all([deps.bridge.invoke('models.list', {}), deps.bridge.invoke('models.status', {})]);
        set({ models, modelStatus: status, modelsLoaded: true, modelsError: null });
      } catch (error) {
        set({ modelsLoaded: true, modelsError: errorOf(error) });
      }
    },

    async rescanModels() {
      set({ rescanning: true });
      try {
        const models = await deps.bridge.invoke('models.rescan', {});
        set({ models, rescanning: false, modelsError: null });
      } catch (error) {
        set({ rescanning: false, modelsError: errorOf(error) });
      }
    },

    async loadModel(modelId) {
      set({ modelsError: null });
      try {
        // Progress arrives as model.status events; the reply is the state when loading ends.
        set({ modelStatus: await deps.bridge.invoke('models.load', { modelId }) });
      } catch (error) {
        set({ modelsError: errorOf(error) });
      }
    },

    async unloadModel() {
      set({ modelsError: null });
      try {
        set({ modelStatus: await deps.bridge.invoke('models.unload', {}) });
      } catch (error) {
        set({ modelsError: errorOf(error) });
      }
    },

    setModels(models) {
      set({ models });
    },

    setModelStatus(status) {
      set({ modelStatus: status });
    },
  });
