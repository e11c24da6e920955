import { describe, expect, it } from 'vitest';
import { emptyBuild, foldBuild, MAX_STEP_LINES, parseBuildArgs } from './build';
import type { BuildEvent } from './types';

const fold = (events: BuildEvent[]) => events.reduce(foldBuild, emptyBuild());

describe('foldBuild', () => {
  it('groups output under its step and marks cached steps', () => {
    const s = fold([
      { kind: 'step', number: 1, total: 2, instruction: 'FROM berth/welcome' },
      { kind: 'output', text: ' ---> 3f1c' },
      { kind: 'step', number: 2, total: 2, instruction: 'COPY index.html /www/' },
      { kind: 'cached', number: 2 },
      { kind: 'built', id: 'sha256:abc' },
    ]);
    expect(s.steps.map((x) => [x.number, x.cached, x.output])).toEqual([
      [1, false, [' ---> 3f1c']],
      [2, true, []],
    ]);
    expect(s.imageId).toBe('sha256:abc');
    expect(s.error).toBeNull();
  });

  it('puts the error next to the step that failed', () => {
    const s = fold([
      { kind: 'step', number: 1, total: 2, instruction: 'FROM x' },
      { kind: 'step', number: 2, total: 2, instruction: 'RUN exit 7' },
      { kind: 'failed', step: 2, message: "The command '/bin/sh -c exit 7' returned a non-zero code: 7" },
    ]);
    expect(s.steps[1].error).toContain('non-zero code: 7');
    expect(s.steps[0].error).toBeNull();
    expect(s.error).toContain('exit 7');
  });

  it('keeps output before the first step and bounds each step', () => {
    let s = fold([{ kind: 'output', text: 'Sending build context' }]);
    expect(s.preamble).toEqual(['Sending build context']);
    s = foldBuild(s, { kind: 'step', number: 1, total: 1, instruction: 'RUN yes' });
    for (let i = 0; i < MAX_STEP_LINES + 5; i++) s = foldBuild(s, { kind: 'output', text: `y${i}` });
    expect(s.steps[0].output.length).toBe(MAX_STEP_LINES);
    expect(s.steps[0].output[MAX_STEP_LINES - 1]).toBe(`y${MAX_STEP_LINES + 4}`);
  });
});

describe('parseBuildArgs', () => {
  it('reads KEY=value lines', () => {
    expect(parseBuildArgs('A=1\n\n# note\nB = two=2\n')).toEqual({ args: { A: '1', B: ' two=2' }, bad: null });
  });
  it('names the first line without a value', () => {
    expect(parseBuildArgs('A=1\noops').bad).toBe('oops');
  });
});
