// The whole store's state: the union of the slices (each slice's creator sees all of it).
import type { AppSlice } from './app-slice';
import type { HistorySlice } from './history-slice';
import type { JobsSlice } from './jobs-slice';
import type { ModelsSlice } from './models-slice';
import type { SettingsSlice } from './settings-slice';
import type { UiSlice } from './ui-slice';

export type KotaroState = AppSlice & JobsSlice & ModelsSlice & SettingsSlice & HistorySlice & UiSlice;
