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
