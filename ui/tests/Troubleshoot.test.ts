// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { engine } from '../src/lib/engine';
import { locale } from '../src/lib/i18n';
import TroubleshootView from '../src/views/troubleshoot/TroubleshootView.svelte';
import { fakeShell, settle } from './fake-shell';

afterEach(() => engine.stop());

describe('Troubleshoot', () => {
  it('asks for the word before resetting, and disables reset when the shell has no such command', async () => {
    const shell = fakeShell({
      handlers: {
        reset_engine_data: () => {
          throw 'Command reset_engine_data not found';
        },
      },
    });
    locale.set('es');
    await engine.start();
    render(TroubleshootView);
    await fireEvent.click(screen.getByTestId('btn-reset'));
    const confirm = screen.getByTestId('btn-confirm-reset') as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    const word = screen.getByTestId('reset-word') as HTMLInputElement;
    word.value = 'borrar';
    await fireEvent.input(word);
    expect(confirm.disabled).toBe(false);
    await fireEvent.click(confirm);
    await settle();
    expect(shell.of('reset_engine_data')).toHaveLength(1);
    expect((screen.getByTestId('btn-reset') as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByTestId('reset-unsupported').textContent).toBe('Esta versión de Berth todavía no permite borrar los datos.');
  });
});
