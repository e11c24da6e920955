// App settings: loaded once, applied live (language, theme), saved through set_settings.
import { get, writable } from 'svelte/store';
import * as client from './client';
import { resolveLanguage, setLanguage } from './i18n';
import { applyTheme } from './theme';
import type { Settings } from './types';

export const DEFAULT_SETTINGS: Settings = {
  language: null,
  theme: 'system',
  startAtLogin: false,
  onboardingDone: false,
  engineInVm: false,
  vmCpus: 2,
  vmMemoryMib: 2048,
  vmDiskGib: 64,
};

export const settings = writable<Settings>(DEFAULT_SETTINGS);
let systemLang = '';

function apply(s: Settings) {
  setLanguage(resolveLanguage(s.language, systemLang));
  applyTheme(s.theme);
}

/** Loads settings and the system locale; falls back to defaults (and the browser's language) when the shell cannot answer. */
export async function loadSettings(): Promise<Settings> {
  // The first screen waits for this: never longer than a few seconds.
  const [s, loc] = await Promise.allSettled([
    client.withTimeout(client.getSettings(), 3000),
    client.withTimeout(client.systemLocale(), 3000),
  ]);
  systemLang = loc.status === 'fulfilled' ? loc.value : typeof navigator !== 'undefined' ? navigator.language : '';
  const value = s.status === 'fulfilled' ? { ...DEFAULT_SETTINGS, ...s.value } : DEFAULT_SETTINGS;
  settings.set(value);
  apply(value);
  return value;
}

/** Applies a change at once and saves it; on failure the change stays applied and the error is thrown. */
export async function updateSettings(patch: Partial<Settings>): Promise<void> {
  const next = { ...get(settings), ...patch };
  settings.set(next);
  apply(next);
  const saved = await client.setSettings(next);
  settings.set({ ...DEFAULT_SETTINGS, ...saved });
}
