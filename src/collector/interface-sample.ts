/**
 * What one collection yields per exported interface: the absolute counters
 * read from the source, the rates since the previous collection, and whether
 * the interface counts as active. Pure data, produced by `advanceCollection`.
 */
import type { InterfaceFaults } from '../source/counter-source.js';

/** One direction of one interface. */
export interface DirectionSample {
  packets: bigint;
  bytes: bigint;
  segments: bigint;
  /** Over the elapsed monotonic time since the previous collection; 0 when unknown. */
  packetsPerSecond: number;
  bytesPerSecond: number;
}

export interface InterfaceSample {
  ifindex: number;
  name: string;
  /** Carried at least one packet, in either direction, within the active window. */
  active: boolean;
  ingress: DirectionSample;
  egress: DirectionSample;
  /**
   * The kernel's drop and error counters (absent until the source could read
   * them); a departed interface keeps its last ones.
   */
  faults?: InterfaceFaults;
  /**
   * With pod attribution on: the pod this interface serves (its host-side
   * veth). namespace and pod are '' when the pod's names are unknown;
   * all three are absent on interfaces that serve no pod.
   */
  namespace?: string;
  pod?: string;
  podUid?: string;
  /** The interface is gone; these are its final values, kept for the departed-retention time. */
  departed?: boolean;
}

/** A pod as the collector needs it (the pod resolver's answer for one interface). */
export interface PodLabels {
  uid: string;
  /** '' when unknown. */
  namespace: string;
  /** '' when unknown. */
  name: string;
}

/** Totals of one namespace's pod interfaces, live and departed: never decrease. */
export interface NamespaceTotals {
  namespace: string;
  ingress: { packets: bigint; bytes: bigint };
  egress: { packets: bigint; bytes: bigint };
}
