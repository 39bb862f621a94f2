import { describe, expect, it } from 'vitest';
import { format, languageFromLocale, messages, placeholders, resolveLanguage, translator } from '../../renderer/src/i18n';
import { en } from '../../renderer/src/i18n/messages-en';

const keys = Object.keys(en) as Array<keyof typeof en>;

describe('i18n', () => {
  it('has every message in both languages, non-empty, with the same placeholders', () => {
    expect(Object.keys(messages.ja).sort()).toEqual([...keys].sort());
    for (const key of keys) {
      expect(messages.en[key].trim(), key).not.toBe('');
      expect(messages.ja[key].trim(), key).not.toBe('');
      expect(placeholders(messages.ja[key]), key).toEqual(placeholders(messages.en[key]));
    }
  });

  it('translates the interface (Japanese text is Japanese, not a copy of the English)', () => {
    const untranslated = keys.filter((k) => messages.ja[k] === messages.en[k]);
    // Only names, symbols and terms used as-is in Japanese UIs may stay equal.
    expect(untranslated.sort()).toEqual(
      ['app.title', 'backend.cpu', 'backend.cuda', 'lang.en', 'lang.ja', 'models.folderPlaceholder', 'settings.minP', 'settings.topK', 'settings.topP', 'status.unknown'].sort(),
    );
    expect(translator('ja')('nav.history')).toBe('履歴');
    expect(translator('en')('nav.history')).toBe('History');
  });

  it('follows a Japanese system language, else English, unless the setting says otherwise', () => {
    expect(languageFromLocale('ja')).toBe('ja');
    expect(languageFromLocale('ja-JP')).toBe('ja');
    expect(languageFromLocale('JA-jp')).toBe('ja');
    expect(languageFromLocale('jv-ID')).toBe('en'); // Javanese is not Japanese
    expect(languageFromLocale('en-GB')).toBe('en');
    expect(languageFromLocale('')).toBe('en');
    expect(languageFromLocale(undefined)).toBe('en');
    expect(resolveLanguage('system', 'ja-JP')).toBe('ja');
    expect(resolveLanguage('en', 'ja-JP')).toBe('en');
    expect(resolveLanguage('ja', 'fr-FR')).toBe('ja');
    expect(resolveLanguage(undefined, 'fr-FR')).toBe('en');
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(format('{a} of {b}', { a: 1, b: 'two' })).toBe('1 of two');
    expect(format('{a} and {missing}', { a: 'x' })).toBe('x and {missing}');
    expect(translator('ja')('queue.counts', { waiting: 1, running: 2, done: 3, failed: 4 })).toBe('待機 1 · 実行中 2 · 完了 3 · 失敗 4');
  });
});
