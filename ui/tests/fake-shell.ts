// A fake Tauri shell for component tests: answers the contract's commands from in-memory data through
// mockIPC (the invoke boundary) and records every call.
import { mockIPC } from '@tauri-apps/api/mocks';
import { vi } from 'vitest';
import { DEFAULT_SETTINGS } from '../src/lib/settings';
import type { ContainerItem, EngineStatus, ImageItem, Settings } from '../src/lib/types';

export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

export const running: EngineStatus = { state: 'running', reason: null, host: 'unix:///run/berth.sock', version: '1.47', canManage: true };

export function container(name: string, over: Partial<ContainerItem> = {}): ContainerItem {
  return {
    id: `${name}-id`,
    name,
    image: 'busybox:latest',
    state: 'running',
    status: 'Up 2 minutes',
    created: Math.floor(Date.now() / 1000) - 120,
    ports: [],
    project: null,
    labels: {},
    ...over,
  };
}

export function fakeShell(data: {
  status?: EngineStatus;
  containers?: ContainerItem[];
  images?: ImageItem[];
  settings?: Partial<Settings>;
  handlers?: Record<string, (args: Record<string, unknown>) => unknown>;
}) {
  const calls: Call[] = [];
  const state = { containers: data.containers ?? [], images: data.images ?? [] };
  let settings: Settings = { ...DEFAULT_SETTINGS, language: 'en', theme: 'light', onboardingDone: true, ...data.settings };
  mockIPC(
    (cmd, payload) => {
      const args = (payload ?? {}) as Record<string, unknown>;
      if (!cmd.startsWith('plugin:')) calls.push({ cmd, args });
      const h = data.handlers?.[cmd];
      if (h) return h(args);
      switch (cmd) {
        case 'engine_status':
          return data.status ?? running;
        case 'list_containers':
          return state.containers;
        case 'list_images':
          return state.images;
        case 'list_volumes':
        case 'list_networks':
          return [];
        case 'get_settings':
          return settings;
        case 'set_settings':
          settings = args.settings as Settings;
          return settings;
        case 'system_locale':
          return 'en-US';
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  return { calls, state, of: (cmd: string) => calls.filter((c) => c.cmd === cmd) };
}

/**
 * Moves the fake clock (tests/setup.ts turns on Vitest's fake timers for component tests) by `ms`,
 * running the timers that fall due and, between and after them, every pending promise and Svelte
 * update: `advance()` flushes what is already queued, `advance(250)` also passes a 250 ms debounce.
 */
export const advance = (ms = 0) => vi.advanceTimersByTimeAsync(ms);
