/**
 * A memory cgroup of its own for one benchmarked process, on the cgroup v1
 * memory controller (`/sys/fs/cgroup/memory`, as on this machine): its
 * `memory.max_usage_in_bytes` is the peak a container memory limit sees —
 * anonymous memory, kernel memory charged to the cgroup (BPF maps, socket
 * buffers) and the page cache the process itself brought in — where VmHWM
 * shows resident file pages that were already cached and none of the
 * kernel's. Nothing global is changed: a child cgroup is made, the process
 * is moved into it right after it is spawned, and the cgroup is removed
 * after the process is gone.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from '../../test/support/cleanup-registry.js';

const V1_MEMORY = '/sys/fs/cgroup/memory';
let made = 0;

export interface MemoryCgroup {
  /** Moves `pid` (all its threads) into the cgroup. */
  adopt(pid: number): void;
  /** `memory.max_usage_in_bytes`: the highest charge since the cgroup was made. */
  peakBytes(): number;
  /** Removes the cgroup; call after its process exited (idempotent). */
  remove(): Promise<void>;
}

/** A fresh memory cgroup, or undefined where there is no cgroup v1 memory controller. */
export function createMemoryCgroup(label: string): MemoryCgroup | undefined {
  if (!existsSync(join(V1_MEMORY, 'cgroup.procs'))) return undefined;
  const dir = join(V1_MEMORY, `netprobe-bench-${process.pid}-${made++}-${label}`);
  mkdirSync(dir);
  const removeDir = async (): Promise<void> => {
    // rmdir fails with EBUSY for a moment after the last task exits.
    for (let i = 0; existsSync(dir); i++) {
      try {
        rmdirSync(dir);
      } catch (e) {
        if (i >= 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  // Registered before the process is started, so a cleanup (newest first) stops the process before this.
  const remove = onCleanup(`memory cgroup ${dir}`, removeDir);
  return {
    adopt: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
    peakBytes: () => Number(readFileSync(join(dir, 'memory.max_usage_in_bytes'), 'utf8')),
    remove,
  };
}
