/**
 * Looks up a loaded program by id: its name tells whether an attachment we
 * find on an interface is netprobe's (e.g. a clsact filter a SIGKILLed
 * predecessor left behind) or someone else's.
 */
import { libbpf } from '../sys/libbpf.js';

/** The program's name (at most 15 bytes), or undefined when the id no longer exists. */
export function programName(id: number): string | undefined {
  const lib = libbpf();
  const fd = lib.progGetFdById(id);
  if (fd < 0) return undefined;
  try {
    const info = lib.progInfo(fd);
    return info.ret === 0 ? info.name : undefined;
  } finally {
    lib.close(fd);
  }
}

/** The kernel id of a loaded program, from its fd. */
export function programId(fd: number): number {
  const info = libbpf().progInfo(fd);
  if (info.ret !== 0) throw new Error(`read info of program fd ${fd}: errno ${-info.ret}`);
  return info.id;
}

/** `struct bpf_prog_info` (uapi): run_time_ns at 192, run_cnt at 200, recursion_misses at 208; 232 bytes. */
const PROG_INFO_SIZE = 232;

export interface ProgramRunStats {
  /** Total run time, counted only while some process holds bpf_stats_enabled (else 0). */
  runTimeNs: bigint;
  /** Runs, counted under the same condition. */
  runCount: bigint;
  /** Runs the kernel skipped because the program was already running on that CPU (always counted). */
  recursionMisses: bigint;
}

/** The kernel's run statistics of a loaded program, from its fd. */
export function programRunStats(fd: number): ProgramRunStats {
  const { ret, info } = libbpf().objInfo(fd, PROG_INFO_SIZE);
  if (ret < 0) throw new Error(`read info of program fd ${fd}: errno ${-ret}`);
  return { runTimeNs: info.readBigUInt64LE(192), runCount: info.readBigUInt64LE(200), recursionMisses: info.readBigUInt64LE(208) };
}
