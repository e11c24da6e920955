// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { engine } from '../src/lib/engine';
import { locale } from '../src/lib/i18n';
import type { DiskUsage } from '../src/lib/types';
import DiskView from '../src/views/disk/DiskView.svelte';
import { advance, fakeShell } from './fake-shell';

afterEach(() => engine.stop());

function usage(stopped: boolean): DiskUsage {
  const containerList = [{ id: 'c1', name: 'web', image: 'nginx', size: 10, state: 'running', status: 'Up 1 minute' }];
  if (stopped) containerList.push({ id: 'c2', name: 'old', image: 'alpine', size: 2_000_000, state: 'exited', status: 'Exited (0)' });
  return {
    images: { count: 1, active: 1, size: 5_000_000, reclaimable: 0 },
    containers: {
      count: containerList.length,
      active: 1,
      size: containerList.reduce((s, c) => s + c.size, 0),
      reclaimable: stopped ? 2_000_000 : 0,
    },
    volumes: { count: 1, active: 0, size: 4000, reclaimable: 4000 },
    buildCache: { count: 0, active: 0, size: 0, reclaimable: 0 },
    imageList: [{ id: 'sha256:0123456789abcdef', repoTags: ['berth/welcome:latest'], size: 5_000_000, sharedSize: 0, containers: 1 }],
    containerList,
    volumeList: [{ name: 'data', size: 4000, links: 0 }],
  };
}

describe('Disk usage view', () => {
  it('shows the totals, lists a kind, prunes stopped containers after confirming and refreshes', async () => {
    let stopped = true;
    const shell = fakeShell({
      handlers: {
        disk_usage: () => usage(stopped),
        disk_prune_containers: () => {
          stopped = false;
          return { removed: ['c2'], spaceReclaimed: 2_000_000 };
        },
      },
    });
    locale.set('en');
    await engine.start();
    render(DiskView);
    await advance();
    expect(screen.getByTestId('disk-images-count').textContent).toBe('1');
    expect(screen.getByTestId('disk-images-size').textContent).toBe('5.00 MB');
    expect(screen.getByTestId('disk-containers-reclaimable').textContent).toBe('2.00 MB (99%)');
    expect(screen.getByTestId('disk-volumes-reclaimable').textContent).toBe('4.00 kB (100%)');
    expect((screen.getByTestId('btn-prune-buildCache') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('disk-buildCache').textContent).toContain('Steps saved from image builds');

    expect(screen.queryByTestId('disk-containers-list')).toBeNull();
    await fireEvent.click(screen.getByTestId('btn-disk-toggle-containers'));
    expect(screen.getAllByTestId('disk-container-row').map((r) => r.dataset.name)).toEqual(['web', 'old']);

    await fireEvent.click(screen.getByTestId('btn-prune-containers'));
    expect(screen.getByTestId('confirm-prune-containers').textContent).toContain('not running will be deleted');
    await fireEvent.click(screen.getByTestId('btn-confirm-prune-containers'));
    await advance();
    expect(shell.of('disk_prune_containers')).toHaveLength(1);
    expect(screen.getByTestId('disk-pruned').textContent).toBe('Removed 1; 2.00 MB freed.');
    expect(shell.of('disk_usage')).toHaveLength(2);
    expect(screen.getByTestId('disk-containers-count').textContent).toBe('1');
    expect(screen.getAllByTestId('disk-container-row').map((r) => r.dataset.name)).toEqual(['web']);
  });

  it('asks before including named volumes (prune -a), in Spanish', async () => {
    const shell = fakeShell({
      handlers: {
        disk_usage: () => usage(false),
        disk_prune_volumes: () => ({ removed: ['data'], spaceReclaimed: 4000 }),
      },
    });
    locale.set('es');
    await engine.start();
    render(DiskView);
    await advance();
    expect(screen.getByTestId('view-disk').textContent).toContain('Uso de disco');
    await fireEvent.click(screen.getByTestId('btn-prune-volumes'));
    expect(screen.getByTestId('confirm-prune-volumes').textContent).toContain('volúmenes con nombre');
    await fireEvent.click(screen.getByTestId('prune-all-volumes'));
    await fireEvent.click(screen.getByTestId('btn-confirm-prune-volumes'));
    await advance();
    expect(shell.of('disk_prune_volumes').map((c) => c.args.all)).toEqual([true]);
    expect(screen.getByTestId('disk-pruned').textContent).toBe('Se borró 1; se liberaron 4.00 kB.');
    locale.set('en');
  });

  it('prunes only dangling images unless asked for all', async () => {
    const shell = fakeShell({
      handlers: {
        disk_usage: () => ({ ...usage(false), images: { count: 2, active: 1, size: 5_000_000, reclaimable: 1000 } }),
        disk_prune_images: () => ({ removed: [], spaceReclaimed: 0 }),
      },
    });
    locale.set('en');
    await engine.start();
    render(DiskView);
    await advance();
    await fireEvent.click(screen.getByTestId('btn-prune-images'));
    await fireEvent.click(screen.getByTestId('btn-confirm-prune-images'));
    await advance();
    expect(shell.of('disk_prune_images').map((c) => c.args.all)).toEqual([false]);
    expect(screen.getByTestId('disk-pruned').textContent).toBe('Nothing to remove; 0 B freed.');
  });
});
