import { get } from 'svelte/store';
import { describe, expect, it } from 'vitest';
import { STEPS } from '../views/onboarding/steps';
import { ERROR_KEYS } from './errors';
import { dictionaries, locale, resolveLanguage, t, translate } from './i18n';
import { CONTAINER_STATE_KEYS, ENGINE_STATE_KEYS, HEALTH_KEYS } from './labels';
import { FORM_ERROR_KEYS } from './runform';

// Every source file of the app (not the tests), as text.
const files = Object.entries(
  import.meta.glob(['../**/*.svelte', '../**/*.ts', '!../**/*.test.ts'], { query: '?raw', import: 'default', eager: true }) as Record<
    string,
    string
  >,
);

describe('locales', () => {
  const en = Object.keys(dictionaries.en).sort();
  const es = Object.keys(dictionaries.es).sort();

  it('es and en have exactly the same keys', () => {
    expect(es.filter((k) => !dictionaries.en[k])).toEqual([]);
    expect(en.filter((k) => !dictionaries.es[k])).toEqual([]);
    expect(en.length).toBeGreaterThan(100);
  });

  it('no value is empty and placeholders agree between languages', () => {
    const ph = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort().join(',');
    for (const k of en) {
      expect(dictionaries.en[k].trim(), k).not.toBe('');
      expect(dictionaries.es[k].trim(), k).not.toBe('');
      expect(ph(dictionaries.es[k]), k).toBe(ph(dictionaries.en[k]));
      // A singular form belongs to a key that has an {n}.
      if (k.endsWith('.one')) expect(dictionaries.en[k.slice(0, -4)], k).toContain('{n}');
    }
  });

  it('every t(...) key used in the sources exists', () => {
    const used = new Set<string>();
    for (const [, text] of files) {
      for (const m of text.matchAll(/\$?\bt\(\s*['"`]([^'"`$]+)['"`]/g)) used.add(m[1]);
    }
    expect(files.length).toBeGreaterThan(30);
    expect(used.size).toBeGreaterThan(150);
    expect([...used].filter((k) => !(k in dictionaries.en))).toEqual([]);
  });

  it('keys chosen in code (steps, errors, states, validation) exist', () => {
    const keys = [
      ...STEPS.flatMap((s) => [s.titleKey, s.bodyKey, ...(s.action ? [s.action.labelKey] : []), ...(s.points ?? []).map((p) => p.textKey)]),
      ...ERROR_KEYS,
      ...FORM_ERROR_KEYS,
      ...Object.values(ENGINE_STATE_KEYS),
      ...Object.values(CONTAINER_STATE_KEYS),
      ...Object.values(HEALTH_KEYS),
    ];
    expect(keys.filter((k) => !(k in dictionaries.en))).toEqual([]);
  });

  it('components hold no user-visible text outside the locale files', () => {
    // Text between tags that has letters and is not inside {…} must not appear in .svelte markup.
    const offenders: string[] = [];
    for (const [file, text] of files.filter(([f]) => f.endsWith('.svelte'))) {
      const markup = text
        .replace(/<script[\s\S]*?<\/script>/g, '')
        .replace(/<style[\s\S]*?<\/style>/g, '')
        .replace(/<!--[\s\S]*?-->/g, '')
        .replace(/\{[^{}]*(\{[^{}]*\}[^{}]*)*\}/g, '');
      for (const m of markup.matchAll(/>([^<>]+)</g)) {
        const text = m[1].trim();
        // Allowed: product name, protocol names, punctuation and symbols.
        if (/[A-Za-zÀ-ÿ]{2,}/.test(text) && !/^(Berth|TCP|UDP|Español|English)$/.test(text)) offenders.push(`${file}: ${text}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('t()', () => {
  it('follows the setting, else the system locale, else English', () => {
    expect(resolveLanguage('en', 'es_ES.UTF-8')).toBe('en');
    expect(resolveLanguage(null, 'es_ES.UTF-8')).toBe('es');
    expect(resolveLanguage(null, 'es-MX')).toBe('es');
    expect(resolveLanguage(null, 'de-DE')).toBe('en');
    expect(resolveLanguage(undefined, null)).toBe('en');
  });

  it('switches live and fills parameters', () => {
    locale.set('en');
    expect(get(t)('containers.count', { n: 3, running: 1 })).toBe('3 in total, 1 running');
    locale.set('es');
    expect(get(t)('containers.count', { n: 3, running: 1 })).toBe('3 en total, 1 en marcha');
    expect(translate('es', 'no.such.key')).toBe('no.such.key');
    expect(translate('en', 'containers.groupCount', { n: 1, running: 0 })).toBe('1 container, 0 running');
    expect(translate('es', 'images.count', { n: 1 })).toBe('1 imagen');
    expect(translate('es', 'images.count', { n: 2 })).toBe('2 imágenes');
    locale.set('en');
  });
});
