// Which lists an engine event invalidates, and a debouncer that folds bursts into one refresh.
import type { EngineEvent, EngineState } from './types';

export type ListKind = 'containers' | 'images' | 'volumes' | 'networks';
export const ALL_LISTS: ListKind[] = ['containers', 'images', 'volumes', 'networks'];

// Container events that change nothing a list shows (exec and attach chatter, health probes, top).
const QUIET_CONTAINER_ACTIONS =
  /^(exec_create|exec_start|exec_die|exec_detach|attach|detach|resize|top|archive-path|extract-to-dir|health_status)/;

export function listsFor(ev: EngineEvent): ListKind[] {
  const action = ev.Action ?? '';
  switch (ev.Type) {
    case 'container':
      if (QUIET_CONTAINER_ACTIONS.test(action)) return [];
      // Creating or removing a container changes "in use" of images and volumes.
      if (action === 'create' || action === 'destroy') return ['containers', 'images', 'volumes'];
      return ['containers'];
    case 'image':
      return ['images'];
    case 'volume':
      // mount/unmount happen on every start/stop; only create/destroy change the list (and inUse follows containers).
      return action === 'create' || action === 'destroy' || action === 'prune' ? ['volumes'] : [];
    case 'network':
      // connect/disconnect change the container count the list shows.
      return ['networks'];
    default:
      return [];
  }
}

/** Refresh everything when the engine becomes running (first connection or recovery). */
export function refreshOnStatus(prev: EngineState | null, next: EngineState): boolean {
  return next === 'running' && prev !== 'running';
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}
const realTimers: Timers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** How long the lists wait after an engine event for more before they refresh. */
export const REFRESH_DEBOUNCE_MS = 150;

/**
 * Collects kinds for `ms` after the first one and then calls `flush` once with all of them.
 * A burst (docker compose up: dozens of events) becomes one refresh per list.
 */
export function kindDebouncer(flush: (kinds: Set<ListKind>) => void, ms = REFRESH_DEBOUNCE_MS, timers: Timers = realTimers) {
  let pending = new Set<ListKind>();
  let handle: unknown = null;
  return {
    add(kinds: Iterable<ListKind>) {
      for (const k of kinds) pending.add(k);
      if (pending.size === 0 || handle !== null) return;
      handle = timers.set(() => {
        handle = null;
        const batch = pending;
        pending = new Set();
        flush(batch);
      }, ms);
    },
    cancel() {
      if (handle !== null) timers.clear(handle);
      handle = null;
      pending = new Set();
    },
  };
}
