import { describe, expect, it } from 'vitest';
import { formatAgo, formatBytes, shortId, toMillis, statusSince } from './format';

describe('format', () => {
  it('prints sizes in decimal units like the docker CLI', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1000)).toBe('1.00 kB');
    expect(formatBytes(4_261_000)).toBe('4.26 MB');
    expect(formatBytes(187_700_000)).toBe('188 MB');
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
  });

  it('shortens ids', () => {
    expect(shortId('sha256:0123456789abcdef0123')).toBe('0123456789ab');
    expect(shortId('fedcba9876543210')).toBe('fedcba987654');
  });

  it('reads unix seconds, milliseconds and RFC 3339', () => {
    expect(toMillis(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toMillis(1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(toMillis('2024-01-01T00:00:00Z')).toBe(Date.UTC(2024, 0, 1));
    expect(toMillis('nonsense')).toBeNull();
    expect(toMillis(null)).toBeNull();
  });

  it('says how long ago, in the chosen language', () => {
    const now = 1_700_000_000_000;
    expect(formatAgo(1_700_000_000 - 180, 'en', now)).toBe('3 minutes ago');
    expect(formatAgo(1_700_000_000 - 180, 'es', now)).toBe('hace 3 minutos');
    expect(formatAgo(1_700_000_000 - 2 * 86400, 'en', now)).toBe('2 days ago');
    expect(formatAgo(null, 'en', now)).toBe('—');
    // Data newer than the clock: never the future tense.
    expect(formatAgo(1_700_000_000 + 3, 'en', now)).toBe('now');
    expect(formatAgo(1_700_000_000 + 90, 'es', now)).toBe('ahora');
  });
});

describe('statusSince', () => {
  const t = (key: string, v: Record<string, string | number> = {}) => `${key}:${JSON.stringify(v)}`;
  const now = Date.parse('2026-11-23T16:10:00Z');
  it('says since when a container runs or when it exited, from inspect times', () => {
    expect(statusSince({ state: 'running', startedAt: '2026-11-23T16:07:00Z', finishedAt: null, exitCode: 0 }, 'en', t, now)).toBe(
      'status.started:{"ago":"3 minutes ago"}',
    );
    expect(statusSince({ state: 'exited', startedAt: null, finishedAt: '2026-11-23T14:10:00Z', exitCode: 137 }, 'es', t, now)).toBe(
      'status.exited:{"code":137,"ago":"hace 2 horas"}',
    );
    expect(statusSince({ state: 'created', startedAt: null, finishedAt: null, exitCode: null }, 'en', t, now)).toBeNull();
  });
});
