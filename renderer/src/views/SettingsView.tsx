// Settings: sampling and image-size defaults, comments, languages, engine. The form keeps
// a draft; Save sends only what changed and the host answers with the settings it kept.
import { useId, useState, type ReactNode } from 'react';
import type { Settings } from '../../../electron/contract/bridge';
import { languageFromLocale, type MessageKey } from '../i18n';
import { commentSpecs, engineSpecs, imageSpecs, samplingSpecs, settingsPatch, toDraft, type NumberSpec, type SettingsDraft as Draft } from './settings-draft';
import { useT } from '../i18n/use-t';
import { useKotaro } from '../store/react';

function Field({ label, children, id }: { label: string; children: ReactNode; id: string }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}

export function SettingsView() {
  const t = useT();
  const settings = useKotaro((s) => s.settings);
  const error = useKotaro((s) => s.settingsError);
  if (!settings) {
    return <p className="empty">{error ? t('settings.error', { message: error.message }) : t('settings.loading')}</p>;
  }
  return <SettingsForm settings={settings} />;
}

function SettingsForm({ settings }: { settings: Settings }) {
  const t = useT();
  const idBase = useId();
  const error = useKotaro((s) => s.settingsError);
  const saving = useKotaro((s) => s.savingSettings);
  const systemLocale = useKotaro((s) => s.systemLocale);
  const updateSettings = useKotaro((s) => s.updateSettings);
  const [base, setBase] = useState(settings);
  const [draft, setDraft] = useState(() => toDraft(settings));
  const [saved, setSaved] = useState(false);
  const dirty = Object.keys(settingsPatch(base, draft)).length > 0;
  // New settings from the host (saved here or elsewhere): take them unless mid-edit.
  if (settings !== base) {
    setBase(settings);
    if (!dirty) setDraft(toDraft(settings));
  }

  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [key]: value }));
  };
  const numberInput = (spec: NumberSpec) => {
    const id = `${idBase}-${spec.key}`;
    return (
      <Field key={spec.key} id={id} label={t(spec.label)}>
        <input id={id} type="number" required min={spec.min} max={spec.max} step={spec.step} value={draft[spec.key]} onChange={(e) => set(spec.key, e.target.value)} data-testid={`setting-${spec.key}`} />
      </Field>
    );
  };
  const select = <K extends 'commentTone' | 'outputLanguage' | 'uiLanguage' | 'backend'>(key: K, label: MessageKey, options: Array<[Draft[K], string]>) => {
    const id = `${idBase}-${key}`;
    return (
      <Field id={id} label={t(label)}>
        <select id={id} value={draft[key]} onChange={(e) => set(key, e.target.value as Draft[K])} data-testid={`setting-${key}`}>
          {options.map(([value, text]) => (
            <option key={value} value={value}>
              {text}
            </option>
          ))}
        </select>
      </Field>
    );
  };
  const systemLanguage = t(languageFromLocale(systemLocale) === 'ja' ? 'lang.ja' : 'lang.en');

  return (
    <form
      className="settings-view"
      onSubmit={(e) => {
        e.preventDefault();
        void updateSettings(settingsPatch(settings, draft)).then((ok) => setSaved(ok));
      }}
    >
      <div className="view-toolbar">
        <h2>{t('settings.label')}</h2>
        <button type="button" disabled={!dirty} onClick={() => setDraft(toDraft(settings))}>
          {t('settings.reset')}
        </button>
        <button type="submit" className="primary" disabled={!dirty || saving} data-testid="settings-save">
          {t('settings.save')}
        </button>
        {saved && !dirty ? (
          <span className="saved" role="status">
            {t('settings.saved')}
          </span>
        ) : null}
      </div>
      {error ? (
        <p className="job-error" role="alert">
          {t('settings.error', { message: error.message })}
        </p>
      ) : null}
      <div className="settings-groups">
        <fieldset>
          <legend>{t('settings.interface')}</legend>
          {select('uiLanguage', 'settings.uiLanguage', [
            ['system', t('lang.system', { lang: systemLanguage })],
            ['ja', t('lang.ja')],
            ['en', t('lang.en')],
          ])}
        </fieldset>
        <fieldset>
          <legend>{t('settings.comments')}</legend>
          {select('commentTone', 'settings.commentTone', (['friendly', 'casual', 'professional', 'playful', 'poetic'] as const).map((tone) => [tone, t(`tone.${tone}`)]))}
          {commentSpecs.map(numberInput)}
          {select('outputLanguage', 'settings.outputLanguage', [
            ['ja', t('lang.ja')],
            ['en', t('lang.en')],
          ])}
        </fieldset>
        <fieldset>
          <legend>{t('settings.sampling')}</legend>
          {samplingSpecs.map(numberInput)}
        </fieldset>
        <fieldset>
          <legend>{t('settings.image')}</legend>
          {imageSpecs.map(numberInput)}
        </fieldset>
        <fieldset>
          <legend>{t('settings.engine')}</legend>
          {select('backend', 'settings.backend', (['auto', 'cpu', 'cuda'] as const).map((b) => [b, t(`backend.${b}`)]))}
          {engineSpecs.map(numberInput)}
          <div className="field checkbox">
            <input
              id={`${idBase}-hw`}
              type="checkbox"
              checked={draft.hardwareAcceleration}
              onChange={(e) => set('hardwareAcceleration', e.target.checked)}
            />
            <label htmlFor={`${idBase}-hw`}>{t('settings.hardwareAcceleration')}</label>
          </div>
        </fieldset>
      </div>
    </form>
  );
}
