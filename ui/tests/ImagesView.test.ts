// @vitest-environment jsdom
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { engine } from '../src/lib/engine';
import { locale } from '../src/lib/i18n';
import type { ImageItem } from '../src/lib/types';
import ImagesView from '../src/views/images/ImagesView.svelte';
import { fakeShell, advance } from './fake-shell';

afterEach(() => engine.stop());

const img = (repository: string, tag: string, over: Partial<ImageItem> = {}): ImageItem => ({
  id: `sha256:${repository}0123456789`,
  repository,
  tag,
  size: 4_261_000,
  created: 1_700_000_000,
  inUse: false,
  ...over,
});

function sendTo(channel: unknown, messages: unknown[]) {
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } }).__TAURI_INTERNALS__;
  messages.forEach((message, index) => internals.runCallback((channel as { id: number }).id, { index, message }));
}

async function setup(handlers: Record<string, (a: Record<string, unknown>) => unknown> = {}) {
  const shell = fakeShell({ images: [img('busybox', 'latest', { inUse: true }), img('<none>', '<none>')], handlers });
  locale.set('en');
  await engine.start();
  await advance();
  render(ImagesView);
  await advance();
  return shell;
}

describe('Images view', () => {
  it('lists images with size and use, and counts the dangling ones for prune', async () => {
    await setup();
    const rows = screen.getAllByTestId('image-row');
    expect(rows.map((r) => r.dataset.ref)).toEqual(['busybox:latest', '<none>012345']);
    expect(rows[0].textContent).toContain('4.26 MB');
    expect(rows[0].textContent).toContain('in use');
    expect(screen.getByTestId('btn-prune').textContent).toBe('Remove dangling (1)');
  });

  it('pulls with one bar per layer', async () => {
    const shell = await setup({
      pull_image: (a) => {
        sendTo(a.onProgress, [
          { id: null, status: 'Pulling from library/redis', current: null, total: null },
          { id: 'l1', status: 'Downloading', current: 50, total: 100 },
          { id: 'l2', status: 'Already exists', current: null, total: null },
        ]);
        return new Promise(() => {});
      },
    });
    const input = screen.getByTestId('pull-reference') as HTMLInputElement;
    input.value = 'redis:7';
    await fireEvent.input(input);
    await fireEvent.click(screen.getByTestId('btn-pull'));
    await advance();
    expect(shell.of('pull_image')[0].args.reference).toBe('redis:7');
    const layers = screen.getAllByTestId('pull-layer');
    expect(layers.map((l) => l.dataset.phase)).toEqual(['downloading', 'done']);
    expect((layers[0].querySelector('progress') as HTMLProgressElement).value).toBe(40);
  });

  it('offers to force the delete of an image in use, after the engine refused', async () => {
    const shell = await setup({
      remove_image: (a) => {
        if (!a.force) throw { kind: 'conflict', message: 'image is being used by running container abc' };
        return null;
      },
    });
    const row = screen.getAllByTestId('image-row')[0];
    await fireEvent.click(within(row).getByTestId('btn-delete'));
    await fireEvent.click(screen.getByTestId('btn-confirm-delete'));
    await advance();
    expect(screen.getByTestId('row-error').textContent).toContain('image is being used');
    await fireEvent.click(screen.getByTestId('btn-force-delete'));
    await advance();
    expect(shell.of('remove_image').map((c) => c.args)).toEqual([
      { id: 'busybox:latest', force: false },
      { id: 'busybox:latest', force: true },
    ]);
  });
});
