import { describe, expect, it, vi } from 'vitest';
import { kindDebouncer, listsFor, refreshOnStatus, type Timers } from './events';

describe('events', () => {
  it('maps engine events to the lists they change', () => {
    expect(listsFor({ Type: 'container', Action: 'start' })).toEqual(['containers']);
    expect(listsFor({ Type: 'container', Action: 'destroy' })).toEqual(['containers', 'images', 'volumes']);
    expect(listsFor({ Type: 'container', Action: 'exec_start: sh' })).toEqual([]);
    expect(listsFor({ Type: 'container', Action: 'health_status: healthy' })).toEqual([]);
    expect(listsFor({ Type: 'image', Action: 'pull' })).toEqual(['images']);
    expect(listsFor({ Type: 'volume', Action: 'mount' })).toEqual([]);
    expect(listsFor({ Type: 'volume', Action: 'create' })).toEqual(['volumes']);
    expect(listsFor({ Type: 'network', Action: 'connect' })).toEqual(['networks']);
    expect(listsFor({ Type: 'daemon', Action: 'reload' })).toEqual([]);
  });

  it('refreshes everything only on the way into running', () => {
    expect(refreshOnStatus(null, 'running')).toBe(true);
    expect(refreshOnStatus('starting', 'running')).toBe(true);
    expect(refreshOnStatus('error', 'running')).toBe(true);
    expect(refreshOnStatus('running', 'running')).toBe(false);
    expect(refreshOnStatus('running', 'stopped')).toBe(false);
  });

  it('folds a burst of events into one flush with every kind', () => {
    const pending: Array<() => void> = [];
    const timers: Timers = { set: (fn) => pending.push(fn), clear: vi.fn() };
    const flush = vi.fn();
    const d = kindDebouncer(flush, 100, timers);
    d.add(['containers']);
    d.add(['containers', 'images']);
    d.add([]);
    expect(pending).toHaveLength(1);
    expect(flush).not.toHaveBeenCalled();
    pending[0]();
    expect(flush).toHaveBeenCalledTimes(1);
    expect([...flush.mock.calls[0][0]].sort()).toEqual(['containers', 'images']);
    d.add(['volumes']);
    expect(pending).toHaveLength(2);
  });

  it('does not schedule anything for events that change nothing', () => {
    const timers: Timers = { set: vi.fn(), clear: vi.fn() };
    kindDebouncer(vi.fn(), 100, timers).add([]);
    expect(timers.set).not.toHaveBeenCalled();
  });
});
