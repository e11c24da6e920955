import { afterEach } from 'vitest';

// Component tests (jsdom) mount with @testing-library/svelte and fake the Tauri IPC with mockIPC:
// unmount and undo both after each test.
afterEach(async () => {
  if (typeof window === 'undefined') return;
  const [{ cleanup }, { clearMocks }] = await Promise.all([import('@testing-library/svelte'), import('@tauri-apps/api/mocks')]);
  cleanup();
  clearMocks();
});
