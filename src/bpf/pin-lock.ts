/**
 * One netprobe per pin path. Two netprobes on one pin path (a second
 * DaemonSet, a stuck old pod, a manual run) would swap programs and maps
 * under each other, so whoever opens the pins first holds an exclusive
 * flock(2) on the pin path's directory until it closes. The kernel drops a
 * flock when the last fd of its open file goes, so a SIGKILLed holder leaves
 * no stale lock (no lock file, no PID to check). bpffs directories take
 * flocks like any other.
 *
 * A second netprobe waits for a bounded time (a rollout starts the new pod
 * before the old one has finished exiting), then fails naming the holder
 * when /proc/locks shows it: the kernel lists a lock only to readers that
 * can see the holder's PID, so from another PID namespace (another
 * container) the holder cannot be named.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { constants as os } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetprobeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import { libc } from '../sys/libc.js';

export const DEFAULT_PIN_LOCK_TIMEOUT_MS = 30_000;
const LOCK_EX = 2;
const LOCK_NB = 4;
/** How often a waiter tries again (a non-blocking flock; a blocking one would stall the event loop). */
const RETRY_MS = 100;

export interface PinLock {
  readonly path: string;
  /** Drops the lock (closes its fd). Idempotent. */
  release(): void;
}

export interface PinLockOptions {
  /** How long to wait for another holder to let go; 0 = try once. */
  timeoutMs: number;
  logger: Logger;
  /** Run before every attempt: makes the directory (ensurePinPath). Without it, a missing directory means nothing to lock. */
  prepare?: () => void;
  /** Ends the wait early (a stop signal). */
  signal?: AbortSignal;
}

/** Another process holds the pin path's lock. */
export class PinLockedError extends NetprobeError {
  constructor(message: string) {
    super('NP_ERR_PIN_LOCKED', message);
    this.name = 'PinLockedError';
  }
}

/**
 * Takes the pin path's exclusive lock, waiting up to `timeoutMs` for a
 * holder to let go. Resolves to undefined only without `prepare` when the
 * directory does not exist. Throws PinLockedError when the wait ends.
 */
export async function lockPinPath(pinPath: string, opts: PinLockOptions): Promise<PinLock | undefined> {
  const started = performance.now();
  let warned = false;
  for (;;) {
    opts.prepare?.();
    let fd: number;
    try {
      fd = openSync(pinPath, fsc.O_RDONLY | fsc.O_DIRECTORY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !opts.prepare) return undefined;
      throw new NetprobeError('NP_ERR_PIN_PATH', `--ebpf.pin-path ${pinPath}: cannot open it to lock it: ${(e as Error).message}`, {
        cause: e,
      });
    }
    let ret: number;
    try {
      ret = libc().flock(fd, LOCK_EX | LOCK_NB);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (ret === 0) {
      if (sameDirectory(fd, pinPath)) return heldLock(pinPath, fd);
      // Removed (a cleanup) while we waited: the lock is on a directory nobody will use; lock the new one,
      // after the same deadline check and pause as a busy lock (a directory replaced again and again must not spin).
      closeSync(fd);
    } else closeSync(fd);
    if (ret !== 0 && ret !== -os.errno.EWOULDBLOCK)
      throw new NetprobeError('NP_ERR_PIN_PATH', `--ebpf.pin-path ${pinPath}: cannot lock it: flock failed with errno ${-ret}`);
    const waited = performance.now() - started;
    const holder = describeHolder(pinPath);
    if (waited >= opts.timeoutMs || opts.signal?.aborted) {
      const why = opts.signal?.aborted ? 'stopped while waiting for it' : `waited ${Math.round(waited / 100) / 10} s`;
      throw new PinLockedError(`--ebpf.pin-path ${pinPath} is locked by another netprobe (${holder}); ${why}`);
    }
    if (!warned) {
      warned = true;
      opts.logger.warn(
        { pinPath, holder, timeoutMs: opts.timeoutMs },
        `--ebpf.pin-path ${pinPath} is locked by another netprobe (${holder}); waiting up to ${opts.timeoutMs / 1000} s for it to exit`,
      );
    }
    await sleep(RETRY_MS, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined);
  }
}

function heldLock(path: string, fd: number): PinLock {
  let open = true;
  return {
    path,
    release: () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

function sameDirectory(fd: number, path: string): boolean {
  try {
    const a = fstatSync(fd);
    const b = statSync(path);
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/** "PID 1234 (netprobe --ebpf.pin-path=…)", or why the holder cannot be named. */
export function describeHolder(pinPath: string): string {
  let pid: number | undefined;
  try {
    const st = statSync(pinPath, { bigint: true });
    pid = flockHolder(readFileSync('/proc/locks', 'utf8'), st.dev, st.ino);
  } catch {
    return 'holder unknown: /proc/locks unreadable';
  }
  if (pid === undefined) return 'held by a process in another PID namespace (e.g. another container): its PID is not visible from here';
  let cmd = '';
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    // Gone meanwhile, or not readable: the PID alone still helps.
  }
  return cmd ? `PID ${pid}: ${cmd.length > 200 ? `${cmd.slice(0, 200)}…` : cmd}` : `PID ${pid}`;
}

/**
 * The PID holding an exclusive flock on the file `dev`/`ino`, from the text
 * of /proc/locks (`1: FLOCK  ADVISORY  WRITE 4242 00:2a:1234 0 EOF`, device
 * as hex major:minor); undefined when none is listed (or its PID is 0).
 */
export function flockHolder(procLocks: string, dev: bigint, ino: bigint): number | undefined {
  // Linux's new_encode_dev: minor's low 8 bits, major's 12 bits, minor's high bits.
  const major = (dev >> 8n) & 0xfffn;
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xfff00n);
  for (const line of procLocks.split('\n')) {
    const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (!m) continue;
    if (BigInt(`0x${m[2]}`) === major && BigInt(`0x${m[3]}`) === minor && BigInt(m[4]!) === ino && m[1] !== '0') return Number(m[1]);
  }
  return undefined;
}
