/**
 * The TypeScript mirror of bpf/socket-meter.h: constants, sizes and the pure
 * decoders of sm_cgroups and sm_slots values. Change both together; the loader compares
 * these sizes with the loaded object's maps.
 */
import { perCpuStride, sumU64Column } from '../abi.js';
import type { OwnerField } from '../owned-slots.js';

export const SM_CGROUPS_MAX = 16384;
export const SM_SLOT_BITS = 10;
export const SM_SLOTS = 1 << SM_SLOT_BITS;
export const SM_OVERFLOW_CGROUP = 0n;
export const SM_LOOPBACK_IFINDEX = 1;
export const SM_STAT_MAP_FULL = 0;
export const SM_STAT_MAX = 1;

/** Map and program names in bpf/socket-meter.bpf.c. */
export const MAP_CGROUPS = 'sm_cgroups';
export const MAP_STATS = 'sm_stats';
export const MAP_SLOTS = 'sm_slots';
export const PROG_INGRESS = 'netprobe_sk_in';
export const PROG_EGRESS = 'netprobe_sk_eg';

/** Key of sm_cgroups: the cgroup id (u64). */
export const CGROUP_KEY_SIZE = 8;
/** struct sm_counters { struct sm_dir { u64 packets, bytes } ingress, egress; } */
export const SM_COUNTERS_SIZE = 32;
export const SM_EGRESS_OFFSET = 16;
/** struct sm_slot { struct sm_counters c; u64 cgroup; }: the owner last. */
export const SM_SLOT_SIZE = 40;
export const SM_SLOT_OWNER_OFFSET = 32;
export const STATS_KEY_SIZE = 4;
export const STATS_VALUE_SIZE = 8;

export const EXPECTED_MAPS: Readonly<Record<string, { keySize: number; valueSize: number }>> = {
  [MAP_CGROUPS]: { keySize: CGROUP_KEY_SIZE, valueSize: SM_COUNTERS_SIZE },
  [MAP_STATS]: { keySize: STATS_KEY_SIZE, valueSize: STATS_VALUE_SIZE },
  [MAP_SLOTS]: { keySize: STATS_KEY_SIZE, valueSize: SM_SLOT_SIZE },
};

export interface SocketCounts {
  ingressPackets: bigint;
  ingressBytes: bigint;
  egressPackets: bigint;
  egressBytes: bigint;
}

export function encodeCgroupKey(cgroupId: bigint): Buffer {
  const b = Buffer.alloc(CGROUP_KEY_SIZE);
  b.writeBigUInt64LE(cgroupId, 0);
  return b;
}

/** Sums one per-CPU sm_counters value starting at `offset` of `buf` (`cpus` copies). Pure. */
export function sumSocketCounts(buf: Buffer, offset: number, cpus: number): SocketCounts {
  return sumCounts(buf, offset, cpus, perCpuStride(SM_COUNTERS_SIZE));
}

function sumCounts(buf: Buffer, offset: number, cpus: number, stride: number): SocketCounts {
  return {
    ingressPackets: sumU64Column(buf, offset, cpus, stride),
    ingressBytes: sumU64Column(buf, offset + 8, cpus, stride),
    egressPackets: sumU64Column(buf, offset + SM_EGRESS_OFFSET, cpus, stride),
    egressBytes: sumU64Column(buf, offset + SM_EGRESS_OFFSET + 8, cpus, stride),
  };
}

/** The sm_slots index of a cgroup id: its low SM_SLOT_BITS bits. Pure. */
export function smSlotIndex(cgroupId: bigint): number {
  return Number(cgroupId & BigInt(SM_SLOTS - 1));
}

/** Where a slot keeps its owner (the cgroup id, u64 LE), for src/bpf/owned-slots.ts. */
export const SM_SLOT_OWNER: OwnerField = { offset: SM_SLOT_OWNER_OFFSET, size: CGROUP_KEY_SIZE };

/** Sums the counters of a per-CPU sm_slots value at `offset` (they come first in each CPU's slot). Pure. */
export function sumSlotCounts(buf: Buffer, offset: number, cpus: number): SocketCounts {
  return sumCounts(buf, offset, cpus, perCpuStride(SM_SLOT_SIZE));
}

/** A cgroup's counts: its hash entry's plus its slot's (either may be missing). Pure. */
export function addSocketCounts(a: SocketCounts | undefined, b: SocketCounts | undefined): SocketCounts {
  if (!a) return b ?? ZERO_COUNTS;
  if (!b) return a;
  return {
    ingressPackets: a.ingressPackets + b.ingressPackets,
    ingressBytes: a.ingressBytes + b.ingressBytes,
    egressPackets: a.egressPackets + b.egressPackets,
    egressBytes: a.egressBytes + b.egressBytes,
  };
}

const ZERO_COUNTS: SocketCounts = { ingressPackets: 0n, ingressBytes: 0n, egressPackets: 0n, egressBytes: 0n };
