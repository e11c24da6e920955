import { describe, expect, it } from 'vitest';
import { emptyPull, foldProgress, overallPercent } from './progress';
import type { PullProgress } from './types';

const msg = (id: string | null, status: string, current: number | null = null, total: number | null = null): PullProgress => ({
  id,
  status,
  current,
  total,
});

describe('pull progress', () => {
  it('folds a realistic pull into per-layer bars', () => {
    const msgs = [
      msg(null, 'Pulling from library/busybox'),
      msg('aaa', 'Pulling fs layer'),
      msg('bbb', 'Already exists'),
      msg('aaa', 'Downloading', 500, 1000),
      msg('aaa', 'Download complete'),
      msg('aaa', 'Extracting', 1000, 2000),
    ];
    const s = msgs.reduce(foldProgress, emptyPull());
    expect(s.layers.map((l) => [l.id, l.phase, l.percent])).toEqual([
      ['aaa', 'extracting', 90],
      ['bbb', 'done', 100],
    ]);
    expect(s.message).toBe('Pulling from library/busybox');
    expect(overallPercent(s)).toBe(95);
    expect(s.finished).toBe(false);
    const end = foldProgress(foldProgress(s, msg('aaa', 'Pull complete')), msg(null, 'Status: Downloaded newer image for busybox:latest'));
    expect(end.finished).toBe(true);
    expect(overallPercent(end)).toBe(100);
  });

  it('shows download progress as a share of the layer', () => {
    const s = foldProgress(emptyPull(), msg('x', 'Downloading', 250, 1000));
    expect(s.layers[0]).toMatchObject({ phase: 'downloading', percent: 20, current: 250, total: 1000 });
  });

  it('never moves a layer backwards', () => {
    let s = foldProgress(emptyPull(), msg('x', 'Pull complete'));
    s = foldProgress(s, msg('x', 'Downloading', 10, 100));
    expect(s.layers[0].phase).toBe('done');
  });

  it('does not mutate the previous state', () => {
    const a = foldProgress(emptyPull(), msg('x', 'Waiting'));
    const b = foldProgress(a, msg('x', 'Downloading', 1, 2));
    expect(a.layers[0].phase).toBe('waiting');
    expect(b.layers[0].phase).toBe('downloading');
  });
});
