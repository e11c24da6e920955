// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { engine } from '../src/lib/engine';
import { locale } from '../src/lib/i18n';
import { LOG_FRAME_MS } from '../src/lib/logs';
import type { LogLine } from '../src/lib/types';
import ContainerDetail from '../src/views/containers/ContainerDetail.svelte';
import { container, fakeShell, advance } from './fake-shell';

afterEach(() => engine.stop());

/** Sends messages down a Channel the UI passed to a command, as the Rust side would. */
function sendTo(channel: unknown, messages: unknown[]) {
  const id = (channel as { id: number }).id;
  const internals = (window as unknown as { __TAURI_INTERNALS__: { runCallback(id: number, data: unknown): void } }).__TAURI_INTERNALS__;
  messages.forEach((message, index) => internals.runCallback(id, { index, message }));
}

const inspect = {
  Id: 'web-id',
  Name: '/web',
  Config: { Image: 'nginx:1.27', Env: ['GREETING=hola'] },
  State: { Status: 'running', Running: true },
  NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] } },
  Mounts: [],
};

async function setup(handlers: Record<string, (a: Record<string, unknown>) => unknown>) {
  const shell = fakeShell({ containers: [container('web')], handlers: { inspect_container: () => inspect, ...handlers } });
  locale.set('en');
  await engine.start();
  await advance();
  render(ContainerDetail, { props: { id: 'web-id', open: async () => {} } });
  await advance();
  return shell;
}

describe('Container detail', () => {
  it('streams logs, searches them and restarts the stream with timestamps', async () => {
    const shell = await setup({
      container_logs: (a) => {
        const lines: LogLine[] = a.timestamps
          ? [{ stream: 'stdout', text: '2024-05-01T10:00:00Z ready\n' }]
          : [
              { stream: 'stdout', text: 'ready\n' },
              { stream: 'stderr', text: 'GET /missing 404\n' },
            ];
        sendTo(a.onLine, lines);
        return new Promise(() => {}); // follow: never ends
      },
    });
    await advance(LOG_FRAME_MS);
    expect(shell.of('container_logs')[0].args).toMatchObject({ id: 'web-id', tail: 1000, timestamps: false, follow: true });
    expect(screen.getAllByTestId('log-line').map((l) => l.textContent)).toEqual(['ready', 'GET /missing 404']);

    const search = screen.getByTestId('logs-search') as HTMLInputElement;
    search.value = '404';
    await fireEvent.input(search);
    expect(screen.getAllByTestId('log-line')).toHaveLength(1);
    search.value = '';
    await fireEvent.input(search);

    await fireEvent.click(screen.getByTestId('logs-timestamps'));
    await advance(LOG_FRAME_MS);
    expect(shell.of('container_logs')).toHaveLength(2);
    // The first stream was closed, and the shell told to stop the container's streams.
    const id = shell.of('container_logs')[0].args.id;
    expect(shell.of('close_container_streams').map((c) => c.args)).toEqual([{ id }]);
    expect(screen.getAllByTestId('log-line').map((l) => l.textContent)).toEqual(['2024-05-01T10:00:00Zready']);
  });

  it('keeps only the rows on screen in the DOM for a long log', async () => {
    await setup({
      container_logs: (a) => {
        sendTo(
          a.onLine,
          Array.from({ length: 3000 }, (_, i) => ({ stream: 'stdout', text: `line ${i}\n` })),
        );
        return new Promise(() => {});
      },
    });
    await advance(LOG_FRAME_MS);
    const rendered = screen.getAllByTestId('log-line');
    expect(rendered.length).toBeGreaterThan(0);
    expect(rendered.length).toBeLessThan(60);
    const search = screen.getByTestId('logs-search') as HTMLInputElement;
    search.value = 'line 2999';
    await fireEvent.input(search);
    expect(screen.getAllByTestId('log-line').map((l) => l.textContent)).toEqual(['line 2999']);
  });

  it('says stats are not available yet when the engine answers unavailable', async () => {
    await setup({
      container_logs: () => null,
      container_stats: () => {
        throw { kind: 'unavailable', message: 'stats: 501 Not Implemented' };
      },
    });
    await fireEvent.click(screen.getByTestId('tab-stats'));
    await advance();
    expect(screen.getByTestId('stats-unavailable').textContent).toBe('Live stats are not available yet: this engine does not serve them.');
  });

  it('draws stats as they arrive', async () => {
    const shell = await setup({
      container_logs: () => null,
      container_stats: (a) => {
        sendTo(a.onStats, [
          { cpuPercent: 10, memUsage: 50e6, memLimit: 100e6, netRx: 0, netTx: 0, time: 100 },
          { cpuPercent: 30, memUsage: 60e6, memLimit: 100e6, netRx: 2000, netTx: 1000, time: 101 },
        ]);
        return new Promise(() => {});
      },
    });
    await fireEvent.click(screen.getByTestId('tab-stats'));
    await advance();
    expect(screen.getByTestId('chart-cpu').textContent).toContain('30.0 %');
    expect(screen.getByTestId('chart-mem').textContent).toContain('60.0 MB');
    expect(screen.getByTestId('chart-net').textContent).toContain('2.00 kB/s');
    // Leaving the tab closes the stats stream.
    await fireEvent.click(screen.getByTestId('tab-env'));
    await advance();
    expect(shell.of('close_container_streams').map((c) => c.args.id)).toContain(shell.of('container_stats')[0].args.id);
  });

  it('shows environment and ports from inspect', async () => {
    await setup({ container_logs: () => null });
    await fireEvent.click(screen.getByTestId('tab-env'));
    await advance();
    expect(screen.getByTestId('env-table').textContent).toContain('GREETING');
    await fireEvent.click(screen.getByTestId('tab-ports'));
    expect(screen.getByTestId('ports-table').textContent).toContain('80/tcp');
  });

  it('browses files: folders, symlinks to folders, text previews, partial listings', async () => {
    const dirs: Record<string, unknown> = {
      '/': {
        path: '/',
        truncated: false,
        entries: [
          { name: 'bin', kind: 'symlink', size: 0, mode: 0o777, modified: 0, linkTarget: 'usr/bin' },
          { name: 'srv', kind: 'dir', size: 0, mode: 0o755, modified: 0, linkTarget: null },
        ],
      },
      '/srv': {
        path: '/srv',
        truncated: false,
        entries: [{ name: 'hello.txt', kind: 'file', size: 5, mode: 0o600, modified: 0, linkTarget: null }],
      },
      '/usr/bin': { path: '/usr/bin', truncated: true, entries: [] },
    };
    const shell = await setup({
      container_logs: () => null,
      list_container_dir: (a) => {
        const d = dirs[a.path as string];
        if (!d) throw { kind: 'not_found', message: `Could not find the file ${a.path}`, field: 'path' };
        return d;
      },
      read_container_file: (a) => ({ path: a.path, size: 5, text: 'hola\n', truncated: false }),
    });
    await fireEvent.click(screen.getByTestId('tab-files'));
    await advance();
    const rows = () => screen.getAllByTestId('file-row').map((r) => r.getAttribute('data-name'));
    expect(rows()).toEqual(['bin', 'srv']);
    await fireEvent.click(screen.getAllByTestId('file-row')[1].querySelector('button')!);
    await advance();
    expect(rows()).toEqual(['hello.txt']);
    expect(screen.getByTestId('file-row').textContent).toContain('-rw-------');
    await fireEvent.click(screen.getByTestId('file-row').querySelector('button')!);
    await advance();
    expect(screen.getByTestId('file-text').textContent).toBe('hola\n');
    expect(shell.of('read_container_file')[0].args.path).toBe('/srv/hello.txt');
    await fireEvent.click(screen.getByTestId('files-up'));
    await advance();
    await fireEvent.click(screen.getAllByTestId('file-row')[0].querySelector('button')!);
    await advance();
    expect(shell.of('list_container_dir').map((c) => c.args.path)).toContain('/usr/bin');
    expect(screen.getByTestId('files-empty')).toBeTruthy();
    expect(screen.getByTestId('files-truncated')).toBeTruthy();
  });
});
