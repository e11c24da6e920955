import { afterEach } from 'vitest';

// Component tests (jsdom) fake the Tauri IPC with mockIPC; undo it after each test.
afterEach(async () => {
  if (typeof window === 'undefined') return;
  const { clearMocks } = await import('@tauri-apps/api/mocks');
  clearMocks();
});
