/**
 * The shape of `GET /api/v1/overview` (schema version 1): what the page at
 * `/` and `netprobe top` read. Documented in docs/overview.md; fields are only
 * ever added, never renamed, within one schema version.
 */

/** Rates and totals of one direction. Totals are exact below 2^53. */
export interface OverviewDirection {
  bytesPerSecond: number;
  packetsPerSecond: number;
  bytes: number;
  packets: number;
}

export interface OverviewInterface {
  name: string;
  ifindex: number;
  active: boolean;
  /** Present when the sample carries pod labels (empty string: no pod). */
  namespace?: string;
  pod?: string;
  /** netlink's kind (veth, bridge, vxlan, `device` for NICs and lo) and the role (uplink, pod, bridge, tunnel, loopback, other); absent when unknown (a departed interface). */
  kind?: string;
  role?: string;
  /** Present (true) for an interface that is gone and kept for the departed-retention time with its final values. */
  departed?: boolean;
  ingress: OverviewDirection;
  egress: OverviewDirection;
  /**
   * The kernel's own drop and error counters of the interface, from its
   * creation (netprobe_interface_drops_total, netprobe_interface_errors_total);
   * absent when the source could not read them.
   */
  drops?: { ingress: number; egress: number };
  errors?: { ingress: number; egress: number };
}

/** Whether the numbers can be trusted. */
export interface OverviewTrust {
  /** The last collection succeeded. */
  up: boolean;
  source: string;
  /** `tcx`, `tc`, or null for the netdev source. */
  attachMode: string | null;
  version: string;
  /** Unix ms when the exporter started, and seconds since then (at `generatedAt`). */
  startedAt: number;
  uptimeSeconds: number;
  collectIntervalMs: number;
  /** Interfaces the source counts. */
  interfacesCounted: number;
  /** The source's health counters (eBPF: interfaces it could not count, overflow entries, packets not counted); null for a source without them. */
  interfacesUncounted: number | null;
  overflow: number | null;
  uncountedPackets: number | null;
  collections: number;
  collectionErrors: number;
  /** Message of the last failed collection while it is the latest one. */
  lastError: string | null;
  /** Unix ms of the last successful collection; null before the first. */
  lastCollection: number | null;
  /** Samples in the current /metrics exposition. */
  series: number;
  /** With pod attribution on: whether pods are also counted at their sockets, and where the veth view is blind. */
  podSockets?: OverviewPodSockets;
  /** Pods and interfaces that dropped too large a share of their packets lately (src/collector/drop-share.ts). */
  dropShare?: OverviewDropShare;
}

export interface OverviewDropShare {
  /** The rule: over `windowMs`, drops / (drops + packets) above `limit` with at least `minDrops` drops. */
  windowMs: number;
  limit: number;
  minDrops: number;
  /** Unix ms the window reaches back to now (later than `windowMs` ago while the exporter is younger); null before the first collection. */
  since: number | null;
  /** Those above the rule, largest share first: pods without `not_specified` drops; interfaces by the kernel's drop counters. */
  over: Array<{ kind: 'pod' | 'interface'; name: string; drops: number; packets: number; share: number }>;
}

export interface OverviewPodSockets {
  /** The socket meter is open (false: per-pod totals may be incomplete; `problem` says why). */
  open: boolean;
  problem?: string;
  /** `namespace/pod` of pods whose sockets received packets their host veth never carried. */
  blindPods: string[];
  /** Per interface, TC programs that run before netprobe's (they may redirect packets past it). */
  precedingPrograms?: Array<{ interface: string; ifindex: number; direction: string; position: number; id: number; name: string }>;
}

export interface OverviewHistory {
  /** How far back the rings reach and how many points they hold (fixed at start). */
  windowMs: number;
  capacity: number;
  /** Unix ms of each point, oldest first. */
  times: number[];
  /** Node totals over time: the uplinks' sum, as `totals`. */
  totals: {
    ingressBytesPerSecond: number[];
    egressBytesPerSecond: number[];
    ingressPacketsPerSecond: number[];
    egressPacketsPerSecond: number[];
  };
  /** The busiest interfaces now (bytes/s both ways), each with its bytes/s history aligned with `times` (null: not there yet). */
  top: Array<{ name: string; ifindex: number; namespace?: string; pod?: string; bytesPerSecond: Array<number | null> }>;
  /** With the ebpf source: the node's drops/s by reason (every reason, `not_specified` included) aligned with `times`, the most in the window first; null where unknown. */
  drops?: Array<{ reason: string; perSecond: Array<number | null> }>;
}

/** Drops by reason (with the ebpf source): cumulative counts, as in /metrics. */
export interface OverviewDrops {
  /** Drops are counted (false: `problem` says why; 0 never means "no drops"). */
  active: boolean;
  problem?: string;
  /** Every reason's total over the whole node. */
  byReason: Array<{ reason: string; packets: number }>;
  /** Per pod, its drops with `not_specified` left out (that reason is mostly not a real drop). */
  pods: Array<{ namespace: string; pod: string; packets: number }>;
}

export interface OverviewDocument {
  schema: 1;
  /** Unix ms when this document was built (one per collection). */
  generatedAt: number;
  trust: OverviewTrust;
  /** Present with the ebpf source. */
  drops?: OverviewDrops;
  /**
   * Node totals: the sum over the uplinks (role `uplink`: the default routes'
   * devices, or `--collector.uplinks`), i.e. what crosses the node's edge.
   * Summing every interface would count a pod's packet on its veth, again on
   * a bridge and again on the uplink. Zero when no uplink is known.
   */
  totals: { ingress: OverviewDirection; egress: OverviewDirection };
  /** The interfaces `totals` and `history.totals` sum (exported ones with role `uplink`). */
  uplinks: Array<{ name: string; ifindex: number }>;
  /** Every exported interface, by ifindex. */
  interfaces: OverviewInterface[];
  history: OverviewHistory;
}

export const OVERVIEW_API_PATH = '/api/v1/overview';
