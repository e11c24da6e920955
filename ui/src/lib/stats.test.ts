import { describe, expect, it } from 'vitest';
import { appendSample, toSeries } from './stats';
import type { StatsSample } from './types';

const s = (time: number, netRx: number, netTx = 0, cpuPercent = 1): StatsSample => ({
  time,
  netRx,
  netTx,
  cpuPercent,
  memUsage: 10,
  memLimit: 100,
});

describe('stats', () => {
  it('keeps a bounded window', () => {
    let w: StatsSample[] = [];
    for (let i = 0; i < 5; i++) w = appendSample(w, s(i, 0), 3);
    expect(w.map((x) => x.time)).toEqual([2, 3, 4]);
  });

  it('turns network counters into rates, in seconds or milliseconds', () => {
    expect(toSeries([s(10, 0), s(12, 2000, 100), s(13, 1000)]).rxRate).toEqual([1000, 0]);
    expect(toSeries([s(1_700_000_000_000, 0), s(1_700_000_002_000, 4000)]).rxRate).toEqual([2000]);
    const series = toSeries([s(1, 0, 0, 5), s(2, 0, 0, 7)]);
    expect(series.cpu).toEqual([5, 7]);
    expect(series.memLimit).toBe(100);
  });
});
