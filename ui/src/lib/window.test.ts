import { describe, expect, it } from 'vitest';
import { windowRange } from './window';

describe('windowRange', () => {
  it('renders short lists whole', () => {
    expect(windowRange({ total: 40, rowHeight: 40, offset: 500, viewport: 600 })).toEqual({ start: 0, end: 40, padTop: 0, padBottom: 0 });
  });

  it('renders only the rows near the viewport of a long list, spacers for the rest', () => {
    const r = windowRange({ total: 1000, rowHeight: 40, offset: 4000, viewport: 600, overscan: 10 });
    // Row 100 is at the top; 15 fit in 600 px, +1 partly shown; 10 more on each side.
    expect(r).toEqual({ start: 90, end: 126, padTop: 3600, padBottom: 874 * 40 });
    expect(r.padTop + (r.end - r.start) * 40 + r.padBottom).toBe(1000 * 40);
  });

  it('clamps at both ends', () => {
    const top = windowRange({ total: 1000, rowHeight: 40, offset: -300, viewport: 600, overscan: 10 });
    expect(top.start).toBe(0);
    expect(top.padTop).toBe(0);
    const bottom = windowRange({ total: 1000, rowHeight: 40, offset: 1e9, viewport: 600, overscan: 10 });
    expect(bottom.end).toBe(1000);
    expect(bottom.padBottom).toBe(0);
    expect(bottom.end - bottom.start).toBeGreaterThanOrEqual(16);
  });
});
