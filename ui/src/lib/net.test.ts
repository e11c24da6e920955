import { describe, expect, it } from 'vitest';
import { isValidCidr, isValidIPv4 } from './net';

describe('net', () => {
  it('checks IPv4 addresses and CIDRs', () => {
    expect(isValidIPv4('10.0.0.1')).toBe(true);
    expect(isValidIPv4('256.0.0.1')).toBe(false);
    expect(isValidIPv4('01.0.0.1')).toBe(false);
    expect(isValidCidr('10.20.0.0/24')).toBe(true);
    expect(isValidCidr('10.20.0.0/33')).toBe(false);
    expect(isValidCidr('10.20.0.0')).toBe(false);
    expect(isValidCidr('fd00::/64')).toBe(true);
    expect(isValidCidr('bogus/8')).toBe(false);
  });
});
