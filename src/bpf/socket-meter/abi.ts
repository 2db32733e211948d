/**
 * The TypeScript mirror of bpf/socket-meter.h: constants, sizes and the pure
 * decoder of sm_cgroups values. Change both together; the loader compares
 * these sizes with the loaded object's maps.
 */
import { perCpuStride, sumU64Column } from '../abi.js';

export const SM_CGROUPS_MAX = 16384;
export const SM_OVERFLOW_CGROUP = 0n;
export const SM_LOOPBACK_IFINDEX = 1;
export const SM_STAT_MAP_FULL = 0;
export const SM_STAT_MAX = 1;

/** Map and program names in bpf/socket-meter.bpf.c. */
export const MAP_CGROUPS = 'sm_cgroups';
export const MAP_STATS = 'sm_stats';
export const PROG_INGRESS = 'netprobe_sk_in';
export const PROG_EGRESS = 'netprobe_sk_eg';

/** Key of sm_cgroups: the cgroup id (u64). */
export const CGROUP_KEY_SIZE = 8;
/** struct sm_counters { struct sm_dir { u64 packets, bytes } ingress, egress; } */
export const SM_COUNTERS_SIZE = 32;
export const SM_EGRESS_OFFSET = 16;
export const STATS_KEY_SIZE = 4;
export const STATS_VALUE_SIZE = 8;

export const EXPECTED_MAPS: Readonly<Record<string, { keySize: number; valueSize: number }>> = {
  [MAP_CGROUPS]: { keySize: CGROUP_KEY_SIZE, valueSize: SM_COUNTERS_SIZE },
  [MAP_STATS]: { keySize: STATS_KEY_SIZE, valueSize: STATS_VALUE_SIZE },
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
  const stride = perCpuStride(SM_COUNTERS_SIZE);
  return {
    ingressPackets: sumU64Column(buf, offset, cpus, stride),
    ingressBytes: sumU64Column(buf, offset + 8, cpus, stride),
    egressPackets: sumU64Column(buf, offset + SM_EGRESS_OFFSET, cpus, stride),
    egressBytes: sumU64Column(buf, offset + SM_EGRESS_OFFSET + 8, cpus, stride),
  };
}
