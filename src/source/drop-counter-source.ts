import type { CarryOverStore } from './counter-source.js';

/**
 * Cumulative count of packets the kernel freed as dropped (skb:kfree_skb), for one key,
 * as read in one collection. Only network packets (IPv4, IPv6, ARP and the like) are counted.
 */
export interface DropCounterRow {
  /** Inode number of the network namespace the drop happened in (0 when unknown). */
  netnsInode: number;
  /** Device the packet was on, validated in the kernel; 0 when none or not trustworthy. */
  ifindex: number;
  /** That device's name inside its own namespace at drop time ('' when ifindex is 0). */
  interfaceName: string;
  /**
   * The kernel's reason, lower case without its prefix, from the running kernel's BTF:
   * 'no_socket', 'netfilter_drop', 'tc_ingress', '<subsystem>_<name>', 'unknown_<n>'.
   */
  reason: string;
  /**
   * cgroup v2 id of the socket the packet belonged to (skb->sk or rx_sk) when the drop happened
   * in the node's namespace, for hostNetwork pods; 0 otherwise.
   */
  socketCgroupId: bigint;
  /** Packets dropped since the drop meter began counting this key. */
  packets: bigint;
  /** The kernel map's key of this entry, for takeEntries() (absent where a source has none). */
  entry?: Uint8Array;
}

export interface DropCounterSource {
  /** Inode number of the node's own network namespace (drops there have no pod unless socketCgroupId says so). */
  readonly hostNetnsInode: number;
  /** Whether the running kernel names drop reasons (read from BTF); without them every drop is 'not_specified'. */
  readonly reasonsKnown: boolean;
  /** Every entry of the kernel map, never truncated. Throws on a kernel read failure. */
  readDropCounters(): DropCounterRow[];
  /**
   * Health numbers, metric-safe snake_case keys, absolute counts: at least
   * `recursion_misses` (runs the kernel skipped) and `map_full` (drops counted under the
   * overflow key because the map was full: ifindex 0, reason 'overflow', netns 0).
   */
  readSourceStats(): Record<string, bigint>;
  /** Deletes the kernel entries of the given network namespaces once their final counts are taken (a pod's namespace gone). */
  forgetNamespaces(netnsInodes: readonly number[]): void;
  /**
   * Deletes the kernel entries of these rows (a node device that is gone) and returns
   * each one's count at its deletion, in order; undefined where the entry was already gone.
   */
  takeEntries(rows: readonly DropCounterRow[]): Array<bigint | undefined>;
  /** A small record kept with the pins (present only with --ebpf.pin-path). */
  readonly carryOver?: CarryOverStore;
  close(): Promise<void>;
}
