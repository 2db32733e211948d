/**
 * The capability system calls, through libc (src/sys/libc.ts: never
 * libbpf, so dropping capabilities works where libbpf is missing). Each
 * returns 0 or a positive errno.
 */
import { libc } from '../sys/libc.js';
import type { CapabilitySyscalls } from './capabilities.js';

// linux/prctl.h
const PR_CAPBSET_DROP = 24;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

export function libcCapabilitySyscalls(): CapabilitySyscalls {
  const lib = libc();
  const errno = (ret: number): number => (ret < 0 ? -ret : 0);
  return {
    capset: ({ effective, permitted, inheritable }) => errno(lib.capset(effective, permitted, inheritable)),
    dropFromBoundingSet: (cap) => errno(lib.prctl(PR_CAPBSET_DROP, cap, 0)),
    clearAmbient: () => errno(lib.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0)),
    setNoNewPrivs: () => errno(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0)),
  };
}
