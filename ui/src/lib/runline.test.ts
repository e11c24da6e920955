import { describe, expect, it } from 'vitest';
import { buildRunLine, shellQuote, splitCommand } from './runline';
import type { RunRequest } from './types';

const base: RunRequest = { image: 'nginx:1.27', name: null, ports: [], env: [], volumes: [], command: null, restartPolicy: 'no' };

describe('runline', () => {
  it('quotes only what needs quoting', () => {
    expect(shellQuote('nginx:1.27')).toBe('nginx:1.27');
    expect(shellQuote('A=b c')).toBe("'A=b c'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
  });

  it('builds the equivalent docker run line', () => {
    expect(buildRunLine(base)).toBe('docker run -d nginx:1.27');
    expect(
      buildRunLine({
        ...base,
        name: 'web',
        ports: [
          { hostPort: 8080, containerPort: 80, proto: 'tcp' },
          { hostPort: null, containerPort: 53, proto: 'udp' },
        ],
        env: ['GREETING=hello world'],
        volumes: ['data:/usr/share/nginx/html:ro'],
        command: ['sh', '-c', 'echo hi && sleep 1'],
        restartPolicy: 'unless-stopped',
      }),
    ).toBe(
      "docker run -d --name web -p 8080:80 -p 53/udp -e 'GREETING=hello world' -v data:/usr/share/nginx/html:ro --restart unless-stopped nginx:1.27 sh -c 'echo hi && sleep 1'",
    );
  });

  it('splits a typed command like a shell', () => {
    expect(splitCommand('sh -c "echo hi && sleep 1"')).toEqual(['sh', '-c', 'echo hi && sleep 1']);
    expect(splitCommand("echo 'a b'  c\\ d")).toEqual(['echo', 'a b', 'c d']);
    expect(splitCommand('echo ""')).toEqual(['echo', '']);
    expect(splitCommand('echo "open')).toBeNull();
    expect(splitCommand('   ')).toEqual([]);
  });

  it('round-trips: the line splits back into the same words', () => {
    const req = { ...base, env: ['Q=it\'s "quoted"'], command: ['printf', '%s\n', 'a b'] };
    const words = splitCommand(buildRunLine(req));
    expect(words).toEqual(['docker', 'run', '-d', '-e', 'Q=it\'s "quoted"', 'nginx:1.27', 'printf', '%s\n', 'a b']);
  });
});
