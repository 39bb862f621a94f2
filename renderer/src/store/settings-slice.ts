// The host's settings (settings.get / settings.update / settings.changed). The window
// edits a patch; the host validates it and answers with the whole settings.
import type { StateCreator } from 'zustand';
import type { Settings } from '../../../electron/contract/bridge';
import { errorOf } from '../util/format';
import type { ErrorInfo, StoreDeps } from './deps';
import type { KotaroState } from './types';

export interface SettingsSlice {
  settings: Settings | null;
  settingsError: ErrorInfo | null;
  savingSettings: boolean;
  loadSettings(): Promise<void>;
  /** Sends a patch; true when the host accepted it. */
  updateSettings(patch: Partial<Settings>): Promise<boolean>;
  addModelFolder(folder: string): Promise<boolean>;
  removeModelFolder(folder: string): Promise<boolean>;
  setSettings(settings: Settings): void;
}

export const createSettingsSlice =
  (deps: StoreDeps): StateCreator<KotaroState, [], [], SettingsSlice> =>
  (set, get) => ({
    settings: null,
    settingsError: null,
    savingSettings: false,

    async loadSettings() {
      try {
        set({ settings: await deps.bridge.invoke('settings.get', {}), settingsError: null });
      } catch (error) {
        set({ settingsError: errorOf(error) });
      }
    },

    async updateSettings(patch) {
      set({ savingSettings: true });
      try {
        const settings = await deps.bridge.invoke('settings.update', { patch });
        set({ settings, savingSettings: false, settingsError: null });
        return true;
      } catch (error) {
        set({ savingSettings: false, settingsError: errorOf(error) });
        return false;
      }
    },

    async addModelFolder(folder) {
      const path = folder.trim();
      const current = get().settings?.modelFolders ?? [];
      if (!path) return false;
      if (current.includes(path)) return true;
      const ok = await get().updateSettings({ modelFolders: [...current, path] });
      // The registry looks into the new folder now rather than at the next start.
      if (ok) await get().rescanModels();
      return ok;
    },

    async removeModelFolder(folder) {
      const current = get().settings?.modelFolders ?? [];
      const ok = await get().updateSettings({ modelFolders: current.filter((f) => f !== folder) });
      if (ok) await get().rescanModels();
      return ok;
    },

    setSettings(settings) {
      set({ settings });
    },
  });
