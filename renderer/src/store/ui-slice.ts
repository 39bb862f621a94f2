// Which view is showing and the interface language (the setting, else the system's).
import type { StateCreator } from 'zustand';
import { resolveLanguage, type Language } from '../i18n';
import type { StoreDeps } from './deps';
import type { KotaroState } from './types';

export const VIEWS = ['queue', 'history', 'models', 'settings'] as const;
export type ViewName = (typeof VIEWS)[number];

export interface UiSlice {
  view: ViewName;
  systemLocale: string;
  setView(view: ViewName): void;
}

export const createUiSlice =
  (deps: StoreDeps): StateCreator<KotaroState, [], [], UiSlice> =>
  (set) => ({
    view: 'queue',
    systemLocale: deps.systemLocale,
    setView(view) {
      set({ view });
    },
  });

/** Selector: the language the window speaks now. */
export const selectLanguage = (s: KotaroState): Language => resolveLanguage(s.settings?.uiLanguage, s.systemLocale);
