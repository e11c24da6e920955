// Light/dark themes through a data attribute on <html>; "system" follows prefers-color-scheme live.
import type { Theme } from './types';

let media: MediaQueryList | null = null;
let onChange: (() => void) | null = null;

export function effectiveTheme(theme: Theme, prefersDark: boolean): 'light' | 'dark' {
  return theme === 'system' ? (prefersDark ? 'dark' : 'light') : theme;
}

export function applyTheme(theme: Theme) {
  if (typeof document === 'undefined') return;
  if (media && onChange) media.removeEventListener('change', onChange);
  media = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : null;
  const set = () => (document.documentElement.dataset.theme = effectiveTheme(theme, !!media?.matches));
  set();
  if (theme === 'system' && media) {
    onChange = set;
    media.addEventListener('change', onChange);
  }
}
