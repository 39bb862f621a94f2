// The interface language: Japanese or English, following the system language unless the
// settings say otherwise. Pure functions (no React) so the store and tests can use them.
import { en, type MessageKey } from './messages-en';
import { ja } from './messages-ja';

export type { MessageKey } from './messages-en';
export type Language = 'ja' | 'en';
export type LanguageSetting = 'system' | Language;
export type MessageParams = Record<string, string | number>;
export type Translate = (key: MessageKey, params?: MessageParams) => string;

export const messages: Record<Language, Record<MessageKey, string>> = { en, ja };

/** 'ja' for any Japanese locale (ja, ja-JP…), otherwise English. */
export function languageFromLocale(locale: string | undefined | null): Language {
  return locale && /^ja\b/i.test(locale.trim()) ? 'ja' : 'en';
}

export function resolveLanguage(setting: LanguageSetting | undefined, systemLocale: string | undefined | null): Language {
  if (setting === 'ja' || setting === 'en') return setting;
  return languageFromLocale(systemLocale);
}

/** Fills {name} placeholders; an unknown placeholder is left visible rather than hidden. */
export function format(template: string, params?: MessageParams): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

export function translator(language: Language): Translate {
  const table = messages[language];
  return (key, params) => format(table[key] ?? en[key], params);
}

/** The placeholders a message uses, sorted (the tests compare them across languages). */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}
