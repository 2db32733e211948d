/**
 * Once netprobe runs, most of what node touched while starting is never read
 * again: the node binary's bootstrap and module-loading code, V8's startup
 * snapshot, ICU data. Those pages stay mapped and count in RSS (~40 MiB of
 * the node binary alone, next to node_exporter's ~13 MiB of file pages).
 * Dropping them from this process with MADV_DONTNEED is lossless for a
 * read-only file mapping no page of which was ever written (smaps
 * `Anonymous: 0`): a page needed again is read back from the page cache (a
 * minor fault). Writable mappings and any mapping holding a private copy
 * (e.g. relocated RELRO data) are left alone. Applied once by the CLI after
 * start; a library must not do this to its host.
 */
import { readFileSync } from 'node:fs';
import { libc } from '../sys/libc.js';
import type { Logger } from '../log/logger.js';

const MADV_DONTNEED = 4;

export interface TrimmableMapping {
  start: bigint;
  end: bigint;
  path: string;
  /** Resident bytes before the trim. */
  rss: number;
}

/** The mappings of an smaps text that can be dropped losslessly: file-backed, not writable, nothing private. */
export function trimmableMappings(smaps: string): TrimmableMapping[] {
  const found: TrimmableMapping[] = [];
  let current: { start: bigint; end: bigint; perms: string; path: string; rss: number } | undefined;
  const keep = (): void => {
    if (current && current.path.startsWith('/') && !current.perms.includes('w') && current.rss > 0) found.push(current);
  };
  for (const line of smaps.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      current = { start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), perms: header[3]!, path: header[4]!, rss: 0 };
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (!field || !current) continue;
    if (field[1] === 'Rss') current.rss = Number(field[2]) * 1024;
    // Anonymous comes after Rss in every smaps entry: the entry is complete enough to judge.
    else if (Number(field[2]) === 0) keep();
    else current = undefined;
  }
  return found.map(({ start, end, path, rss }) => ({ start, end, path, rss }));
}

/** Drops the resident pages of `trimmableMappings(/proc/self/smaps)`; returns the bytes that were resident. */
export function trimStartupPages(logger: Logger): number {
  try {
    const c = libc();
    let bytes = 0;
    for (const m of trimmableMappings(readFileSync('/proc/self/smaps', 'utf8'))) {
      if (c.madvise(m.start, Number(m.end - m.start), MADV_DONTNEED) === 0) bytes += m.rss;
    }
    logger.debug({ bytes }, 'dropped resident startup pages of read-only file mappings');
    return bytes;
  } catch (error) {
    logger.debug({ err: error }, 'startup pages not trimmed');
    return 0;
  }
}
