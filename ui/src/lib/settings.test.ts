import { get } from 'svelte/store';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const getSettings = vi.fn();
const setSettings = vi.fn();
const systemLocale = vi.fn();
vi.mock('./client', async (importOriginal) => ({
  ...(await importOriginal<typeof import('./client')>()),
  getSettings: () => getSettings(),
  setSettings: (s: unknown) => setSettings(s),
  systemLocale: () => systemLocale(),
}));

const { loadSettings, settings, updateSettings, DEFAULT_SETTINGS } = await import('./settings');
const { locale } = await import('./i18n');

describe('settings', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('follows the system language when the setting says so', async () => {
    getSettings.mockResolvedValue({ language: null, theme: 'dark', startAtLogin: true, onboardingDone: true });
    systemLocale.mockResolvedValue('es_ES.UTF-8');
    const s = await loadSettings();
    expect(s.theme).toBe('dark');
    expect(get(locale)).toBe('es');
  });

  it('does not hold the first screen when the shell does not answer', async () => {
    getSettings.mockReturnValue(new Promise(() => {}));
    systemLocale.mockReturnValue(new Promise(() => {}));
    const loading = loadSettings();
    await vi.advanceTimersByTimeAsync(3000);
    expect(await loading).toEqual(DEFAULT_SETTINGS);
  });

  it('switches the language at once and saves it', async () => {
    getSettings.mockResolvedValue({ ...DEFAULT_SETTINGS, language: 'es' });
    systemLocale.mockResolvedValue('es-ES');
    await loadSettings();
    setSettings.mockImplementation(async (s) => s);
    await updateSettings({ language: 'en' });
    expect(get(locale)).toBe('en');
    expect(setSettings).toHaveBeenLastCalledWith({ ...DEFAULT_SETTINGS, language: 'en' });
    expect(get(settings).language).toBe('en');
  });
});
