// Ports: validation of what the user types, and display of what the engine reports.
import type { PortRequest, PortItem, Proto } from './types';

/** Locale keys of the port validation messages (also checked by the i18n test). */
export const PORT_ERRORS = {
  range: 'validation.portRange',
  format: 'validation.portFormat',
  duplicate: 'validation.portDuplicate',
} as const;
export type PortError = (typeof PORT_ERRORS)[keyof typeof PORT_ERRORS];

/** A port number typed by the user: digits only, 1–65535. */
export function parsePort(text: string): number | null {
  const s = text.trim();
  if (!/^\d{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : null;
}

/** A number out of 1–65535 is a range error; anything else (empty, letters) a format error. */
const whyInvalid = (text: string): PortError => (/^\d+$/.test(text.trim()) ? PORT_ERRORS.range : PORT_ERRORS.format);

/**
 * One row of the run dialog: host port (may be empty = engine picks one), container port, protocol.
 * Returns the binding or the key of the message to show next to the field.
 */
export function validatePortRow(
  host: string,
  container: string,
  proto: Proto,
): { ok: true; binding: PortRequest } | { ok: false; error: PortError; field: 'host' | 'container' } {
  const c = parsePort(container);
  if (c === null) return { ok: false, error: whyInvalid(container), field: 'container' };
  let h: number | null = null;
  if (host.trim() !== '') {
    h = parsePort(host);
    if (h === null) return { ok: false, error: whyInvalid(host), field: 'host' };
  }
  return { ok: true, binding: { hostPort: h, containerPort: c, proto } };
}

/** The same binding in docker's -p syntax. */
export function formatBinding(b: PortRequest): string {
  const proto = b.proto === 'tcp' ? '' : `/${b.proto}`;
  return b.hostPort === null ? `${b.containerPort}${proto}` : `${b.hostPort}:${b.containerPort}${proto}`;
}

/** Host ports used twice for the same protocol: the second one is the duplicate. */
export function duplicateHostPorts(bindings: PortRequest[]): number[] {
  const seen = new Set<string>();
  const dups: number[] = [];
  bindings.forEach((b, i) => {
    if (b.hostPort === null) return;
    const k = `${b.hostPort}/${b.proto}`;
    if (seen.has(k)) dups.push(i);
    seen.add(k);
  });
  return dups;
}

/** A reported port as docker ps shows it: "0.0.0.0:8080->80/tcp" or "80/tcp". */
export function formatPortItem(p: PortItem): string {
  if (p.publicPort === null) return `${p.privatePort}/${p.proto}`;
  const ip = p.ip && p.ip !== '' ? `${p.ip}:` : '';
  return `${ip}${p.publicPort}->${p.privatePort}/${p.proto}`;
}

/** Published TCP ports worth a link, once each (the engine reports IPv4 and IPv6 bindings separately). */
export function browsablePorts(ports: PortItem[]): number[] {
  const out: number[] = [];
  for (const p of ports) {
    if (p.proto === 'tcp' && p.publicPort !== null && !out.includes(p.publicPort)) out.push(p.publicPort);
  }
  return out.sort((a, b) => a - b);
}

export const localUrl = (port: number) => `http://localhost:${port}`;

/** The first host port from `preferred` up that no container publishes. */
export function pickFreePort(used: Iterable<number>, preferred = 8080): number {
  const taken = new Set(used);
  for (let p = preferred; p <= 65535; p++) if (!taken.has(p)) return p;
  for (let p = 1024; p < preferred; p++) if (!taken.has(p)) return p;
  throw new Error('no free port');
}
