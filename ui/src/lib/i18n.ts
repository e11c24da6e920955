// A tiny translation store: `$t(<key>, {param})`, language switchable live.
import { derived, writable } from 'svelte/store';
import en from '../locales/en.json';
import es from '../locales/es.json';
import type { Language } from './types';

export const dictionaries: Record<Language, Record<string, string>> = { en, es };
export const LANGUAGES: Language[] = ['es', 'en'];

export const locale = writable<Language>('en');

/** The language to show: the setting, else the system locale ("es-ES", "es_MX.UTF-8" → es), else English. */
export function resolveLanguage(setting: Language | null | undefined, system: string | null | undefined): Language {
  if (setting) return setting;
  const base = (system ?? '').toLowerCase().split(/[-_.@]/)[0];
  return (LANGUAGES as string[]).includes(base) ? (base as Language) : 'en';
}

export type Params = Record<string, string | number>;

/** A key may have a singular form `<key>.one`, used when the `n` parameter is 1. */
export function translate(lang: Language, key: string, params?: Params): string {
  const k = params?.n === 1 && `${key}.one` in dictionaries[lang] ? `${key}.one` : key;
  const text = dictionaries[lang][k] ?? dictionaries.en[k] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

export const t = derived(locale, (lang) => (key: string, params?: Params) => translate(lang, key, params));

export function setLanguage(lang: Language) {
  locale.set(lang);
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
}
