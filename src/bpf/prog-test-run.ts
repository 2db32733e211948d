/**
 * BPF_PROG_TEST_RUN: runs a loaded program on a synthetic packet in the
 * kernel, `repeat` times, and reports its return value and the kernel's own
 * average time per run. Used by the benchmarks and the tests.
 */
import { callError } from './errors.js';
import { libbpf } from '../sys/libbpf.js';

export interface ProgTestRunOptions {
  /** The packet (an Ethernet frame for TC programs; at least 14 bytes). */
  dataIn: Buffer;
  /**
   * A `struct __sk_buff` to set fields such as `ifindex` (see `skbContext`).
   * The kernel looks the ifindex up in the caller's network namespace: it must exist there.
   */
  ctxIn?: Buffer;
  /** Number of runs the kernel times (the duration is their average). */
  repeat: number;
}

export interface ProgTestRunResult {
  /** The program's return value (signed: -1 is TC_ACT_UNSPEC). */
  retval: number;
  /** Average nanoseconds per run, measured by the kernel. */
  durationNs: number;
}

/** Runs `progFd` on `dataIn` `repeat` times. Throws BpfCallError on failure. */
export function progTestRun(progFd: number, opts: ProgTestRunOptions): ProgTestRunResult {
  const r = libbpf().progTestRun(progFd, { dataIn: opts.dataIn, ...(opts.ctxIn ? { ctxIn: opts.ctxIn } : {}), repeat: opts.repeat });
  if (r.ret < 0) throw callError(`test-run BPF program fd ${progFd}`, -r.ret);
  return { retval: r.retval, durationNs: r.durationNs };
}

/** Size of `struct __sk_buff` as of Linux 6.x (the kernel accepts a shorter ctx only if it covers the fields set). */
export const SK_BUFF_SIZE = 192;
const SK_BUFF_IFINDEX_OFFSET = 40;

/** A zeroed `struct __sk_buff` with `ifindex` set, for `ctxIn`. */
export function skbContext(fields: { ifindex: number }): Buffer {
  const ctx = Buffer.alloc(SK_BUFF_SIZE);
  ctx.writeUInt32LE(fields.ifindex >>> 0, SK_BUFF_IFINDEX_OFFSET);
  return ctx;
}
