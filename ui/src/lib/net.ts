// Address checks for the network form.

export function isValidIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && String(Number(p)) === p);
}

/** IPv4 CIDR "a.b.c.d/n" (n 0–32), or a loose IPv6 CIDR. */
export function isValidCidr(s: string): boolean {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (isValidIPv4(addr)) return n <= 32;
  return /^[0-9a-fA-F:]+$/.test(addr) && addr.includes(':') && n <= 128;
}
