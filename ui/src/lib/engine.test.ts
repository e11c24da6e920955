import { get } from 'svelte/store';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createEngineStore, type EngineApi } from './engine';
import type { ContainerItem, EngineEvent, EngineStatus } from './types';

const status = (state: EngineStatus['state'], reason: string | null = null): EngineStatus => ({
  state,
  reason,
  host: 'unix:///run/berth.sock',
  version: state === 'running' ? '1.47' : null,
  canManage: true,
});
const container = (name: string): ContainerItem => ({
  id: name,
  name,
  image: 'busybox',
  state: 'running',
  status: 'Up',
  created: 0,
  ports: [],
  project: null,
  labels: {},
});

function fakeApi(initial: EngineStatus) {
  let onStatus: (s: EngineStatus) => void = () => {};
  let onEvent: (e: EngineEvent) => void = () => {};
  let containers = [container('a')];
  const api = {
    engineStatus: vi.fn(async () => initial),
    listContainers: vi.fn(async () => containers),
    listImages: vi.fn(async () => []),
    listVolumes: vi.fn(async () => []),
    listNetworks: vi.fn(async () => []),
    onEngineStatus: vi.fn(async (cb: (s: EngineStatus) => void) => ((onStatus = cb), () => {})),
    onEngineEvent: vi.fn(async (cb: (e: EngineEvent) => void) => ((onEvent = cb), () => {})),
  } satisfies EngineApi;
  return {
    api,
    emitStatus: (s: EngineStatus) => onStatus(s),
    emitEvent: (e: EngineEvent) => onEvent(e),
    setContainers: (c: ContainerItem[]) => (containers = c),
  };
}

describe('engine store', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('loads every list when the engine runs, then refreshes from events only', async () => {
    const f = fakeApi(status('running'));
    const store = createEngineStore(f.api, { debounceMs: 50 });
    await store.start();
    await vi.runAllTimersAsync();
    expect(get(store.status)?.state).toBe('running');
    expect(get(store.containers).items.map((c) => c.name)).toEqual(['a']);
    expect(f.api.listContainers).toHaveBeenCalledTimes(1);

    // Time alone never triggers a refresh (no polling).
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.api.listContainers).toHaveBeenCalledTimes(1);

    // A burst of events: one refresh of the lists they touch.
    f.setContainers([container('a'), container('b')]);
    f.emitEvent({ Type: 'container', Action: 'create' });
    f.emitEvent({ Type: 'container', Action: 'start' });
    f.emitEvent({ Type: 'network', Action: 'connect' });
    await vi.advanceTimersByTimeAsync(60);
    expect(f.api.listContainers).toHaveBeenCalledTimes(2);
    expect(f.api.listNetworks).toHaveBeenCalledTimes(2);
    expect(f.api.listVolumes).toHaveBeenCalledTimes(2); // create changes "in use"
    expect(get(store.containers).items.map((c) => c.name)).toEqual(['a', 'b']);
    store.stop();
  });

  it('shows a stopped engine without lists, and loads them when it comes back', async () => {
    const f = fakeApi(status('stopped'));
    const store = createEngineStore(f.api);
    await store.start();
    expect(get(store.status)?.state).toBe('stopped');
    expect(f.api.listContainers).not.toHaveBeenCalled();
    f.emitStatus(status('starting'));
    f.emitStatus(status('running'));
    await vi.runAllTimersAsync();
    expect(f.api.listContainers).toHaveBeenCalledTimes(1);
    expect(get(store.containers).loaded).toBe(true);
    store.stop();
  });

  it('keeps the last list and records the error when the engine stops answering', async () => {
    const f = fakeApi(status('running'));
    const store = createEngineStore(f.api, { debounceMs: 10 });
    await store.start();
    await vi.runAllTimersAsync();
    f.api.listContainers.mockRejectedValueOnce({ kind: 'unavailable', message: 'connection refused' });
    f.emitEvent({ Type: 'container', Action: 'die' });
    await vi.runAllTimersAsync();
    const s = get(store.containers);
    expect(s.items.map((c) => c.name)).toEqual(['a']);
    expect(s.error).toEqual({ kind: 'unavailable', message: 'connection refused' });
    store.stop();
  });

  it('never hangs on a silent shell: times out, says so, and asks again later', async () => {
    const f = fakeApi(status('running'));
    f.api.engineStatus.mockImplementationOnce(() => new Promise(() => {}));
    const store = createEngineStore(f.api, { timeoutMs: 1000 });
    const started = store.start();
    await vi.advanceTimersByTimeAsync(1000);
    await started;
    expect(get(store.status)).toMatchObject({ state: 'error', reason: expect.stringContaining('no answer') });
    await vi.advanceTimersByTimeAsync(2000);
    expect(get(store.status)?.state).toBe('running');
    store.stop();
  });

  it('runs one request per list at a time and one more for what came in meanwhile', async () => {
    const f = fakeApi(status('stopped'));
    let release: () => void = () => {};
    f.api.listContainers.mockImplementationOnce(() => new Promise((r) => (release = () => r([container('slow')]))));
    const store = createEngineStore(f.api);
    const a = store.refresh(['containers']);
    void store.refresh(['containers']);
    void store.refresh(['containers']);
    expect(f.api.listContainers).toHaveBeenCalledTimes(1);
    release();
    await a;
    await vi.runAllTimersAsync();
    expect(f.api.listContainers).toHaveBeenCalledTimes(2);
    expect(get(store.containers).items.map((c) => c.name)).toEqual(['a']);
  });
});
