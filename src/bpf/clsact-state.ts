/**
 * Which clsact qdiscs netprobe created, remembered in a small file under
 * /run so that a restart after SIGKILL can still prove a qdisc was ours and
 * delete it once it is empty. One file per network namespace (keyed by the
 * namespace's cookie); entries are (ifindex, name) pairs, so a reused ifindex
 * with another name is never mistaken for ours. /run is a tmpfs: a reboot
 * forgets everything, as it should. Without a writable /run, ownership is
 * kept in memory only (a SIGKILLed process's qdisc then stays, harmlessly).
 */
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log/logger.js';

export const DEFAULT_STATE_DIR = '/run/netprobe';

interface Entry {
  ifindex: number;
  name: string;
}

export class ClsactOwnership {
  private entries: Entry[];

  constructor(
    private readonly file: string | undefined,
    private readonly logger: Logger,
  ) {
    this.entries = file ? readEntries(file, logger) : [];
  }

  /**
   * The state file of the current network namespace in `dir`, named by the
   * namespace's cookie (never reused until reboot; an inode number can be
   * reused by a later namespace, which would inherit a stale file).
   */
  static forCurrentNetns(logger: Logger, netnsCookie: bigint | undefined, dir: string = DEFAULT_STATE_DIR): ClsactOwnership {
    let file: string | undefined;
    if (netnsCookie !== undefined) {
      file = join(dir, `clsact-netns-cookie-${netnsCookie}.json`);
    } else {
      try {
        file = join(dir, `clsact-netns-inode-${statSync('/proc/self/ns/net').ino}.json`);
      } catch (e) {
        logger.debug({ err: e }, 'clsact ownership: cannot identify the network namespace; keeping it in memory');
      }
    }
    return new ClsactOwnership(file, logger);
  }

  owns(ifindex: number, name: string): boolean {
    return this.entries.some((e) => e.ifindex === ifindex && e.name === name);
  }

  record(ifindex: number, name: string): void {
    this.entries = [...this.entries.filter((e) => e.ifindex !== ifindex), { ifindex, name }];
    this.save();
  }

  forget(ifindex: number): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.ifindex !== ifindex);
    if (this.entries.length !== before) this.save();
  }

  /** Drops entries of interfaces that no longer exist (their qdiscs went with them). */
  prune(present: ReadonlyArray<{ ifindex: number; name: string }>): void {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => present.some((p) => p.ifindex === e.ifindex && p.name === e.name));
    if (this.entries.length !== before) this.save();
  }

  private save(): void {
    if (!this.file) return;
    try {
      if (this.entries.length === 0) {
        unlinkSync(this.file);
        return;
      }
      mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ version: 1, clsact: this.entries }) + '\n', { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && this.entries.length === 0) return;
      this.logger.debug({ err: e, file: this.file }, 'clsact ownership: cannot write the state file; keeping it in memory');
    }
  }
}

function readEntries(file: string, logger: Logger): Entry[] {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { clsact?: unknown };
    if (!Array.isArray(parsed.clsact)) return [];
    return (parsed.clsact as unknown[]).filter(isEntry);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') logger.debug({ err: e, file }, 'clsact ownership: unreadable state file ignored');
    return [];
  }
}

function isEntry(e: unknown): e is Entry {
  if (typeof e !== 'object' || e === null) return false;
  const { ifindex, name } = e as Record<string, unknown>;
  return typeof ifindex === 'number' && typeof name === 'string';
}
