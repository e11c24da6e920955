// @vitest-environment jsdom
import { fireEvent, render, screen } from '@testing-library/svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { engine } from '../src/lib/engine';
import { locale } from '../src/lib/i18n';
import { loadSettings } from '../src/lib/settings';
import type { VmInfo } from '../src/lib/types';
import SettingsView from '../src/views/settings/SettingsView.svelte';
import TroubleshootView from '../src/views/troubleshoot/TroubleshootView.svelte';
import { fakeShell, advance } from './fake-shell';

afterEach(() => engine.stop());

const failedVm: VmInfo = {
  phase: 'failed',
  reason: 'QEMU exited (signal: 9)',
  problem: null,
  accel: 'tcg',
  slow: true,
  cpus: 2,
  memoryMib: 2048,
  diskGib: 64,
  dir: '/home/ana/.local/share/berth/vm',
  consoleLog: '/home/ana/.local/share/berth/vm/console.log',
  hostLog: '/home/ana/.local/share/berth/vm/desktop-vm.log',
  ports: [
    { container: 'aaaaaaaaaaaaaaaa', hostIp: '127.0.0.1', hostPort: 8080, proto: 'tcp', error: null },
    { container: 'bbbbbbbbbbbbbbbb', hostIp: '127.0.0.1', hostPort: 5432, proto: 'tcp', error: 'Address already in use (os error 98)' },
  ],
};

describe('the engine VM', () => {
  it('Troubleshoot shows its state, the ports it could not open and its boot log, and resets it after the word', async () => {
    const shell = fakeShell({
      handlers: {
        engine_log: () => '',
        vm_info: () => failedVm,
        vm_log: (a) => (a.which === 'boot' ? 'berth-vm: [1.2] engine socket up' : 'stopped'),
        vm_reset: () => ({ state: 'running', reason: null, host: 'unix:///vm.sock', version: '0.1.0', canManage: true }),
      },
    });
    locale.set('en');
    await engine.start();
    render(TroubleshootView);
    await advance();
    expect(screen.getByTestId('vm-state').textContent).toBe('stopped unexpectedly');
    expect(screen.getByTestId('vm-accel').textContent).toBe('tcg');
    expect(screen.getByTestId('vm-slow')).toBeTruthy();
    expect(screen.getByTestId('vm-ports-failed')).toBeTruthy();
    expect(screen.getByTestId('vm-ports').textContent).toContain('127.0.0.1:5432 — could not be opened: Address already in use');
    expect(screen.getByTestId('vm-log').textContent).toContain('engine socket up');
    await fireEvent.click(screen.getByTestId('vm-log-host'));
    await advance();
    expect(shell.of('vm_log').map((c) => c.args.which)).toEqual(['boot', 'host']);

    await fireEvent.click(screen.getByTestId('btn-vm-reset'));
    const confirm = screen.getByTestId('btn-confirm-vm-reset') as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    const word = screen.getByTestId('vm-reset-word') as HTMLInputElement;
    word.value = 'reset';
    await fireEvent.input(word);
    await fireEvent.click(confirm);
    await advance();
    expect(shell.of('vm_reset')).toHaveLength(1);
    expect(screen.getByTestId('vm-reset-done')).toBeTruthy();
  });

  it('Settings turns the VM on and applies a new size, and says in Spanish what to install', async () => {
    const shell = fakeShell({
      settings: { engineInVm: false },
      handlers: {
        vm_platform: () => ({ platform: 'linux', vmOnly: false, hostCpus: 4, hostMemoryMib: 8192 }),
        vm_info: () => ({
          ...failedVm,
          phase: 'stopped',
          accel: null,
          slow: false,
          ports: [],
          problem: { kind: 'qemuMissing', program: 'qemu-system-x86_64', platform: 'linux' },
        }),
      },
    });
    await loadSettings();
    locale.set('es');
    await engine.start();
    render(SettingsView);
    await advance();
    const problems = screen.getAllByTestId('settings-vm-problem').map((p) => p.textContent);
    expect(problems).toEqual([
      'QEMU no está instalado (no se encontró qemu-system-x86_64).',
      'Instálalo con: sudo apt install qemu-system-x86 qemu-utils',
    ]);
    await fireEvent.click(screen.getByTestId('settings-engine-in-vm'));
    await advance();
    expect(shell.of('set_settings').slice(-1)[0]?.args.settings).toMatchObject({ engineInVm: true });

    const apply = screen.getByTestId('btn-vm-apply') as HTMLButtonElement;
    expect(apply.disabled).toBe(true);
    const cpus = screen.getByTestId('settings-vmCpus') as HTMLInputElement;
    cpus.value = '9';
    await fireEvent.input(cpus);
    expect(apply.disabled).toBe(true); // more than this machine has
    cpus.value = '3';
    await fireEvent.input(cpus);
    expect(apply.disabled).toBe(false);
    await fireEvent.click(apply);
    await advance();
    expect(shell.of('set_settings').slice(-1)[0]?.args.settings).toMatchObject({ engineInVm: true, vmCpus: 3, vmMemoryMib: 2048 });
  });
});
