// The build panel's view of a running build: its steps, each with its output, whether it came
// from the cache, and where it failed; folded from the BuildEvents the Rust side streams.
import type { BuildEvent } from './types';

export interface BuildStep {
  number: number;
  total: number;
  instruction: string;
  cached: boolean;
  output: string[];
  error: string | null;
}

export interface BuildState {
  steps: BuildStep[];
  /** Output before the first step (e.g. a Dockerfile error). */
  preamble: string[];
  error: string | null;
  imageId: string | null;
}

export const emptyBuild = (): BuildState => ({ steps: [], preamble: [], error: null, imageId: null });

/** Output kept per step: the last lines are the ones that explain a failure. */
export const MAX_STEP_LINES = 200;

const keep = (lines: string[], line: string): string[] => [...lines, line].slice(-MAX_STEP_LINES);

export function foldBuild(s: BuildState, e: BuildEvent): BuildState {
  const last = s.steps.length - 1;
  const withLast = (f: (step: BuildStep) => BuildStep): BuildState =>
    last < 0 ? s : { ...s, steps: s.steps.map((step, i) => (i === last ? f(step) : step)) };
  switch (e.kind) {
    case 'step':
      return {
        ...s,
        steps: [...s.steps, { number: e.number, total: e.total, instruction: e.instruction, cached: false, output: [], error: null }],
      };
    case 'cached':
      return withLast((step) => ({ ...step, cached: true }));
    case 'output':
      return last < 0 ? { ...s, preamble: keep(s.preamble, e.text) } : withLast((step) => ({ ...step, output: keep(step.output, e.text) }));
    case 'failed': {
      const failed = { ...s, error: e.message };
      if (e.step === null) return failed;
      return { ...failed, steps: failed.steps.map((step) => (step.number === e.step ? { ...step, error: e.message } : step)) };
    }
    case 'built':
      return { ...s, imageId: e.id };
  }
}

/** `KEY=value` lines (blank lines and `#` comments skipped) as build args; a line without `=` is an error. */
export function parseBuildArgs(text: string): { args: Record<string, string>; bad: string | null } {
  const args: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    if (i <= 0) return { args, bad: line };
    args[line.slice(0, i).trim()] = line.slice(i + 1);
  }
  return { args, bad: null };
}
