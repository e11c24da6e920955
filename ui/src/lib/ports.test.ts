import { describe, expect, it } from 'vitest';
import { browsablePorts, duplicateHostPorts, formatBinding, formatPortItem, parsePort, pickFreePort, validatePortRow } from './ports';

describe('ports', () => {
  it('accepts 1–65535 only', () => {
    expect(parsePort('80')).toBe(80);
    expect(parsePort(' 65535 ')).toBe(65535);
    expect(parsePort('0')).toBeNull();
    expect(parsePort('65536')).toBeNull();
    expect(parsePort('8o')).toBeNull();
    expect(parsePort('-1')).toBeNull();
    expect(parsePort('')).toBeNull();
  });

  it('validates a run dialog row and says which field is wrong', () => {
    expect(validatePortRow('8080', '80', 'tcp')).toEqual({ ok: true, binding: { hostPort: 8080, containerPort: 80, proto: 'tcp' } });
    expect(validatePortRow('', '53', 'udp')).toEqual({ ok: true, binding: { hostPort: null, containerPort: 53, proto: 'udp' } });
    expect(validatePortRow('70000', '80', 'tcp')).toEqual({ ok: false, error: 'validation.portRange', field: 'host' });
    expect(validatePortRow('8080', 'http', 'tcp')).toEqual({ ok: false, error: 'validation.portFormat', field: 'container' });
    expect(validatePortRow('8080', '0', 'tcp')).toEqual({ ok: false, error: 'validation.portRange', field: 'container' });
  });

  it('formats bindings in docker -p syntax', () => {
    expect(formatBinding({ hostPort: 8080, containerPort: 80, proto: 'tcp' })).toBe('8080:80');
    expect(formatBinding({ hostPort: null, containerPort: 53, proto: 'udp' })).toBe('53/udp');
  });

  it('finds duplicate host ports per protocol', () => {
    expect(
      duplicateHostPorts([
        { hostPort: 8080, containerPort: 80, proto: 'tcp' },
        { hostPort: 8080, containerPort: 81, proto: 'udp' },
        { hostPort: 8080, containerPort: 82, proto: 'tcp' },
        { hostPort: null, containerPort: 83, proto: 'tcp' },
      ]),
    ).toEqual([2]);
  });

  it('shows ports like docker ps and links each published TCP port once', () => {
    const ports = [
      { ip: '0.0.0.0', privatePort: 80, publicPort: 8080, proto: 'tcp' as const },
      { ip: '::', privatePort: 80, publicPort: 8080, proto: 'tcp' as const },
      { ip: '0.0.0.0', privatePort: 53, publicPort: 5353, proto: 'udp' as const },
      { ip: null, privatePort: 443, publicPort: null, proto: 'tcp' as const },
      { ip: '127.0.0.1', privatePort: 3000, publicPort: 3000, proto: 'tcp' as const },
    ];
    expect(formatPortItem(ports[0])).toBe('0.0.0.0:8080->80/tcp');
    expect(formatPortItem(ports[3])).toBe('443/tcp');
    expect(browsablePorts(ports)).toEqual([3000, 8080]);
  });

  it('picks the first free host port from the preferred one', () => {
    expect(pickFreePort([], 8080)).toBe(8080);
    expect(pickFreePort([8080, 8081, 9000], 8080)).toBe(8082);
  });
});
