/**
 * glibc's malloc defaults suit large many-threaded servers, not a small
 * exporter: an arena per busy thread (libuv's pool threads gzip the
 * exposition), and a dynamic mmap threshold that, once a multi-MB exposition
 * buffer has been freed, serves the next ones from the heap, whose freed
 * pages stay resident. Two arenas and a fixed 128 KiB mmap/trim threshold cut
 * RSS at 2,000 interfaces from ~94 to ~77 MiB (docs/benchmarks.md, part 5).
 * Applied by the CLI only: a library must not change its host's allocator.
 * A setting the operator chose through the environment is left alone.
 */
import { libc } from '../sys/libc.js';
import type { Logger } from '../log/logger.js';

// <malloc.h>
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
const M_ARENA_MAX = -8;

const POLICY: ReadonlyArray<{ param: number; value: number; env: string; tunable: string }> = [
  { param: M_ARENA_MAX, value: 2, env: 'MALLOC_ARENA_MAX', tunable: 'glibc.malloc.arena_max' },
  { param: M_MMAP_THRESHOLD, value: 128 * 1024, env: 'MALLOC_MMAP_THRESHOLD_', tunable: 'glibc.malloc.mmap_threshold' },
  { param: M_TRIM_THRESHOLD, value: 128 * 1024, env: 'MALLOC_TRIM_THRESHOLD_', tunable: 'glibc.malloc.trim_threshold' },
];

export function applyAllocatorPolicy(logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  try {
    const c = libc();
    for (const p of POLICY) {
      if (env[p.env] !== undefined || env['GLIBC_TUNABLES']?.includes(p.tunable)) continue;
      if (c.mallopt(p.param, p.value) !== 1)
        logger.debug({ param: p.env, value: p.value }, 'mallopt refused a setting; keeping glibc default');
    }
  } catch (error) {
    // Not glibc (e.g. musl) or no FFI: the defaults only cost memory.
    logger.debug({ err: error }, 'allocator policy not applied');
  }
}
