// Log lines kept for the logs tab: bounded, searchable, with docker's timestamps split off.
import type { LogLine } from './types';

/** A chatty container sends many lines per frame: the logs tab redraws at most this often. */
export const LOG_FRAME_MS = 50;

export interface ShownLine {
  n: number;
  stream: 'stdout' | 'stderr';
  time: string | null;
  text: string;
}

const TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) ?/;

/** Splits "2024-05-01T10:00:00.123456789Z hello" into time and text; drops the trailing newline. */
export function parseLine(line: LogLine, n: number, timestamps: boolean): ShownLine {
  let text = line.text.replace(/\r?\n$/, '');
  let time: string | null = null;
  if (timestamps) {
    const m = TS.exec(text);
    if (m) {
      time = m[1];
      text = text.slice(m[0].length);
    }
  }
  return { n, stream: line.stream, time, text };
}

/** Keeps the newest `max` lines. */
export class LogBuffer {
  lines: ShownLine[] = [];
  private count = 0;
  constructor(
    private max = 5000,
    private timestamps = false,
  ) {}

  push(line: LogLine): void {
    // One message may carry several lines.
    const parts = line.text.replace(/\r?\n$/, '').split('\n');
    for (const p of parts) this.lines.push(parseLine({ stream: line.stream, text: p }, ++this.count, this.timestamps));
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  get dropped(): number {
    return this.count - this.lines.length;
  }
}

export function filterLines(lines: ShownLine[], query: string): ShownLine[] {
  const q = query.trim().toLowerCase();
  return q ? lines.filter((l) => l.text.toLowerCase().includes(q)) : lines;
}

/** Plain text for the clipboard. */
export function linesText(lines: ShownLine[]): string {
  return lines.map((l) => (l.time ? `${l.time} ${l.text}` : l.text)).join('\n');
}

/**
 * The slice of a long list to render in a scroll box of fixed-height rows: what is visible plus
 * `overscan` rows on each side. Only these rows exist in the DOM, however long the log is.
 */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan = 20,
): { start: number; end: number } {
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const rows = Math.ceil(Math.max(0, viewport) / rowHeight) + 1;
  const start = Math.max(0, Math.min(first - overscan, count - 1));
  const end = Math.min(count, first + rows + overscan);
  return { start, end: Math.max(start, end) };
}
