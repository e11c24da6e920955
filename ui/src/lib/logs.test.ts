import { describe, expect, it } from 'vitest';
import { LogBuffer, filterLines, linesText, parseLine, visibleRange } from './logs';

describe('logs', () => {
  it('splits docker timestamps off when asked', () => {
    const l = parseLine({ stream: 'stdout', text: '2024-05-01T10:00:00.123456789Z hello\n' }, 1, true);
    expect(l).toEqual({ n: 1, stream: 'stdout', time: '2024-05-01T10:00:00.123456789Z', text: 'hello' });
    expect(parseLine({ stream: 'stderr', text: 'plain\n' }, 2, true)).toMatchObject({ time: null, text: 'plain' });
    expect(parseLine({ stream: 'stdout', text: '2024-05-01T10:00:00Z x' }, 3, false)).toMatchObject({ time: null });
  });

  it('keeps only the newest lines and counts the dropped ones', () => {
    const b = new LogBuffer(3);
    for (let i = 1; i <= 5; i++) b.push({ stream: 'stdout', text: `line ${i}\n` });
    expect(b.lines.map((l) => l.text)).toEqual(['line 3', 'line 4', 'line 5']);
    expect(b.dropped).toBe(2);
  });

  it('splits a message with several lines', () => {
    const b = new LogBuffer();
    b.push({ stream: 'stdout', text: 'a\nb\n' });
    expect(b.lines.map((l) => [l.n, l.text])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
  });

  it('searches case-insensitively and copies as text', () => {
    const b = new LogBuffer(10, true);
    b.push({ stream: 'stdout', text: '2024-05-01T10:00:00Z GET /index.html\n' });
    b.push({ stream: 'stderr', text: '2024-05-01T10:00:01Z error: nope\n' });
    const hits = filterLines(b.lines, 'GET');
    expect(hits).toHaveLength(1);
    expect(filterLines(b.lines, '  ')).toHaveLength(2);
    expect(linesText(hits)).toBe('2024-05-01T10:00:00Z GET /index.html');
  });
});

describe('visibleRange', () => {
  it('renders what is on screen plus the overscan, clamped to the list', () => {
    expect(visibleRange(0, 200, 20, 1000, 5)).toEqual({ start: 0, end: 16 });
    expect(visibleRange(2000, 200, 20, 1000, 5)).toEqual({ start: 95, end: 116 });
    expect(visibleRange(19_900, 200, 20, 1000, 5)).toEqual({ start: 990, end: 1000 });
    expect(visibleRange(0, 200, 20, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleRange(99_999, 200, 20, 10, 5)).toEqual({ start: 9, end: 10 });
  });
});
