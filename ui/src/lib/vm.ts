// The engine's VM: its problems and ports as translatable text, and the size form's limits.
import type { Settings, VmInfo, VmPhase, VmPlatform, VmPort, VmProblem } from './types';

export interface Text {
  key: string;
  params: Record<string, string | number>;
}

export const VM_PHASE_KEYS: Record<VmPhase, string> = {
  stopped: 'vm.state.stopped',
  starting: 'vm.state.starting',
  running: 'vm.state.running',
  stopping: 'vm.state.stopping',
  failed: 'vm.state.failed',
};

/** What to tell the user about a problem, in order: what is wrong, then what to do. */
export function problemTexts(p: VmProblem | null | undefined): Text[] {
  if (!p) return [];
  switch (p.kind) {
    case 'qemuMissing':
      return [
        { key: 'vm.qemuMissing', params: { program: p.program } },
        { key: `vm.install.${p.platform}`, params: {} },
      ];
    case 'guestMissing':
      return [{ key: 'vm.guestMissing', params: { path: p.path } }];
    case 'failed':
      return [{ key: 'vm.failed', params: { message: p.message } }];
  }
}

/** `127.0.0.1:8080`, `[::1]:8080`, `127.0.0.1:5353/udp` (TCP is the default, as in `docker port`). */
export function portAddress(p: VmPort): string {
  const addr = p.hostIp.includes(':') ? `[${p.hostIp}]:${p.hostPort}` : `${p.hostIp}:${p.hostPort}`;
  return p.proto === 'tcp' ? addr : `${addr}/${p.proto}`;
}

/** Ports the host could not open (taken by another program), sorted by port. */
export function failedPorts(ports: VmPort[]): VmPort[] {
  return ports.filter((p) => p.error).sort((a, b) => a.hostPort - b.hostPort);
}

/** One line per port: forwarded ones with their address, failed ones with why. */
export function portText(p: VmPort): Text {
  return p.error ? { key: 'vm.portFailed', params: { error: p.error } } : { key: 'vm.portForwarded', params: { address: portAddress(p) } };
}

export interface VmSize {
  vmCpus: number;
  vmMemoryMib: number;
  vmDiskGib: number;
}

export const MIN_MEMORY_MIB = 512;
export const MIN_DISK_GIB = 4;
export const MAX_DISK_GIB = 2048;

/** Each field's [min, max] on this machine (the shell checks the same). */
export function sizeLimits(platform: VmPlatform): Record<keyof VmSize, [number, number]> {
  return {
    vmCpus: [1, Math.max(1, platform.hostCpus)],
    vmMemoryMib: [MIN_MEMORY_MIB, Math.max(MIN_MEMORY_MIB, platform.hostMemoryMib)],
    vmDiskGib: [MIN_DISK_GIB, MAX_DISK_GIB],
  };
}

/** The fields out of range (or not whole numbers), each with the range to say. */
export function sizeErrors(size: VmSize, platform: VmPlatform): Partial<Record<keyof VmSize, Text>> {
  const out: Partial<Record<keyof VmSize, Text>> = {};
  for (const [field, [min, max]] of Object.entries(sizeLimits(platform)) as [keyof VmSize, [number, number]][]) {
    const v = size[field];
    if (!Number.isInteger(v) || v < min || v > max) out[field] = { key: 'settings.vmRange', params: { min, max } };
  }
  return out;
}

/** Whether the form differs from the saved settings (applying restarts the VM). */
export function sizeChanged(saved: Settings, size: VmSize): boolean {
  return saved.vmCpus !== size.vmCpus || saved.vmMemoryMib !== size.vmMemoryMib || saved.vmDiskGib !== size.vmDiskGib;
}

/** The VM's phase as the badge shows it, and whether it is a failure to point out. */
export function vmNeedsRestart(info: VmInfo | null): boolean {
  return info?.phase === 'failed';
}

/**
 * The VM host's engine-status reasons (src-tauri/src/engine_host/vm.rs, `engine_state`) in the
 * user's language; any other reason (a native engine's, an error's details) stays as the shell wrote it.
 */
export function reasonText(reason: string): Text | null {
  const fixed: Record<string, string> = {
    'The VM is booting': 'vm.reason.booting',
    'The VM is stopping': 'vm.reason.stopping',
    'The VM is not running': 'vm.reason.notRunning',
  };
  if (reason in fixed) return { key: fixed[reason], params: {} };
  const failed = /^The VM stopped unexpectedly \((.*)\); restart it$/s.exec(reason);
  if (failed) return { key: 'vm.reason.failed', params: { why: failed[1] } };
  return null;
}
