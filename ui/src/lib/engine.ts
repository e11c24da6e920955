// Engine status and the object lists, kept fresh by the engine's events (never by polling).
import { get, writable, type Readable } from 'svelte/store';
import * as client from './client';
import { ALL_LISTS, REFRESH_DEBOUNCE_MS, kindDebouncer, listsFor, refreshOnStatus, type ListKind } from './events';
import type { CommandError, ContainerItem, EngineEvent, EngineStatus, ImageItem, NetworkItem, VolumeItem } from './types';

/** The part of the client the store needs (tests pass a fake). */
export interface EngineApi {
  engineStatus(): Promise<EngineStatus>;
  listContainers(): Promise<ContainerItem[]>;
  listImages(): Promise<ImageItem[]>;
  listVolumes(): Promise<VolumeItem[]>;
  listNetworks(): Promise<NetworkItem[]>;
  onEngineStatus(cb: (s: EngineStatus) => void): Promise<() => void>;
  onEngineEvent(cb: (e: EngineEvent) => void): Promise<() => void>;
}

export interface ListState<T> {
  items: T[];
  loaded: boolean;
  error: CommandError | null;
}

const emptyList = <T>(): ListState<T> => ({ items: [], loaded: false, error: null });

export function createEngineStore(api: EngineApi, opts: { debounceMs?: number; timeoutMs?: number } = {}) {
  const timeoutMs = opts.timeoutMs ?? 8000;
  const status = writable<EngineStatus | null>(null);
  const lists = {
    containers: writable<ListState<ContainerItem>>(emptyList()),
    images: writable<ListState<ImageItem>>(emptyList()),
    volumes: writable<ListState<VolumeItem>>(emptyList()),
    networks: writable<ListState<NetworkItem>>(emptyList()),
  };
  const fetchers: Record<ListKind, () => Promise<unknown[]>> = {
    containers: api.listContainers,
    images: api.listImages,
    volumes: api.listVolumes,
    networks: api.listNetworks,
  };
  // One request per list at a time; a refresh asked for meanwhile runs once after it.
  const inFlight = new Set<ListKind>();
  const again = new Set<ListKind>();
  const unlisten: Array<() => void> = [];
  let statusRetry: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  async function refreshOne(kind: ListKind): Promise<void> {
    if (inFlight.has(kind)) {
      again.add(kind);
      return;
    }
    inFlight.add(kind);
    const store = lists[kind] as ReturnType<typeof writable<ListState<unknown>>>;
    try {
      const items = await client.withTimeout(fetchers[kind](), timeoutMs);
      store.set({ items, loaded: true, error: null });
    } catch (err) {
      // Keep what we had: a list that vanishes while the engine restarts is worse than a stale one.
      store.update((s) => ({ ...s, error: client.toCommandError(err) }));
    } finally {
      inFlight.delete(kind);
      if (again.delete(kind) && !stopped) void refreshOne(kind);
    }
  }

  function refresh(kinds: Iterable<ListKind> = ALL_LISTS): Promise<void> {
    return Promise.all([...kinds].map(refreshOne)).then(() => undefined);
  }

  const debouncer = kindDebouncer((kinds) => void refresh(kinds), opts.debounceMs ?? REFRESH_DEBOUNCE_MS);

  function setStatus(next: EngineStatus) {
    const prev = get(status);
    status.set(next);
    if (refreshOnStatus(prev?.state ?? null, next.state)) void refresh();
  }

  async function queryStatus(attempt = 0): Promise<void> {
    try {
      setStatus(await client.withTimeout(api.engineStatus(), timeoutMs));
    } catch (err) {
      const e = client.toCommandError(err);
      // The shell did not answer at all (not the engine: its state comes with a reason). Say so and ask again
      // later, with growing pauses; status events replace this as soon as they arrive.
      if (!get(status) || get(status)?.state === 'error')
        status.set({ state: 'error', reason: e.message, host: get(status)?.host ?? '', version: null, canManage: false });
      if (!stopped) statusRetry = setTimeout(() => void queryStatus(attempt + 1), Math.min(30000, 2000 * 2 ** attempt));
    }
  }

  async function start(): Promise<void> {
    stopped = false;
    // A fresh connection: whatever the engine says first counts as a transition (and loads the lists).
    status.set(null);
    try {
      unlisten.push(
        await api.onEngineStatus((s) => {
          if (statusRetry) clearTimeout(statusRetry);
          statusRetry = null;
          setStatus(s);
        }),
      );
      unlisten.push(await api.onEngineEvent((ev) => debouncer.add(listsFor(ev))));
    } catch {
      // No event bridge (plain browser): the status query below reports the problem.
    }
    await queryStatus();
  }

  function stop() {
    stopped = true;
    debouncer.cancel();
    if (statusRetry) clearTimeout(statusRetry);
    unlisten.splice(0).forEach((f) => f());
  }

  return {
    status: { subscribe: status.subscribe } as Readable<EngineStatus | null>,
    containers: { subscribe: lists.containers.subscribe } as Readable<ListState<ContainerItem>>,
    images: { subscribe: lists.images.subscribe } as Readable<ListState<ImageItem>>,
    volumes: { subscribe: lists.volumes.subscribe } as Readable<ListState<VolumeItem>>,
    networks: { subscribe: lists.networks.subscribe } as Readable<ListState<NetworkItem>>,
    start,
    stop,
    refresh,
    /** After a user action: refresh soon, merged with the events the action causes. */
    touched(kinds: ListKind[]) {
      debouncer.add(kinds);
    },
    /** The status an engine_start/stop/restart command answered with. */
    setStatus,
  };
}

export type EngineStore = ReturnType<typeof createEngineStore>;

export const engine: EngineStore = createEngineStore(client);

const CONTROLS = { start: client.engineStart, stop: client.engineStop, restart: client.engineRestart };

/** Starts, stops or restarts the engine and shows the status the command answered with at once. */
export async function controlEngine(what: keyof typeof CONTROLS): Promise<void> {
  engine.setStatus(await CONTROLS[what]());
}
