/**
 * What the exporter needs from a source of per-interface counters. Two
 * sources implement it: the eBPF TC counters (`EbpfManager`) and the kernel's
 * own interface statistics (`NetdevSource`, the fallback).
 */
import type { LinkFaults } from '../net/link-dump.js';

/** The kernel's drop and error counters of an interface (netlink IFLA_STATS64, as `ip -s -s link` shows them). */
export type InterfaceFaults = LinkFaults;

export type Direction = 'ingress' | 'egress';
export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

/** One interface and direction, as read in one collection. */
export interface CounterRow {
  ifindex: number;
  /** Interface name at the time of reading (never a stale one). */
  name: string;
  direction: Direction;
  /** Absolute counters since the source began counting this interface. */
  packets: bigint;
  bytes: bigint;
  /** Packets on the wire: GSO super-packets count once per segment. */
  segments: bigint;
  /**
   * The kernel's own drop and error counters of the interface (both
   * directions in one object, the same on both rows), from the interface's
   * creation; absent when the source could not read them this time.
   */
  faults?: InterfaceFaults;
}

export type SourceKind = 'ebpf' | 'netdev';
export type AttachMode = 'tcx' | 'tc';

export interface CounterSource {
  readonly kind: SourceKind;
  /** How the eBPF programs are attached; undefined for the netdev source. */
  readonly attachMode: AttachMode | undefined;
  /** Number of interfaces currently counted (attached, for eBPF). */
  readonly interfaceCount: number;
  /**
   * Reads every counter in one batch: both directions of every counted
   * interface, zero until traffic flows. An interface deleted since the
   * last read may appear once more with its final counts (the eBPF source
   * reads them at deletion, so its last traffic is not lost). Throws on a
   * kernel read failure.
   */
  readCounters(): CounterRow[];
  /**
   * Counter-source health numbers worth exporting (e.g. packets the kernel
   * side could not count because its map was full). Keys are metric-safe
   * snake_case names; values are absolute counts.
   */
  readSourceStats?(): Record<string, bigint>;
  /**
   * Calls `listener` whenever the set of counted interfaces changes (added,
   * removed, renamed), so the exporter can collect at once instead of waiting
   * for the next interval. Returns a function that unsubscribes.
   */
  onInterfacesChanged?(listener: () => void): () => void;
  /**
   * Where the exporter keeps what must continue with the counters across its
   * own restarts (which pod each interface served, the namespace totals).
   * Present only when the counters themselves outlive the process (the eBPF
   * source with a pin path).
   */
  readonly carryOver?: CarryOverStore;
  close(): Promise<void>;
}

/** A small byte record kept where the source keeps its counters. */
export interface CarryOverStore {
  /** Largest record `write` accepts, in bytes. */
  readonly capacity: number;
  /** The last record written (by this process or an earlier one), or undefined when none. */
  read(): Uint8Array | undefined;
  /** Replaces the record; throws when it is larger than `capacity`. */
  write(data: Uint8Array): void;
}
