/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Tauri loads the built files from disk (relative base) and the dev server on a fixed port.
export default defineConfig(({ mode }) => ({
  base: './',
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { outDir: 'dist', target: 'es2021', emptyOutDir: true },
  // Component tests mount Svelte 5 components in jsdom: use the browser build of svelte.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    // Logic tests run in node; component tests opt into jsdom with a @vitest-environment comment.
    environment: 'node',
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
  },
}));
