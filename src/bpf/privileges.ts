/**
 * Whether this process holds what loading and attaching TC programs needs:
 * CAP_BPF (or CAP_SYS_ADMIN) for bpf(), CAP_NET_ADMIN (or CAP_SYS_ADMIN) for
 * network program types and attaching. Used to tell a privilege problem from
 * a verifier rejection: both can surface as EACCES. Tracing programs (the
 * drop meter at skb:kfree_skb) need CAP_PERFMON (or CAP_SYS_ADMIN) besides
 * CAP_BPF, at load only: a loaded, attached program and its maps are used
 * through fds afterwards, so the capability drop after attach may remove it.
 */
import { readFileSync } from 'node:fs';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;
const CAP_BPF = 39n;

/** The effective capability set from /proc/self/status, or undefined if unreadable. */
export function effectiveCapabilities(status?: string): bigint | undefined {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return undefined;
    }
  }
  const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(text)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

/** True when a capability set (e.g. `effectiveCapabilities()`) allows loading and attaching TC programs; undefined: assume not. */
export function hasBpfPrivileges(caps: bigint | undefined): boolean {
  if (caps === undefined) return false;
  const has = (bit: bigint): boolean => ((caps >> bit) & 1n) === 1n;
  const sys = has(CAP_SYS_ADMIN);
  return (has(CAP_BPF) || sys) && (has(CAP_NET_ADMIN) || sys);
}

/** True when a capability set allows loading a tracing program (CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN); undefined: assume not. */
export function hasTracingPrivileges(caps: bigint | undefined): boolean {
  if (caps === undefined) return false;
  const has = (bit: bigint): boolean => ((caps >> bit) & 1n) === 1n;
  const sys = has(CAP_SYS_ADMIN);
  return (has(CAP_BPF) || sys) && (has(CAP_PERFMON) || sys);
}
