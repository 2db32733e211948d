import type { CarryOverStore, Direction } from './counter-source.js';

/** Cumulative counts of one socket cgroup and direction, as read in one collection. */
export interface SocketCounterRow {
  /** cgroup v2 id: the inode number of the cgroup's directory. */
  cgroupId: bigint;
  /** 'ingress' = what sockets in this cgroup received; 'egress' = what they sent. */
  direction: Direction;
  /** Wire packets (GSO/GRO segments, as netprobe_tc_segments_total counts them). */
  packets: bigint;
  /** L3 bytes (no Ethernet header). */
  bytes: bigint;
}

/** Packets and bytes of one cgroup entry in both directions. */
export interface SocketEntryCounts {
  ingress: { packets: bigint; bytes: bigint };
  egress: { packets: bigint; bytes: bigint };
}

/**
 * What `forget()` did with one cgroup's entry: deleted it, and these were its
 * counts at that instant (packets that came after the caller's read are in
 * them), or `'absent'`: there was no entry to delete.
 */
export type ForgottenEntry = SocketEntryCounts | 'absent';

export interface SocketCounterSource {
  /** The cgroup2 mount the programs are attached at (e.g. /sys/fs/cgroup/unified). */
  readonly cgroupRoot: string;
  /** Every entry of the kernel map, never truncated (loopback excluded in the kernel). Throws on a kernel read failure. */
  readSocketCounters(): SocketCounterRow[];
  /**
   * Deletes the kernel entries of cgroups that no longer exist and returns,
   * per id, the counts each entry held when it was deleted (read and deleted
   * in one step), so that packets counted after the caller's read still land.
   * An id missing from the result could not be deleted: its entry stays and
   * is read again.
   */
  forget(cgroupIds: readonly bigint[]): Map<bigint, ForgottenEntry>;
  /** Health numbers: e.g. packets not counted per cgroup because the map was full (counted under cgroupId 0 instead). */
  readSourceStats?(): Record<string, bigint>;
  /** A small record kept with the pins (present only with --ebpf.pin-path): podview stores cgroup→pod mapping and namespace bases here. */
  readonly carryOver?: CarryOverStore;
  close(): Promise<void>;
}
