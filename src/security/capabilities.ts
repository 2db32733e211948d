/**
 * Which Linux capabilities netprobe holds, and dropping the ones it no longer
 * needs once its programs are attached (like ebpf_exporter's
 * `--capabilities.keep`).
 *
 * What "drop" means here: after attaching, the thread that runs JavaScript —
 * the one making every BPF, netlink and socket call netprobe makes — keeps
 * only the keep-list (default `bpf,net_admin`: hot-plugged interfaces still
 * have to be attached, and CAP_NET_ADMIN opens the netlink link events) in
 * its effective and permitted sets; its inheritable and ambient sets are
 * emptied; every other capability leaves its bounding set (when CAP_SETPCAP is
 * held) and `no_new_privs` is set, so nothing netprobe could ever execute
 * gains a capability back. Linux capabilities belong to threads, not
 * processes: helper threads Node started before the drop (V8's platform
 * workers, libuv's pool if already used) keep what they had — none of them
 * parses network input. Threads started afterwards inherit the reduced sets.
 * `/proc/<pid>/status` shows the main thread. For a hard boundary, run as a
 * non-root user holding only CAP_BPF and CAP_NET_ADMIN (see docs/reliability.md).
 */
import { readFileSync } from 'node:fs';
import { NetprobeError } from '../errors/index.js';

/** Capability names by number (linux/capability.h), without the `cap_` prefix. */
export const CAPABILITY_NAMES: readonly string[] = Object.freeze([
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
]);

/** The default `--capabilities.keep`: what attaching hot-plugged interfaces (and netlink link events) needs. */
export const DEFAULT_KEEP_CAPABILITIES: readonly string[] = Object.freeze(['bpf', 'net_admin']);
export const DEFAULT_CAPABILITIES_KEEP = DEFAULT_KEEP_CAPABILITIES.join(',');

/** Why a `--capabilities.keep` value is refused (undefined = fine): a list, `all` (no drop) or `none`. */
export function checkCapabilitiesKeep(spec: string): string | undefined {
  if (spec === 'all' || spec === 'none') return undefined;
  try {
    parseCapabilityList(spec);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const CAP_SETPCAP = 8;

/** The five capability sets of a thread, as bit masks (bit n = capability n). */
export interface CapabilityMasks {
  inheritable: bigint;
  permitted: bigint;
  effective: bigint;
  bounding: bigint;
  ambient: bigint;
}

/** Raised for an unknown name in a capability list. */
export class CapabilityNameError extends NetprobeError {
  constructor(name: string) {
    super('NP_ERR_BAD_CAPABILITY', `unknown capability "${name}"`, {
      hint: `use names like bpf, net_admin or cap_bpf (known: ${CAPABILITY_NAMES.join(', ')})`,
    });
    this.name = 'CapabilityNameError';
  }
}

/** Raised when the kernel refuses to lower the capability sets. */
export class CapabilityDropError extends NetprobeError {
  constructor(step: string, errno: number) {
    super('NP_ERR_CAPABILITY_DROP', `drop capabilities: ${step} failed (errno ${errno})`);
    this.name = 'CapabilityDropError';
  }
}

/** Parses the `Cap*:` lines of a `/proc/<pid>/status` text. Pure. */
export function parseProcStatusCapabilities(status: string): CapabilityMasks {
  const field = (name: string): bigint => {
    const m = new RegExp(`^${name}:\\s*([0-9a-fA-F]+)\\s*$`, 'm').exec(status);
    if (!m?.[1]) throw new NetprobeError('NP_ERR_PROC_STATUS', `no ${name} line in the process status`);
    return BigInt(`0x${m[1]}`);
  };
  return {
    inheritable: field('CapInh'),
    permitted: field('CapPrm'),
    effective: field('CapEff'),
    bounding: field('CapBnd'),
    // CapAmb exists since Linux 4.3; older kernels have no ambient set.
    ambient: /^CapAmb:/m.test(status) ? field('CapAmb') : 0n,
  };
}

/** Reads the capability sets of a process (the main thread's), or of `/proc/thread-self`. */
export function readCapabilities(pid: number | 'self' | 'thread-self' = 'self'): CapabilityMasks {
  return parseProcStatusCapabilities(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** `0x3000` → `['net_admin', 'net_raw']`; unnamed bits as `cap_<n>`. */
export function capabilityNames(mask: bigint): string[] {
  const names: string[] = [];
  for (let bit = 0; mask >> BigInt(bit) !== 0n; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(CAPABILITY_NAMES[bit] ?? `cap_${bit}`);
  }
  return names;
}

/**
 * Parses a comma-separated list such as `bpf,net_admin` or `CAP_BPF, cap_net_admin`
 * into a mask; an empty string is the empty set. Throws CapabilityNameError.
 */
export function parseCapabilityList(list: string): bigint {
  let mask = 0n;
  for (const raw of list.split(',')) {
    const name = raw.trim().toLowerCase().replace(/^cap_/, '');
    if (name === '') continue;
    const bit = CAPABILITY_NAMES.indexOf(name);
    if (bit < 0) throw new CapabilityNameError(raw.trim());
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** The system calls a drop needs (libc through FFI in production, fakes in tests). Each returns 0 or an errno. */
export interface CapabilitySyscalls {
  /** capset(2) on the calling thread (v3 header, pid 0). */
  capset(sets: { effective: bigint; permitted: bigint; inheritable: bigint }): number;
  /** prctl(PR_CAPBSET_DROP, cap). */
  dropFromBoundingSet(cap: number): number;
  /** prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL). */
  clearAmbient(): number;
  /** prctl(PR_SET_NO_NEW_PRIVS, 1). */
  setNoNewPrivs(): number;
}

/** What a drop plans to do, computed from the current sets and the keep-list. Pure. */
export interface DropPlan {
  /** The new effective and permitted set: keep ∩ permitted. */
  keep: bigint;
  /** Capabilities to take out of the bounding set (empty when CAP_SETPCAP is not effective). */
  boundingDrops: number[];
  /** Kept names that were not held to begin with (worth a warning). */
  missing: string[];
}

export function planCapabilityDrop(current: CapabilityMasks, keep: bigint): DropPlan {
  const boundingDrops: number[] = [];
  if ((current.effective >> BigInt(CAP_SETPCAP)) & 1n) {
    for (let bit = 0; current.bounding >> BigInt(bit) !== 0n; bit++) {
      const b = 1n << BigInt(bit);
      if (current.bounding & b && !(keep & b)) boundingDrops.push(bit);
    }
  }
  return { keep: keep & current.permitted, boundingDrops, missing: capabilityNames(keep & ~current.permitted) };
}

/**
 * Lowers the calling thread's capabilities to `keep` (see the module comment
 * for exactly what changes). Returns the sets before and after, read back
 * from `/proc/thread-self/status`. Throws CapabilityDropError if the kernel
 * refuses a step.
 */
export function dropCapabilities(
  keep: bigint,
  sys: CapabilitySyscalls,
  read: () => CapabilityMasks = () => readCapabilities('thread-self'),
): { before: CapabilityMasks; after: CapabilityMasks; plan: DropPlan } {
  const before = read();
  const plan = planCapabilityDrop(before, keep);
  const check = (step: string, errno: number): void => {
    if (errno !== 0) throw new CapabilityDropError(step, errno);
  };
  check('clear the ambient set', sys.clearAmbient());
  // The bounding set first: taking a capability out of it needs CAP_SETPCAP,
  // which the capset below removes.
  for (const cap of plan.boundingDrops)
    check(`remove cap_${CAPABILITY_NAMES[cap] ?? cap} from the bounding set`, sys.dropFromBoundingSet(cap));
  check('capset', sys.capset({ effective: plan.keep, permitted: plan.keep, inheritable: 0n }));
  check('set no_new_privs', sys.setNoNewPrivs());
  return { before, after: read(), plan };
}
