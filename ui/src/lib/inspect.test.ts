import { describe, expect, it } from 'vitest';
import { splitEnv, summarize } from './inspect';

const raw = {
  Id: 'abc123',
  Name: '/web',
  Created: '2024-05-01T10:00:00Z',
  Path: 'httpd',
  Args: ['-f', '-p', '80'],
  Image: 'sha256:feed',
  State: { Status: 'exited', Running: false, ExitCode: 137, StartedAt: '2024-05-01T10:00:01Z', FinishedAt: '0001-01-01T00:00:00Z' },
  Config: { Image: 'berth/welcome:latest', Env: ['PATH=/bin', 'EMPTY=', 'A=b=c'] },
  HostConfig: { RestartPolicy: { Name: 'unless-stopped' } },
  Mounts: [
    { Type: 'volume', Name: 'data', Source: '/var/lib/berth/volumes/data/_data', Destination: '/data', RW: true },
    { Type: 'bind', Source: '/srv', Destination: '/srv', RW: false },
  ],
  NetworkSettings: {
    Networks: { bridge: { IPAddress: '172.17.0.2' } },
    Ports: {
      '80/tcp': [
        { HostIp: '0.0.0.0', HostPort: '8080' },
        { HostIp: '::', HostPort: '8080' },
      ],
      '443/tcp': null,
      '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
    },
  },
};

describe('inspect summary', () => {
  it('reads the fields a person looks for', () => {
    const s = summarize(raw);
    expect(s).toMatchObject({
      id: 'abc123',
      name: 'web',
      image: 'berth/welcome:latest',
      state: 'exited',
      running: false,
      exitCode: 137,
      finishedAt: null,
      command: 'httpd -f -p 80',
      restartPolicy: 'unless-stopped',
      networks: [{ name: 'bridge', ip: '172.17.0.2' }],
    });
    expect(s.env).toEqual([
      { key: 'PATH', value: '/bin' },
      { key: 'EMPTY', value: '' },
      { key: 'A', value: 'b=c' },
    ]);
    expect(s.mounts).toEqual([
      { type: 'volume', source: 'data', destination: '/data', readOnly: false },
      { type: 'bind', source: '/srv', destination: '/srv', readOnly: true },
    ]);
    expect(s.ports).toEqual([
      { container: '80/tcp', host: '8080' },
      { container: '443/tcp', host: null },
      { container: '53/udp', host: '127.0.0.1:5353' },
    ]);
  });

  it('survives a shape it does not know', () => {
    expect(summarize(null)).toMatchObject({ id: '', env: [], mounts: [], ports: [], restartPolicy: 'no' });
    expect(splitEnv('NOVALUE')).toEqual({ key: 'NOVALUE', value: '' });
  });
});
