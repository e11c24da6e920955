// Stats samples → series for the charts (network as bytes per second between samples).
import type { StatsSample } from './types';

export interface StatsSeries {
  cpu: number[];
  mem: number[];
  memLimit: number;
  rxRate: number[];
  txRate: number[];
}

export const MAX_SAMPLES = 60;

export function appendSample(samples: StatsSample[], s: StatsSample, max = MAX_SAMPLES): StatsSample[] {
  const next = samples.length >= max ? samples.slice(samples.length - max + 1) : samples.slice();
  next.push(s);
  return next;
}

export function toSeries(samples: StatsSample[]): StatsSeries {
  const rxRate: number[] = [];
  const txRate: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    // `time` is unix seconds, or milliseconds when that large; a counter that went back (restart) counts as 0.
    const scale = samples[i].time > 1e11 ? 1000 : 1;
    const dt = (samples[i].time - samples[i - 1].time) / scale;
    const sec = dt > 0 ? dt : 1;
    rxRate.push(Math.max(0, samples[i].netRx - samples[i - 1].netRx) / sec);
    txRate.push(Math.max(0, samples[i].netTx - samples[i - 1].netTx) / sec);
  }
  return {
    cpu: samples.map((s) => s.cpuPercent),
    mem: samples.map((s) => s.memUsage),
    memLimit: samples.length ? samples[samples.length - 1].memLimit : 0,
    rxRate,
    txRate,
  };
}
