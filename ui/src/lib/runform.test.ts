import { describe, expect, it } from 'vitest';
import { emptyForm, previewRequest, validateForm } from './runform';

describe('run form', () => {
  it('turns a valid form into a RunRequest', () => {
    const v = validateForm({
      ...emptyForm('berth/welcome:latest'),
      name: 'hello',
      ports: [
        { host: '8080', container: '80', proto: 'tcp' },
        { host: '', container: '', proto: 'tcp' },
      ],
      env: 'A=1\n\n  B=two words  \n',
      volumes: 'data:/data\n/srv/site:/usr/share/site:ro',
      command: 'httpd -f -p 80',
      restartPolicy: 'always',
    });
    expect(v).toEqual({
      ok: true,
      request: {
        image: 'berth/welcome:latest',
        name: 'hello',
        ports: [{ hostPort: 8080, containerPort: 80, proto: 'tcp' }],
        env: ['A=1', 'B=two words'],
        volumes: ['data:/data', '/srv/site:/usr/share/site:ro'],
        command: ['httpd', '-f', '-p', '80'],
        restartPolicy: 'always',
      },
    });
  });

  it('reports every bad field with its message key', () => {
    const v = validateForm({
      ...emptyForm(''),
      name: '-bad',
      ports: [
        { host: '8080', container: '80', proto: 'tcp' },
        { host: '70000', container: '80', proto: 'tcp' },
        { host: '8080', container: 'x', proto: 'tcp' },
        { host: '8080', container: '81', proto: 'tcp' },
      ],
      env: 'NOEQUALS',
      volumes: 'relative',
      command: 'echo "open',
    });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.errors).toEqual({
      image: { key: 'validation.imageRequired' },
      name: { key: 'validation.nameFormat' },
      'ports.1.host': { key: 'validation.portRange' },
      'ports.2.container': { key: 'validation.portFormat' },
      'ports.3.host': { key: 'validation.portDuplicate' },
      env: { key: 'validation.envFormat', params: { line: 'NOEQUALS' } },
      volumes: { key: 'validation.volumeFormat', params: { line: 'relative' } },
      command: { key: 'validation.commandQuote' },
    });
  });

  it('checks image references', () => {
    for (const ok of [
      'busybox',
      'busybox:1.36',
      '127.0.0.1:5000/busybox:latest',
      'ghcr.io/org/app-x_y:v1.2',
      `alpine@sha256:${'a'.repeat(64)}`,
    ])
      expect(validateForm(emptyForm(ok)).ok, ok).toBe(true);
    for (const bad of ['Ubuntu', 'has space', 'x:', ':tag']) expect(validateForm(emptyForm(bad)).ok, bad).toBe(false);
  });

  it('previews what it can while the form is still being typed', () => {
    const p = previewRequest({ ...emptyForm('nginx'), ports: [{ host: '80', container: '', proto: 'tcp' }], command: 'sh -c "x' });
    expect(p.ports).toEqual([]);
    expect(p.command).toEqual(['sh', '-c', '"x']);
  });
});
