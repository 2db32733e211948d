/**
 * Which clsact qdiscs netprobe created, remembered in a small file under
 * /run so that a restart after SIGKILL can still prove a qdisc was ours and
 * delete it once it is empty. One file per network namespace (keyed by the
 * namespace's cookie); entries are (ifindex, name) pairs, so a reused ifindex
 * with another name is never mistaken for ours. /run is a tmpfs: a reboot
 * forgets everything, as it should. Without a writable /run, ownership is
 * kept in memory only (a SIGKILLed process's qdisc then stays, harmlessly).
 *
 * The file is a journal: `+<ifindex> <name>` and `-<ifindex>` lines,
 * appended one per change (an interface name holds no whitespace). Rewriting
 * a whole file per change made 2,000 attaches cost ~2 s; an append is one
 * small write. A torn last line (SIGKILL mid-write) is ignored; the journal
 * is compacted when read and whenever it grows well past its entries.
 */
import { appendFileSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { makeDirectories } from '../make-directories.js';

export const DEFAULT_STATE_DIR = '/run/netprobe';

/** Journal lines beyond this many per entry (plus a constant) trigger a compaction. */
const COMPACT_FACTOR = 4;
const COMPACT_SLACK = 256;

export class ClsactOwnership {
  /** ifindex → interface name. */
  private readonly entries: Map<number, string>;
  private journalLines = 0;

  constructor(
    private readonly file: string | undefined,
    private readonly logger: Logger,
  ) {
    this.entries = file ? readJournal(file, logger) : new Map<number, string>();
    if (file) this.migrateLegacy(file);
    this.compact();
  }

  /**
   * The state file of the current network namespace in `dir`, named by the
   * namespace's cookie (never reused until reboot; an inode number can be
   * reused by a later namespace, which would inherit a stale file).
   */
  static forCurrentNetns(logger: Logger, netnsCookie: bigint | undefined, dir: string = DEFAULT_STATE_DIR): ClsactOwnership {
    let file: string | undefined;
    if (netnsCookie !== undefined) {
      file = join(dir, `clsact-netns-cookie-${netnsCookie}.journal`);
    } else {
      try {
        file = join(dir, `clsact-netns-inode-${statSync('/proc/self/ns/net').ino}.journal`);
      } catch (e) {
        logger.debug({ err: e }, 'clsact ownership: cannot identify the network namespace; keeping it in memory');
      }
    }
    return new ClsactOwnership(file, logger);
  }

  owns(ifindex: number, name: string): boolean {
    return this.entries.get(ifindex) === name;
  }

  record(ifindex: number, name: string): void {
    if (this.entries.get(ifindex) === name) return;
    this.entries.set(ifindex, name);
    this.append(`+${ifindex} ${name}\n`);
  }

  forget(ifindex: number): void {
    if (!this.entries.delete(ifindex)) return;
    this.append(`-${ifindex}\n`);
  }

  /** Drops entries of interfaces that no longer exist (their qdiscs went with them). */
  prune(present: ReadonlyArray<{ ifindex: number; name: string }>): void {
    const live = new Set(present.map((p) => `${p.ifindex} ${p.name}`));
    let changed = false;
    for (const [ifindex, name] of this.entries)
      if (!live.has(`${ifindex} ${name}`)) {
        this.entries.delete(ifindex);
        changed = true;
      }
    if (changed) this.compact();
  }

  private append(line: string): void {
    if (!this.file) return;
    if (this.entries.size === 0 || this.journalLines >= COMPACT_FACTOR * this.entries.size + COMPACT_SLACK) {
      this.compact();
      return;
    }
    try {
      appendFileSync(this.file, line, { mode: 0o600 });
      this.journalLines++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.debug({ err: e, file: this.file }, 'clsact ownership: cannot write the state file; keeping it in memory');
        return;
      }
      this.compact(); // the directory is not there yet
    }
  }

  /** Rewrites the journal as one `+` line per entry (tmp file, then rename); no entries, no file. */
  private compact(): void {
    if (!this.file) return;
    try {
      if (this.entries.size === 0) {
        unlinkSync(this.file);
        this.journalLines = 0;
        return;
      }
      makeDirectories(join(this.file, '..'), 0o700);
      const tmp = `${this.file}.${process.pid}.tmp`;
      let text = '';
      for (const [ifindex, name] of this.entries) text += `+${ifindex} ${name}\n`;
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, this.file);
      this.journalLines = this.entries.size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && this.entries.size === 0) return;
      this.logger.debug({ err: e, file: this.file }, 'clsact ownership: cannot write the state file; keeping it in memory');
    }
  }

  /** Entries of the JSON file an earlier version wrote (`<name>.json`) join the journal; the old file goes. */
  private migrateLegacy(file: string): void {
    const legacy = file.replace(/\.journal$/, '.json');
    let parsed: { clsact?: unknown };
    try {
      parsed = JSON.parse(readFileSync(legacy, 'utf8')) as { clsact?: unknown };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.logger.debug({ err: e, file: legacy }, 'clsact ownership: unreadable state file ignored');
      return;
    }
    for (const e of Array.isArray(parsed.clsact) ? (parsed.clsact as unknown[]) : [])
      if (isEntry(e) && !this.entries.has(e.ifindex)) this.entries.set(e.ifindex, e.name);
    this.compact();
    try {
      unlinkSync(legacy);
    } catch {
      /* gone already */
    }
  }
}

/** Replays a journal; a line that does not parse (a torn last write) is skipped. */
function readJournal(file: string, logger: Logger): Map<number, string> {
  const entries = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.debug({ err: e, file }, 'clsact ownership: unreadable state file ignored');
    return entries;
  }
  for (const line of text.split('\n')) {
    const add = /^\+(\d+) (\S+)$/.exec(line);
    if (add) entries.set(Number(add[1]), add[2]!);
    const del = /^-(\d+)$/.exec(line);
    if (del) entries.delete(Number(del[1]));
  }
  return entries;
}

function isEntry(e: unknown): e is { ifindex: number; name: string } {
  if (typeof e !== 'object' || e === null) return false;
  const { ifindex, name } = e as Record<string, unknown>;
  return typeof ifindex === 'number' && typeof name === 'string';
}
