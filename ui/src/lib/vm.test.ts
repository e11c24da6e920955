import { describe, expect, it } from 'vitest';
import { dictionaries } from './i18n';
import type { Settings, VmPlatform, VmPort } from './types';
import { VM_PHASE_KEYS, failedPorts, portAddress, portText, problemTexts, reasonText, sizeChanged, sizeErrors } from './vm';

const linux: VmPlatform = { platform: 'linux', vmOnly: false, hostCpus: 4, hostMemoryMib: 8192 };

describe('vm', () => {
  it('says what is missing and how to install QEMU on each platform', () => {
    for (const platform of ['linux', 'macos', 'windows'] as const) {
      const texts = problemTexts({ kind: 'qemuMissing', program: 'qemu-img', platform });
      expect(texts.map((t) => t.key)).toEqual(['vm.qemuMissing', `vm.install.${platform}`]);
      for (const lang of ['en', 'es'] as const) for (const t of texts) expect(dictionaries[lang][t.key]).toBeTruthy();
    }
    expect(dictionaries.en['vm.install.linux']).toContain('apt install qemu-system-x86');
    expect(dictionaries.es['vm.install.macos']).toContain('brew install qemu');
    expect(problemTexts({ kind: 'guestMissing', path: '/opt/berth/vm-guest' })[0].params.path).toBe('/opt/berth/vm-guest');
    expect(problemTexts({ kind: 'failed', message: 'boom' })).toEqual([{ key: 'vm.failed', params: { message: 'boom' } }]);
    expect(problemTexts(null)).toEqual([]);
  });

  it('every phase has words in both languages', () => {
    for (const key of Object.values(VM_PHASE_KEYS)) {
      expect(dictionaries.en[key]).toBeTruthy();
      expect(dictionaries.es[key]).toBeTruthy();
    }
  });

  it('lists the ports the host could not open, by port', () => {
    const ports: VmPort[] = [
      { container: 'b', hostIp: '127.0.0.1', hostPort: 9000, proto: 'tcp', error: 'address in use' },
      { container: 'a', hostIp: '127.0.0.1', hostPort: 8080, proto: 'tcp', error: null },
      { container: 'c', hostIp: '::1', hostPort: 80, proto: 'tcp', error: 'address in use' },
      { container: 'd', hostIp: '127.0.0.1', hostPort: 5353, proto: 'udp', error: null },
    ];
    expect(failedPorts(ports).map((p) => p.hostPort)).toEqual([80, 9000]);
    expect(portAddress(ports[2])).toBe('[::1]:80');
    expect(portAddress(ports[3])).toBe('127.0.0.1:5353/udp');
    expect(portText(ports[1])).toEqual({ key: 'vm.portForwarded', params: { address: '127.0.0.1:8080' } });
    expect(portText(ports[0]).key).toBe('vm.portFailed');
  });

  it('checks the size against this machine', () => {
    expect(sizeErrors({ vmCpus: 2, vmMemoryMib: 2048, vmDiskGib: 64 }, linux)).toEqual({});
    const bad = sizeErrors({ vmCpus: 8, vmMemoryMib: 100, vmDiskGib: 1.5 }, linux);
    expect(Object.keys(bad).sort()).toEqual(['vmCpus', 'vmDiskGib', 'vmMemoryMib']);
    expect(bad.vmCpus).toEqual({ key: 'settings.vmRange', params: { min: 1, max: 4 } });
  });

  it('knows when applying would restart the VM', () => {
    const saved = { vmCpus: 2, vmMemoryMib: 2048, vmDiskGib: 64 } as Settings;
    expect(sizeChanged(saved, { vmCpus: 2, vmMemoryMib: 2048, vmDiskGib: 64 })).toBe(false);
    expect(sizeChanged(saved, { vmCpus: 1, vmMemoryMib: 2048, vmDiskGib: 64 })).toBe(true);
  });

  it("speaks the VM host's reasons in the user's language, and leaves others alone", () => {
    for (const r of ['The VM is booting', 'The VM is stopping', 'The VM is not running']) {
      const key = reasonText(r)?.key ?? '';
      expect(dictionaries.es[key]).toBeTruthy();
      expect(dictionaries.en[key]).toBe(r);
    }
    expect(reasonText('The VM stopped unexpectedly (QEMU exited (signal: 9)); restart it')).toEqual({
      key: 'vm.reason.failed',
      params: { why: 'QEMU exited (signal: 9)' },
    });
    expect(reasonText('No engine socket at /run/berth.sock')).toBeNull();
  });
});
