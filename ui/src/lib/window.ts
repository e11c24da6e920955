// Windowing for long lists: which rows of a list to render so that only those near the visible
// part of a scrolling element are in the DOM, with spacers standing in for the others. Rows are
// taken to share one height (measured from a rendered row); a list below `threshold` rows is
// rendered whole, so that short lists behave exactly as before.

export interface WindowRange {
  /** First row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Height of the spacer above the rendered rows, px. */
  padTop: number;
  /** Height of the spacer below them, px. */
  padBottom: number;
}

export interface WindowInput {
  total: number;
  rowHeight: number;
  /** How far the list's first row is scrolled past the viewport's top (may be negative). */
  offset: number;
  /** Viewport height, px. */
  viewport: number;
  /** Rows rendered beyond each edge, so that fast scrolling does not show blanks. */
  overscan?: number;
  /** Lists shorter than this are rendered whole. */
  threshold?: number;
}

export function windowRange({ total, rowHeight, offset, viewport, overscan = 15, threshold = 150 }: WindowInput): WindowRange {
  if (total <= threshold || rowHeight <= 0) return { start: 0, end: total, padTop: 0, padBottom: 0 };
  const shown = Math.ceil(Math.max(0, viewport) / rowHeight) + 1;
  // Past the end (heights are an estimate): the last rows stay rendered.
  const first = Math.min(Math.floor(Math.max(0, offset) / rowHeight), Math.max(0, total - shown));
  const start = Math.max(0, Math.min(total, first - overscan));
  const end = Math.max(start, Math.min(total, first + shown + overscan));
  return { start, end, padTop: start * rowHeight, padBottom: (total - end) * rowHeight };
}
