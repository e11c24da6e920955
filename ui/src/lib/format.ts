// Sizes, dates and ids as people read them.

/** Decimal units as the docker CLI prints sizes (kB = 1000 bytes), three significant digits. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '—';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  const digits = u === 0 ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${v.toFixed(digits)} ${units[u]}`;
}

/** "sha256:abcdef…" → the 12 hex digits docker shows. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Unix seconds, RFC 3339 text or null → milliseconds (null when unknown). */
export function toMillis(created: number | string | null | undefined): number | null {
  if (created === null || created === undefined || created === '') return null;
  if (typeof created === 'number') return created > 1e12 ? created : created * 1000;
  const ms = Date.parse(created);
  return Number.isNaN(ms) ? null : ms;
}

/** "3 minutes ago" / "hace 3 minutos" in the given locale. */
export function formatAgo(created: number | string | null | undefined, locale: string, now = Date.now()): string {
  const ms = toMillis(created);
  if (ms === null) return '—';
  const secs = Math.round((ms - now) / 1000);
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  const abs = Math.abs(secs);
  if (abs < 60) return rtf.format(secs, 'second');
  if (abs < 3600) return rtf.format(Math.round(secs / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(secs / 3600), 'hour');
  if (abs < 86400 * 30) return rtf.format(Math.round(secs / 86400), 'day');
  if (abs < 86400 * 365) return rtf.format(Math.round(secs / (86400 * 30)), 'month');
  return rtf.format(Math.round(secs / (86400 * 365)), 'year');
}

export function formatDate(created: number | string | null | undefined, locale: string): string {
  const ms = toMillis(created);
  if (ms === null) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

export function formatPercent(v: number): string {
  return `${(Number.isFinite(v) ? v : 0).toFixed(1)} %`;
}

/**
 * The detail header's status from inspect: "Started 3 minutes ago" / "Exited (137) 2 minutes
 * ago", kept current by the caller's clock instead of the engine's text frozen at list time.
 */
export function statusSince(
  s: { state: string; startedAt: string | null; finishedAt: string | null; exitCode: number | null },
  locale: string,
  t: (key: string, vars?: Record<string, string | number>) => string,
  now = Date.now(),
): string | null {
  if ((s.state === 'running' || s.state === 'paused') && s.startedAt)
    return t('status.started', { ago: formatAgo(s.startedAt, locale, now) });
  if (s.state === 'exited' && s.finishedAt) return t('status.exited', { code: s.exitCode ?? 0, ago: formatAgo(s.finishedAt, locale, now) });
  return null;
}
