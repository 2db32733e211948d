/**
 * The metric families netprobe exports: the eight of the contract (names,
 * types, labels and HELP from the seed), then the self-metrics a user needs to
 * trust them. docs/metrics.md describes each one.
 */
import type { MetricType } from './exposition-writer.js';

export interface FamilyDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
}

function family(name: string, type: MetricType, help: string): FamilyDefinition {
  return Object.freeze({ name, type, help });
}

export const TC_PACKETS_TOTAL = family('netprobe_tc_packets_total', 'counter', 'Total number of packets processed by TC');
export const TC_BYTES_TOTAL = family('netprobe_tc_bytes_total', 'counter', 'Total number of bytes processed by TC');
export const TC_PACKETS_PER_SECOND = family('netprobe_tc_packets_per_second', 'gauge', 'Rate of packets per second processed by TC');
export const TC_BYTES_PER_SECOND = family('netprobe_tc_bytes_per_second', 'gauge', 'Rate of bytes per second processed by TC');
export const INTERFACE_ACTIVE = family('netprobe_interface_active', 'gauge', 'Whether the network interface is currently active');
export const UP = family('netprobe_up', 'gauge', 'Whether the netprobe exporter is up');
export const COLLECTION_TOTAL = family('netprobe_collection_total', 'counter', 'Total number of collections');
export const LAST_COLLECTION_TIMESTAMP = family(
  'netprobe_last_collection_timestamp_seconds',
  'gauge',
  'Unix timestamp of the last successful collection',
);

/** The eight families of the contract, in exposition order. */
export const CONTRACT_FAMILIES: readonly FamilyDefinition[] = Object.freeze([
  TC_PACKETS_TOTAL,
  TC_BYTES_TOTAL,
  TC_PACKETS_PER_SECOND,
  TC_BYTES_PER_SECOND,
  INTERFACE_ACTIVE,
  UP,
  COLLECTION_TOTAL,
  LAST_COLLECTION_TIMESTAMP,
]);

export const TC_SEGMENTS_TOTAL = family(
  'netprobe_tc_segments_total',
  'counter',
  'Total number of wire packets processed by TC: a GSO/GRO packet counts once per segment',
);
export const INTERFACE_INFO = family(
  'netprobe_interface_info',
  'gauge',
  "Each interface's kind (from netlink) and role (uplink, pod, bridge, tunnel, loopback, other); node totals are the uplinks' traffic; always 1",
);
/** The kernel's drop and error counters of each interface (IFLA_STATS64); docs/metrics.md "Drops and errors". */
export const INTERFACE_DROPS_TOTAL = family(
  'netprobe_interface_drops_total',
  'counter',
  'Packets the kernel or driver dropped on the interface since it was created (rx_dropped/tx_dropped of ip -s link), NIC ring and XDP drops included',
);
export const INTERFACE_ERRORS_TOTAL = family(
  'netprobe_interface_errors_total',
  'counter',
  'Bad packets received and packets the device failed to send since the interface was created (rx_errors/tx_errors of ip -s link)',
);
export const INTERFACE_RECEIVE_MISSED_TOTAL = family(
  'netprobe_interface_receive_missed_total',
  'counter',
  'Packets the NIC had no room for, so the host never saw them (rx_missed_errors: its ring or FIFO was full)',
);
export const INTERFACE_RECEIVE_FIFO_ERRORS_TOTAL = family(
  'netprobe_interface_receive_fifo_errors_total',
  'counter',
  'Receive FIFO overruns reported by the driver (rx_fifo_errors)',
);
export const INTERFACE_RECEIVE_OVER_ERRORS_TOTAL = family(
  'netprobe_interface_receive_over_errors_total',
  'counter',
  'Received packets larger than the receive buffer, a ring overflow on some drivers (rx_over_errors)',
);
export const INTERFACE_RECEIVE_NOHANDLER_TOTAL = family(
  'netprobe_interface_receive_nohandler_total',
  'counter',
  "Received packets no protocol handler took: an unknown ethertype, or a bond's inactive port (rx_nohandler)",
);
export const SOURCE_INFO = family(
  'netprobe_source_info',
  'gauge',
  'Counter source in use (ebpf or netdev) and how the eBPF programs are attached (tcx, tc or none); always 1',
);
export const ATTACHED_INTERFACES = family(
  'netprobe_attached_interfaces',
  'gauge',
  'Number of interfaces the counter source currently counts',
);
export const EXPORTED_INTERFACES = family(
  'netprobe_exported_interfaces',
  'gauge',
  'Number of interfaces exported after the interface filter and active-only setting',
);
export const COLLECTION_DURATION = family(
  'netprobe_collection_duration_seconds',
  'gauge',
  'Duration of the last collection: reading the counters and computing the samples',
);
export const COLLECTION_ERRORS_TOTAL = family(
  'netprobe_collection_errors_total',
  'counter',
  'Total number of collections that failed to read the counters',
);
export const BUILD_INFO = family('netprobe_build_info', 'gauge', 'netprobe version and the Node.js version it runs on; always 1');

/**
 * The families of the source's `readSourceStats()` keys. Known keys get their
 * own type and HELP (the eBPF loader's: a packet counter and two interface
 * counts that can go down, so gauges). An unknown key is exported as a gauge
 * `netprobe_source_<key>`: a gauge is never misread as a counter reset.
 */
const SOURCE_STAT_FAMILIES: Readonly<Record<string, FamilyDefinition>> = {
  uncounted_packets: family(
    'netprobe_uncounted_packets_total',
    'counter',
    'Packets that reached an attached TC hook without a counter entry (normally 0)',
  ),
  interfaces_uncounted: family(
    'netprobe_interfaces_uncounted',
    'gauge',
    'Interfaces the filters accept that could not be counted (counter map full or attach failed)',
  ),
  interfaces_overflow: family(
    'netprobe_interfaces_overflow',
    'gauge',
    'Interfaces counted in the overflow hash because another interface owns their ifindex slot',
  ),
};

export function sourceStatFamily(key: string, sourceKind: string): FamilyDefinition {
  return (
    SOURCE_STAT_FAMILIES[key] ??
    family(
      `netprobe_source_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`,
      'gauge',
      `Counter-source statistic "${key}" reported by the ${sourceKind} source`,
    )
  );
}

/** Pod attribution (`--collector.pods`); docs/metrics.md "Pods and namespaces". */
export const POD_INTERFACE_INFO = family(
  'netprobe_pod_interface_info',
  'gauge',
  'The pod an interface (its host-side veth) serves, with the pod UID for joins; always 1',
);
export const NAMESPACE_PACKETS_TOTAL = family(
  'netprobe_namespace_packets_total',
  'counter',
  "Total packets on the host-side interfaces of a namespace's pods, departed pods included",
);
export const NAMESPACE_BYTES_TOTAL = family(
  'netprobe_namespace_bytes_total',
  'counter',
  "Total bytes on the host-side interfaces of a namespace's pods, departed pods included",
);
export const POD_INTERFACES_UNRESOLVED = family(
  'netprobe_pod_interfaces_unresolved',
  'gauge',
  'Interfaces with a peer in another network namespace that could not be attributed to a pod, or only by pod UID, by reason',
);
