import { describe, expect, it } from 'vitest';
import { action } from './action.svelte';

describe('action', () => {
  it('is busy while running and keeps the error until the next run', async () => {
    let release: () => void = () => {};
    const a = action(
      (fail: boolean) => new Promise<void>((ok, no) => (release = () => (fail ? no({ kind: 'engine', message: 'boom' }) : ok()))),
    );
    const first = a.run(true);
    expect(a.busy).toBe(true);
    release();
    expect(await first).toBe(false);
    expect(a.busy).toBe(false);
    expect(a.error).toEqual({ kind: 'engine', message: 'boom' });
    const second = a.run(false);
    expect(a.error).toBeNull();
    release();
    expect(await second).toBe(true);
    a.clear();
    expect(a.error).toBeNull();
  });
});
