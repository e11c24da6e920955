import { describe, expect, it } from 'vitest';
import { breadcrumbs, joinPath, modeString, parentPath } from './files';

describe('file browser paths', () => {
  it('joins, follows relative and absolute symlink targets, and never climbs above /', () => {
    expect(joinPath('/', 'etc')).toBe('/etc');
    expect(joinPath('/srv', 'hello.txt')).toBe('/srv/hello.txt');
    expect(joinPath('/bin', '../usr/bin')).toBe('/usr/bin');
    expect(joinPath('/srv', '/etc/ssl/')).toBe('/etc/ssl');
    expect(joinPath('/', '../../x')).toBe('/x');
    expect(parentPath('/etc/ssl')).toBe('/etc');
    expect(parentPath('/')).toBe('/');
  });

  it('makes breadcrumbs', () => {
    expect(breadcrumbs('/')).toEqual([{ name: '/', path: '/' }]);
    expect(breadcrumbs('/etc/ssl')).toEqual([
      { name: '/', path: '/' },
      { name: 'etc', path: '/etc' },
      { name: 'ssl', path: '/etc/ssl' },
    ]);
  });

  it('shows modes like ls -l', () => {
    expect(modeString({ kind: 'dir', mode: 0o755 })).toBe('drwxr-xr-x');
    expect(modeString({ kind: 'file', mode: 0o600 })).toBe('-rw-------');
    expect(modeString({ kind: 'symlink', mode: 0o777 })).toBe('lrwxrwxrwx');
  });
});
