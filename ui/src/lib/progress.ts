// Folds the engine's JSON pull progress messages into one bar per layer.
import type { PullProgress } from './types';

export type LayerPhase = 'waiting' | 'downloading' | 'verifying' | 'extracting' | 'done';

export interface LayerBar {
  id: string;
  phase: LayerPhase;
  /** 0–100 over the whole life of the layer: download counts for 80 %, extraction for 20 %. */
  percent: number;
  current: number | null;
  total: number | null;
  status: string;
}

export interface PullState {
  layers: LayerBar[];
  /** The last message without a layer id ("Pulling from …", "Digest: …", "Status: …"). */
  message: string;
  finished: boolean;
}

export const emptyPull = (): PullState => ({ layers: [], message: '', finished: false });

function phaseOf(status: string): LayerPhase | null {
  const s = status.toLowerCase();
  if (s.startsWith('pulling fs layer') || s.startsWith('waiting')) return 'waiting';
  if (s.startsWith('downloading')) return 'downloading';
  if (s.startsWith('verifying') || s.startsWith('download complete')) return 'verifying';
  if (s.startsWith('extracting')) return 'extracting';
  if (s.startsWith('pull complete') || s.startsWith('already exists')) return 'done';
  return null;
}

function percentOf(phase: LayerPhase, current: number | null, total: number | null): number {
  const frac = current !== null && total ? Math.min(1, Math.max(0, current / total)) : 0;
  switch (phase) {
    case 'waiting':
      return 0;
    case 'downloading':
      return Math.round(frac * 80);
    case 'verifying':
      return 80;
    case 'extracting':
      return 80 + Math.round(frac * 20);
    case 'done':
      return 100;
  }
}

/** Returns a new state; never goes backwards on a layer (late "Downloading" after "Pull complete" is ignored). */
export function foldProgress(state: PullState, msg: PullProgress): PullState {
  const phase = msg.id ? phaseOf(msg.status) : null;
  if (!msg.id || phase === null) {
    // The engine ends a pull with "Status: Downloaded newer image for …" or "Status: Image is up to date …".
    return { ...state, message: msg.status, finished: state.finished || /^status: /i.test(msg.status) };
  }
  const percent = percentOf(phase, msg.current, msg.total);
  const layers = state.layers.slice();
  const i = layers.findIndex((l) => l.id === msg.id);
  const next: LayerBar = { id: msg.id, phase, percent, current: msg.current, total: msg.total, status: msg.status };
  if (i < 0) layers.push(next);
  else if (percent >= layers[i].percent || layers[i].phase === 'waiting') layers[i] = next;
  return { ...state, layers };
}

/** Overall progress: the mean of the layers (0 when none is known yet). */
export function overallPercent(state: PullState): number {
  if (state.finished) return 100;
  if (state.layers.length === 0) return 0;
  return Math.round(state.layers.reduce((a, l) => a + l.percent, 0) / state.layers.length);
}
