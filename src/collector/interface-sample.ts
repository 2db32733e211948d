/**
 * What one collection yields per exported interface: the absolute counters
 * read from the source, the rates since the previous collection, and whether
 * the interface counts as active. Pure data, produced by `advanceCollection`.
 */

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
}
