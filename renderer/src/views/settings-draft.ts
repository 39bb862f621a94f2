// The settings form's draft: numbers kept as typed text until saved, and the patch of
// what changed. Pure, so the rules are tested without a DOM.
import type { Settings } from '../../../electron/contract/bridge';
import type { MessageKey } from '../i18n';

export type NumberKey = { [K in keyof Settings]: Settings[K] extends number ? K : never }[keyof Settings];
export interface NumberSpec {
  key: NumberKey;
  label: MessageKey;
  min: number;
  max?: number;
  step: number;
}

export const samplingSpecs: NumberSpec[] = [
  { key: 'temperature', label: 'settings.temperature', min: 0, max: 2, step: 0.01 },
  { key: 'topP', label: 'settings.topP', min: 0, max: 1, step: 0.01 },
  { key: 'topK', label: 'settings.topK', min: 0, max: 1000, step: 1 },
  { key: 'minP', label: 'settings.minP', min: 0, max: 1, step: 0.01 },
  { key: 'repetitionPenalty', label: 'settings.repetitionPenalty', min: 1, max: 2, step: 0.01 },
  { key: 'maxNewTokens', label: 'settings.maxNewTokens', min: 16, max: 4096, step: 1 },
];
export const imageSpecs: NumberSpec[] = [{ key: 'maxImageSide', label: 'settings.maxImageSide', min: 112, max: 2048, step: 1 }];
export const engineSpecs: NumberSpec[] = [
  { key: 'vramBudgetMB', label: 'settings.vramBudgetMB', min: 0, step: 1 },
  { key: 'contextLength', label: 'settings.contextLength', min: 512, max: 32768, step: 1 },
];
export const commentSpecs: NumberSpec[] = [{ key: 'commentCount', label: 'settings.commentCount', min: 1, max: 10, step: 1 }];
const numberSpecs = [...samplingSpecs, ...imageSpecs, ...engineSpecs, ...commentSpecs];

export type SettingsDraft = Record<NumberKey, string> & Pick<Settings, 'commentTone' | 'outputLanguage' | 'uiLanguage' | 'backend' | 'hardwareAcceleration'>;

export function toDraft(settings: Settings): SettingsDraft {
  const numbers = Object.fromEntries(numberSpecs.map((spec) => [spec.key, String(settings[spec.key])])) as Record<NumberKey, string>;
  return {
    ...numbers,
    commentTone: settings.commentTone,
    outputLanguage: settings.outputLanguage,
    uiLanguage: settings.uiLanguage,
    backend: settings.backend,
    hardwareAcceleration: settings.hardwareAcceleration,
  };
}

/** The fields that differ from the settings, numbers parsed. */
export function settingsPatch(settings: Settings, draft: SettingsDraft): Partial<Settings> {
  const patch: Partial<Record<keyof Settings, unknown>> = {};
  for (const spec of numberSpecs) {
    const value = Number(draft[spec.key]);
    if (draft[spec.key].trim() !== '' && Number.isFinite(value) && value !== settings[spec.key]) patch[spec.key] = value;
  }
  for (const key of ['commentTone', 'outputLanguage', 'uiLanguage', 'backend', 'hardwareAcceleration'] as const) {
    if (draft[key] !== settings[key]) patch[key] = draft[key];
  }
  return patch as Partial<Settings>;
}

