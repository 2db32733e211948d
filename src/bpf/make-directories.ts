/**
 * Directories made one level at a time. Node's `mkdirSync(p, { recursive:
 * true })` loops forever when mkdir answers ENOENT although the parent
 * exists, which is what sysfs does (a /sys/fs/bpf without a bpffs on it):
 * netprobe must never call it. Here every level is one plain mkdir, and any
 * answer but success or "already a directory" is an error naming the level.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The deepest of `path` and its ancestors that exists (`path` itself when it does). */
export function nearestExisting(path: string): string {
  let p = resolve(path);
  for (;;) {
    try {
      statSync(p);
      return p;
    } catch (e) {
      const parent = dirname(p);
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === p) throw e;
      p = parent;
    }
  }
}

/**
 * Makes `path` and its missing ancestors with mode `mode`, top down, each
 * with a non-recursive mkdir. Throws the first failure (an Error whose
 * message names the level), never retries.
 */
export function makeDirectories(path: string, mode: number): void {
  const target = resolve(path);
  const existing = nearestExisting(target);
  const missing: string[] = [];
  for (let p = target; p !== existing; p = dirname(p)) missing.unshift(p);
  for (const level of missing) {
    try {
      mkdirSync(level, { mode });
    } catch (e) {
      // Made by somebody else meanwhile: fine if it is a directory.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(level).isDirectory()) continue;
      throw e;
    }
  }
  if (!statSync(target).isDirectory()) throw Object.assign(new Error(`ENOTDIR: not a directory, '${target}'`), { code: 'ENOTDIR' });
}
