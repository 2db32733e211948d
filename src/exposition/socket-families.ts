/**
 * The pod-side view's families (`--collector.pods` with the ebpf source):
 * what pods' sockets sent and received, counted by a cgroup_skb program per
 * socket cgroup, and where the host-veth view is blind. docs/metrics.md
 * "Two views of a pod's traffic" describes each one.
 */
import type { BlindSpotSample } from '../collector/blind-spots.js';
import type { PodSocketSample, UnattributedReason } from '../collector/socket-state.js';
import type { PacketsBytes } from '../collector/collection-state.js';
import { formatLabels, type ExpositionWriter, type MetricType } from './exposition-writer.js';
import type { FamilyDefinition } from './metric-families.js';

const family = (name: string, type: MetricType, help: string): FamilyDefinition => Object.freeze({ name, type, help });

/** What this view cannot see, said in every socket family's HELP. */
const UNSEEN =
  "Not seen here: packets the kernel answers itself (ICMP echo replies, RSTs), forwarded packets, drops before a socket, traffic over the pod's own loopback";

export const POD_SOCKET_PACKETS_TOTAL = family(
  'netprobe_pod_socket_packets_total',
  'counter',
  `Wire packets (GSO/GRO segments) the pod's sockets received (direction=ingress) or sent (egress), on any datapath, departed containers included. ${UNSEEN}`,
);
export const POD_SOCKET_BYTES_TOTAL = family(
  'netprobe_pod_socket_bytes_total',
  'counter',
  `L3 bytes (no Ethernet header) the pod's sockets received (direction=ingress) or sent (egress), on any datapath. ${UNSEEN}`,
);
export const NAMESPACE_SOCKET_PACKETS_TOTAL = family(
  'netprobe_namespace_socket_packets_total',
  'counter',
  `Wire packets a namespace's pods' sockets received (ingress) or sent (egress), departed pods included. ${UNSEEN}`,
);
export const NAMESPACE_SOCKET_BYTES_TOTAL = family(
  'netprobe_namespace_socket_bytes_total',
  'counter',
  `L3 bytes a namespace's pods' sockets received (ingress) or sent (egress), departed pods included. ${UNSEEN}`,
);
export const UNATTRIBUTED_SOCKET_PACKETS_TOTAL = family(
  'netprobe_unattributed_socket_packets_total',
  'counter',
  "Wire packets counted at sockets that belong to no named pod, by reason: node (the node's own processes, outside kubepods), unmapped (a cgroup gone before netprobe saw it), map_full (the counter map was full), unnamed_pod (a pod without a log directory)",
);
export const UNATTRIBUTED_SOCKET_BYTES_TOTAL = family(
  'netprobe_unattributed_socket_bytes_total',
  'counter',
  'L3 bytes counted at sockets that belong to no named pod, by reason (see netprobe_unattributed_socket_packets_total)',
);
export const POD_BLIND_PACKETS_TOTAL = family(
  'netprobe_pod_blind_packets_total',
  'counter',
  "Packets the pod's sockets received that its host-side veth never carried (the veth view is blind to them: a redirect past the veth, netkit); stays 0 on routed and bridged pods",
);
export const POD_SOCKET_VIEW = family(
  'netprobe_pod_socket_view',
  'gauge',
  "Whether pods' traffic is also counted at their sockets (1), or only at their host-side veths (0: per-pod totals may be incomplete; see the log)",
);

export const TC_PRECEDING_PROGRAM_INFO = family(
  'netprobe_tc_preceding_program_info',
  'gauge',
  "A TC program that runs before netprobe's on an interface's hook (it may redirect or drop packets netprobe's TC counters then never see, e.g. Cilium's bpf_redirect_peer); always 1",
);

export interface PrecedingProgramSample {
  interface: string;
  ifindex: number;
  direction: string;
  position: number;
  progId: number;
  progName: string;
}

export interface SocketExposition {
  /** Whether the socket meter is open (false: POD_SOCKET_VIEW 0, the other families declared without samples). */
  open: boolean;
  /** Labels include `container` (--collector.pods.containers). */
  containers: boolean;
  pods: readonly PodSocketSample[];
  namespaces: ReadonlyArray<{ namespace: string; ingress: PacketsBytes; egress: PacketsBytes }>;
  unattributed: ReadonlyArray<{ reason: UnattributedReason; ingress: PacketsBytes; egress: PacketsBytes }>;
  blind: readonly BlindSpotSample[];
  /** TC programs before netprobe's, per interface and hook (read every so often). */
  preceding?: readonly PrecedingProgramSample[];
}

/**
 * A packets family and a bytes family of rows with both directions: one
 * sample per row and direction, `direction` sorted in among the row's labels
 * (label names in alphabetical order, as everywhere in netprobe's output).
 */
export function writePacketsAndBytes<T extends { ingress: PacketsBytes; egress: PacketsBytes }>(
  w: ExpositionWriter,
  packets: FamilyDefinition,
  bytes: FamilyDefinition,
  rows: readonly T[],
  labelsOf: (row: T) => Array<[string, string]>,
): void {
  // Rows with the same labels are one series: a pod deleted and made again under its name (a
  // StatefulSet's db-0) is two buckets while the departed one is retained; their sum keeps the series
  // from going backwards meanwhile, and a scrape never holds two samples of one series.
  const series = new Map<string, bigint>();
  for (const def of [packets, bytes])
    for (const row of rows)
      for (const d of ['ingress', 'egress'] as const) {
        const labels = formatLabels([...labelsOf(row), ['direction', d] as [string, string]].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
        const key = `${def.name}${labels}`;
        series.set(key, (series.get(key) ?? 0n) + (def === packets ? row[d].packets : row[d].bytes));
      }
  for (const def of [packets, bytes]) {
    w.family(def.name, def.type, def.help);
    for (const [key, value] of series)
      if (key.startsWith(`${def.name}{`) || key === def.name) w.sample(def.name, key.slice(def.name.length), value);
  }
}

export function writeSocketFamilies(w: ExpositionWriter, s: SocketExposition): void {
  w.family(POD_SOCKET_VIEW.name, POD_SOCKET_VIEW.type, POD_SOCKET_VIEW.help);
  w.sample(POD_SOCKET_VIEW.name, '', s.open ? 1 : 0);
  // Without the view the families are still declared (no samples): dashboards and rules find them.
  const podLabels = (p: PodSocketSample): Array<[string, string]> => [
    ...(s.containers ? [['container', p.container] as [string, string]] : []),
    ['namespace', p.namespace],
    ['pod', p.pod],
  ];
  writePacketsAndBytes(w, POD_SOCKET_PACKETS_TOTAL, POD_SOCKET_BYTES_TOTAL, s.pods, podLabels);
  writePacketsAndBytes(w, NAMESPACE_SOCKET_PACKETS_TOTAL, NAMESPACE_SOCKET_BYTES_TOTAL, s.namespaces, (n) => [['namespace', n.namespace]]);
  writePacketsAndBytes(w, UNATTRIBUTED_SOCKET_PACKETS_TOTAL, UNATTRIBUTED_SOCKET_BYTES_TOTAL, s.unattributed, (u) => [
    ['reason', u.reason],
  ]);
  w.family(POD_BLIND_PACKETS_TOTAL.name, POD_BLIND_PACKETS_TOTAL.type, POD_BLIND_PACKETS_TOTAL.help);
  const blind = new Map<string, bigint>();
  for (const b of s.blind) {
    const labels = formatLabels([
      ['namespace', b.namespace],
      ['pod', b.pod],
    ]);
    blind.set(labels, (blind.get(labels) ?? 0n) + b.packets);
  }
  for (const [labels, packets] of blind) w.sample(POD_BLIND_PACKETS_TOTAL.name, labels, packets);
  w.family(TC_PRECEDING_PROGRAM_INFO.name, TC_PRECEDING_PROGRAM_INFO.type, TC_PRECEDING_PROGRAM_INFO.help);
  for (const p of s.preceding ?? [])
    w.sample(
      TC_PRECEDING_PROGRAM_INFO.name,
      formatLabels([
        ['direction', p.direction],
        ['ifindex', String(p.ifindex)],
        ['interface', p.interface],
        ['position', String(p.position)],
        ['prog_id', String(p.progId)],
        ['prog_name', p.progName],
      ]),
      1,
    );
}
