// Path and permission helpers of the container file browser (pure, tested in files.test.ts).
import type { FileEntry } from './types';

/** `/a/b` + `c` → `/a/b/c`; an absolute `name` (a symlink target) replaces the base. */
export function joinPath(base: string, name: string): string {
  const parts = (name.startsWith('/') ? name : `${base}/${name}`).split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (!p || p === '.') continue;
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}

/** The directory above `path` (`/` stays `/`). */
export function parentPath(path: string): string {
  return joinPath(path, '..');
}

/** `/etc/ssl` → [{name: '/', path: '/'}, {name: 'etc', path: '/etc'}, {name: 'ssl', path: '/etc/ssl'}]. */
export function breadcrumbs(path: string): { name: string; path: string }[] {
  const crumbs = [{ name: '/', path: '/' }];
  let acc = '';
  for (const p of path.split('/').filter(Boolean)) {
    acc += `/${p}`;
    crumbs.push({ name: p, path: acc });
  }
  return crumbs;
}

/** `ls -l` style: `drwxr-xr-x`, `-rw-------`, `lrwxrwxrwx`. */
export function modeString(e: Pick<FileEntry, 'kind' | 'mode'>): string {
  const type = e.kind === 'dir' ? 'd' : e.kind === 'symlink' ? 'l' : e.kind === 'other' ? '?' : '-';
  const bits = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += e.mode & (1 << (8 - i)) ? bits[i] : '-';
  return type + s;
}
