// @vitest-environment jsdom
import { emit } from '@tauri-apps/api/event';
import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import App from '../src/App.svelte';
import { go } from '../src/lib/route';
import { container, fakeShell, running, advance } from './fake-shell';

describe('App shell', () => {
  it('shows the engine state without crashing when the engine is missing, and recovers on its event', async () => {
    go('containers');
    const shell = fakeShell({
      status: { ...running, state: 'error', reason: 'connect /run/berth.sock: no such file' },
      containers: [container('web')],
    });
    render(App);
    await advance();
    const badge = screen.getByTestId('engine-badge');
    expect(badge.dataset.state).toBe('error');
    expect(screen.getByTestId('engine-reason').textContent).toContain('no such file');
    expect(screen.queryByTestId('container-row')).toBeNull();
    expect(shell.of('list_containers')).toHaveLength(0);

    await emit('engine-status', { ...running, state: 'starting' });
    await advance();
    expect(screen.getByTestId('engine-badge').dataset.state).toBe('starting');
    await emit('engine-status', running);
    await advance();
    expect(screen.getByTestId('engine-badge').dataset.state).toBe('running');
    expect(screen.getAllByTestId('container-row')).toHaveLength(1);
  });

  it('opens the tour at first launch, in the system language', async () => {
    go('containers');
    fakeShell({ settings: { language: null, onboardingDone: false }, handlers: { system_locale: () => 'es_ES.UTF-8' } });
    render(App);
    await advance();
    expect(screen.getByTestId('view-onboarding')).toBeTruthy();
    expect(screen.getByTestId('nav-containers').textContent).toContain('Contenedores');
    expect(document.documentElement.lang).toBe('es');
  });

  it('switches language live from Settings', async () => {
    go('settings');
    const shell = fakeShell({ settings: { language: 'en' } });
    render(App);
    await advance();
    expect(screen.getByTestId('nav-images').textContent).toContain('Images');
    const select = screen.getByTestId('settings-language') as HTMLSelectElement;
    select.value = 'es';
    await fireEvent.change(select);
    await advance();
    expect(screen.getByTestId('nav-images').textContent).toContain('Imágenes');
    expect(shell.of('set_settings').slice(-1)[0].args.settings).toMatchObject({ language: 'es' });
  });
});
