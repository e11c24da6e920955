// @vitest-environment jsdom
import { emit } from '@tauri-apps/api/event';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { engine } from '../src/lib/engine';
import { REFRESH_DEBOUNCE_MS } from '../src/lib/events';
import { locale } from '../src/lib/i18n';
import ContainersView from '../src/views/containers/ContainersView.svelte';
import { container, fakeShell, running, advance } from './fake-shell';

const web = container('web', {
  project: 'shop',
  ports: [
    { ip: '0.0.0.0', privatePort: 80, publicPort: 8080, proto: 'tcp' },
    { ip: '::', privatePort: 80, publicPort: 8080, proto: 'tcp' },
  ],
});
const db = container('db', { project: 'shop', state: 'exited', status: 'Exited (0) 1 minute ago', image: 'postgres:16' });
const loose = container('loose');

async function setup(containers = [web, db, loose], status = running, handlers = {}) {
  const shell = fakeShell({ containers, status, handlers });
  locale.set('en');
  await engine.start();
  await advance();
  const open = vi.fn(async () => {});
  const view = render(ContainersView, { props: { open } });
  await advance();
  return { shell, open, view };
}

afterEach(() => engine.stop());

describe('Containers view', () => {
  it('lists containers grouped by compose project with their ports as links', async () => {
    const { open } = await setup();
    const rows = screen.getAllByTestId('container-row');
    expect(rows.map((r) => r.dataset.name)).toEqual(['db', 'web', 'loose']);
    expect(screen.getAllByTestId('container-group').map((g) => g.dataset.project)).toEqual(['shop']);
    const links = screen.getAllByTestId('port-link');
    expect(links).toHaveLength(1); // IPv4 and IPv6 bindings of one port: one link
    await fireEvent.click(links[0]);
    expect(open).toHaveBeenCalledWith('http://localhost:8080');
  });

  it('filters with the search box', async () => {
    await setup();
    const search = screen.getByTestId('container-search') as HTMLInputElement;
    search.value = 'postgres';
    await fireEvent.input(search);
    expect(screen.getAllByTestId('container-row').map((r) => r.dataset.name)).toEqual(['db']);
  });

  it('acts on one row with the buttons its state allows', async () => {
    const { shell } = await setup();
    const dbRow = screen.getAllByTestId('container-row').find((r) => r.dataset.name === 'db')!;
    expect(within(dbRow).queryByTestId('btn-stop')).toBeNull();
    await fireEvent.click(within(dbRow).getByTestId('btn-start'));
    await advance();
    expect(shell.of('container_action').map((c) => c.args)).toEqual([{ id: 'db-id', action: 'start' }]);
  });

  it('bulk-stops only the selected containers that run', async () => {
    const { shell } = await setup();
    const rows = screen.getAllByTestId('container-row');
    for (const r of rows.filter((r) => r.dataset.name !== 'loose')) await fireEvent.click(within(r).getByTestId('row-select'));
    expect(screen.getByTestId('bulk-bar').textContent).toContain('2 selected');
    await fireEvent.click(screen.getByTestId('bulk-stop'));
    await advance();
    expect(shell.of('container_action').map((c) => c.args)).toEqual([{ id: 'web-id', action: 'stop' }]);
  });

  it('asks before deleting and shows an engine error next to the row', async () => {
    const { shell } = await setup(undefined, undefined, {
      container_action: () => {
        throw { kind: 'engine', message: 'device or resource busy' };
      },
    });
    const looseRow = () => screen.getAllByTestId('container-row').find((r) => r.dataset.name === 'loose')!;
    await fireEvent.click(within(looseRow()).getByTestId('btn-delete'));
    expect(shell.of('container_action')).toHaveLength(0);
    await fireEvent.click(screen.getByTestId('btn-confirm-delete'));
    await advance();
    expect(shell.of('container_action').map((c) => c.args)).toEqual([{ id: 'loose-id', action: 'remove' }]);
    expect(screen.getByTestId('row-error').textContent).toContain('device or resource busy');
    expect(screen.getAllByTestId('container-row')).toHaveLength(3);
  });

  it('updates from engine events without polling', async () => {
    const { shell } = await setup([web]);
    expect(shell.of('list_containers')).toHaveLength(1);
    await advance(60_000); // a minute of (fake) time: no poll
    expect(shell.of('list_containers')).toHaveLength(1);
    shell.state.containers = [web, container('fresh')];
    await emit('engine-event', { Type: 'container', Action: 'create', Actor: { ID: 'fresh-id', Attributes: {} } });
    await advance(REFRESH_DEBOUNCE_MS - 1);
    expect(shell.of('list_containers')).toHaveLength(1); // still collecting the burst
    await advance(1);
    expect(shell.of('list_containers')).toHaveLength(2);
    expect(screen.getAllByTestId('container-row').map((r) => r.dataset.name)).toContain('fresh');
  });

  it('shows the engine state instead of the list when it is not running, and recovers', async () => {
    const { shell } = await setup([web], { ...running, state: 'stopped', reason: 'berthd is not running' });
    expect(screen.getByTestId('engine-gate').textContent).toContain('berthd is not running');
    expect(screen.queryByTestId('container-row')).toBeNull();
    await emit('engine-status', running);
    await advance();
    expect(shell.of('list_containers')).toHaveLength(1);
    expect(screen.getAllByTestId('container-row')).toHaveLength(1);
  });
});
