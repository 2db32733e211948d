/**
 * Drops by reason (the drop meter, on by default with the ebpf source):
 * packets the kernel freed as dropped, with its reason, per pod and per
 * namespace. docs/metrics.md "Drops by reason" describes each family.
 */
import type { DropSample, NamespaceDropSample } from '../collector/drop-state.js';
import { formatLabels, type ExpositionWriter, type MetricType } from './exposition-writer.js';
import type { FamilyDefinition } from './metric-families.js';

const family = (name: string, type: MetricType, help: string): FamilyDefinition => Object.freeze({ name, type, help });

export const DROPS_TOTAL = family(
  'netprobe_drops_total',
  'counter',
  "Packets the kernel dropped (skb:kfree_skb), by the kernel's reason; namespace and pod when the drop happened in the pod's network namespace (interface: the pod-side device) or at a hostNetwork pod's socket, empty otherwise; interface empty when the packet had no device",
);
export const NAMESPACE_DROPS_TOTAL = family(
  'netprobe_namespace_drops_total',
  'counter',
  "Packets dropped in a namespace's pods, by the kernel's reason, departed pods included",
);
export const DROPS_OVERFLOW_TOTAL = family(
  'netprobe_drops_overflow_total',
  'counter',
  'Dropped packets not given a netprobe_drops_total series of their own because the series cap (--collector.drops.max-series) was reached; they still count in netprobe_namespace_drops_total',
);
export const DROP_COUNTING_ACTIVE = family(
  'netprobe_drop_counting_active',
  'gauge',
  'Whether drops are counted (1), or not (0: the drop meter is off or could not load, see the log): 0 never means "no drops"',
);
export const DROP_RECURSION_MISSES_TOTAL = family(
  'netprobe_drop_recursion_misses_total',
  'counter',
  "Runs of the drop program the kernel skipped (a drop inside another BPF program's run on the same CPU): drops not counted; normally 0",
);
export const DROP_MAP_FULL_TOTAL = family(
  'netprobe_drop_map_full_total',
  'counter',
  "Drops counted under the overflow key (reason overflow, no namespace) because the drop meter's map was full; normally 0",
);

export interface DropExposition {
  /** Whether drops are counted (false: DROP_COUNTING_ACTIVE 0 and the other families declared without samples). */
  active: boolean;
  drops: readonly DropSample[];
  namespaces: readonly NamespaceDropSample[];
  overflowPackets: bigint;
  recursionMisses: bigint;
  mapFull: bigint;
}

export function writeDropFamilies(w: ExpositionWriter, d: DropExposition): void {
  w.family(DROP_COUNTING_ACTIVE.name, DROP_COUNTING_ACTIVE.type, DROP_COUNTING_ACTIVE.help);
  w.sample(DROP_COUNTING_ACTIVE.name, '', d.active ? 1 : 0);
  // Rows with the same labels are one series (a pod made again under its name while the departed one is retained).
  const series = new Map<string, bigint>();
  for (const s of d.drops) {
    const labels = formatLabels([
      ['interface', s.interface],
      ['namespace', s.namespace],
      ['pod', s.pod],
      ['reason', s.reason],
    ]);
    series.set(labels, (series.get(labels) ?? 0n) + s.packets);
  }
  w.family(DROPS_TOTAL.name, DROPS_TOTAL.type, DROPS_TOTAL.help);
  for (const [labels, packets] of series) w.sample(DROPS_TOTAL.name, labels, packets);
  w.family(NAMESPACE_DROPS_TOTAL.name, NAMESPACE_DROPS_TOTAL.type, NAMESPACE_DROPS_TOTAL.help);
  for (const n of d.namespaces)
    w.sample(
      NAMESPACE_DROPS_TOTAL.name,
      formatLabels([
        ['namespace', n.namespace],
        ['reason', n.reason],
      ]),
      n.packets,
    );
  // Without the meter the families are still declared (no samples): dashboards and rules find them.
  for (const [def, value] of [
    [DROPS_OVERFLOW_TOTAL, d.overflowPackets],
    [DROP_RECURSION_MISSES_TOTAL, d.recursionMisses],
    [DROP_MAP_FULL_TOTAL, d.mapFull],
  ] as const) {
    w.family(def.name, def.type, def.help);
    if (d.active) w.sample(def.name, '', value);
  }
}
