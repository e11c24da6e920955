// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { engine } from '../src/lib/engine';
import { locale } from '../src/lib/i18n';
import TroubleshootView from '../src/views/troubleshoot/TroubleshootView.svelte';
import { fakeShell, advance } from './fake-shell';

afterEach(() => engine.stop());

describe('Troubleshoot', () => {
  it('asks for the word before resetting, then says what was removed', async () => {
    const shell = fakeShell({
      handlers: {
        reset_engine_data: () => ({ containers: 3, images: 2, volumes: 1, networks: 0 }),
        engine_log: () => '',
      },
    });
    locale.set('es');
    await engine.start();
    render(TroubleshootView);
    await fireEvent.click(screen.getByTestId('btn-reset'));
    const confirm = screen.getByTestId('btn-confirm-reset') as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    const word = screen.getByTestId('reset-word') as HTMLInputElement;
    word.value = 'reset';
    await fireEvent.input(word);
    expect(confirm.disabled).toBe(true);
    expect(shell.of('reset_engine_data')).toHaveLength(0);
    word.value = 'borrar';
    await fireEvent.input(word);
    expect(confirm.disabled).toBe(false);
    await fireEvent.click(confirm);
    await advance();
    expect(shell.of('reset_engine_data')).toHaveLength(1);
    expect(screen.getByTestId('reset-done').textContent).toBe('Se eliminaron 3 contenedores, 2 imágenes, 1 volúmenes y 0 redes.');
  });

  it('shows a failed reset next to the button', async () => {
    fakeShell({
      handlers: {
        reset_engine_data: () => {
          throw { kind: 'conflict', message: 'unable to remove volume: volume is in use' };
        },
        engine_log: () => '',
      },
    });
    locale.set('en');
    await engine.start();
    render(TroubleshootView);
    await fireEvent.click(screen.getByTestId('btn-reset'));
    const word = screen.getByTestId('reset-word') as HTMLInputElement;
    word.value = 'reset';
    await fireEvent.input(word);
    await fireEvent.click(screen.getByTestId('btn-confirm-reset'));
    await advance();
    expect(screen.getByTestId('reset-error').textContent).toContain('in use');
    expect(screen.queryByTestId('reset-done')).toBeNull();
  });

  it('shows the tail of the engine log, and says where it is when Berth did not start the engine', async () => {
    let text = '';
    const shell = fakeShell({ handlers: { engine_log: () => text } });
    locale.set('en');
    await engine.start();
    render(TroubleshootView);
    await advance();
    expect(screen.getByTestId('engine-log-none').textContent).toContain('already running');
    text = 'level=info msg="berthd listening"\nlevel=warn msg="runtime crun refused"';
    await fireEvent.click(screen.getByTestId('btn-log-refresh'));
    await advance();
    expect(screen.getByTestId('engine-log').textContent).toContain('runtime crun refused');
    expect(shell.of('engine_log')).toHaveLength(2);
    expect(shell.of('engine_log')[0].args).toEqual({ lines: 300 });
  });
});
