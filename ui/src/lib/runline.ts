// The `docker run` line equivalent to a RunRequest, and shell-style splitting of a typed command.
import { formatBinding } from './ports';
import type { RunRequest } from './types';

/** Quotes a word for a POSIX shell only when it needs it. */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function runArgs(req: RunRequest): string[] {
  const args = ['docker', 'run', '-d'];
  if (req.name) args.push('--name', req.name);
  for (const p of req.ports) args.push('-p', formatBinding(p));
  for (const e of req.env) args.push('-e', e);
  for (const v of req.volumes) args.push('-v', v);
  if (req.restartPolicy !== 'no') args.push('--restart', req.restartPolicy);
  args.push(req.image || '<image>');
  if (req.command) args.push(...req.command);
  return args;
}

export function buildRunLine(req: RunRequest): string {
  return runArgs(req).map(shellQuote).join(' ');
}

/**
 * Splits a command line as a shell would for plain words, 'single' and "double" quotes and backslashes.
 * Returns null when a quote is left open.
 */
export function splitCommand(line: string): string[] | null {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return null;
  if (inWord) words.push(cur);
  return words;
}
