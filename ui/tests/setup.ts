import { afterEach, beforeEach, vi } from 'vitest';

// jsdom has no layout and no ResizeObserver (Svelte's bind:clientHeight uses it): a no-op one will do.
if (typeof window !== 'undefined' && !('ResizeObserver' in window)) {
  (window as unknown as { ResizeObserver: unknown }).ResizeObserver = class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
}

// Component tests (jsdom) run on Vitest's fake timers: time moves only when a test calls advance()
// (tests/fake-shell.ts), so a debounce or a retry fires exactly when the test says, never by luck.
beforeEach(() => {
  if (typeof window !== 'undefined') vi.useFakeTimers();
});

// Component tests (jsdom) mount with @testing-library/svelte and fake the Tauri IPC with mockIPC:
// unmount and undo both after each test.
afterEach(async () => {
  if (typeof window === 'undefined') return;
  const [{ cleanup }, { clearMocks }] = await Promise.all([import('@testing-library/svelte'), import('@tauri-apps/api/mocks')]);
  cleanup();
  clearMocks();
  vi.useRealTimers();
});
