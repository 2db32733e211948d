/**
 * Renders everything netprobe exports, in one format, from one collection's
 * results. Called once per collection per format; scrapes serve the result.
 */
import type { AttachMode, InterfaceFaults, SourceKind } from '../source/counter-source.js';
import type { InterfaceSample, NamespaceTotals } from '../collector/interface-sample.js';
import { currentRole, type InterfaceRole } from '../net/interface-role.js';
import { ExpositionWriter, formatLabels, type RenderedFormats } from './exposition-writer.js';
import { InterfaceLabelCache, type InterfaceLabelSets } from './interface-labels.js';
import * as F from './metric-families.js';
import { writeProcessMetrics, type ProcessFamily } from './process-metrics.js';
import { writePacketsAndBytes, writeSocketFamilies, type SocketExposition } from './socket-families.js';
import { writeDropFamilies, type DropExposition } from './drop-families.js';

export interface ExpositionInput {
  /** Exported interfaces; empty after a failed collection (no stale data served as fresh). */
  samples: readonly InterfaceSample[];
  /** The last collection succeeded. */
  up: boolean;
  /** Collections done so far, failed ones included. */
  collections: number;
  /** Unix seconds of the last successful collection; 0 = none yet. */
  lastSuccessSeconds: number;
  source: SourceKind;
  attachMode: AttachMode | undefined;
  attachedInterfaces: number;
  collectionDurationSeconds: number;
  collectionErrors: number;
  /** The source's own health counters (`readSourceStats()`); empty after a failed collection. */
  sourceStats: Readonly<Record<string, bigint>>;
  version: string;
  processFamilies: readonly ProcessFamily[];
  /** Present with pod attribution on (`--collector.pods`); absent = the 0.1 output. */
  pods?: PodExposition;
  /** Every interface's kind and role by ifindex (`netprobe_interface_info`); absent or empty = no info series. */
  roles?: ReadonlyMap<number, InterfaceRole>;
  /** Present with --collector.pods on the ebpf source: the pod-side (socket) view. */
  sockets?: SocketExposition;
  /** Present with the ebpf source: drops by reason (`--collector.drops`; inactive when off or when the meter could not load). */
  drops?: DropExposition;
}

export interface PodExposition {
  /** Per-interface series of pod interfaces (false: only the namespace totals and node interfaces). */
  perInterface: boolean;
  namespaces: readonly NamespaceTotals[];
  /** Unattributed interfaces by reason (`no_pod_process`, `no_pod_log_dir`). */
  unresolved: Readonly<Record<string, number>>;
}

/**
 * Renders the exposition in both formats. Pass the same `labels` cache on
 * every collection to reuse the interfaces' rendered label sets.
 */
export function renderExposition(input: ExpositionInput, labels: InterfaceLabelCache = new InterfaceLabelCache()): RenderedFormats {
  const w = new ExpositionWriter(labels.lastTextBytes || undefined);
  const pods = input.pods;
  const samples = pods && !pods.perInterface ? input.samples.filter((s) => s.podUid === undefined) : input.samples;
  const directionLabels = labels.labelsFor(samples, pods !== undefined);
  const perDirection = (def: F.FamilyDefinition, pick: (s: InterfaceSample, d: 'ingress' | 'egress') => number | bigint): void => {
    w.family(def.name, def.type, def.help);
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      const labels = directionLabels[i]!;
      w.sample(def.name, labels.ingress, pick(s, 'ingress'));
      w.sample(def.name, labels.egress, pick(s, 'egress'));
    }
  };

  perDirection(F.TC_PACKETS_TOTAL, (s, d) => s[d].packets);
  perDirection(F.TC_BYTES_TOTAL, (s, d) => s[d].bytes);
  perDirection(F.TC_PACKETS_PER_SECOND, (s, d) => s[d].packetsPerSecond);
  perDirection(F.TC_BYTES_PER_SECOND, (s, d) => s[d].bytesPerSecond);
  w.family(F.INTERFACE_ACTIVE.name, F.INTERFACE_ACTIVE.type, F.INTERFACE_ACTIVE.help);
  for (let i = 0; i < samples.length; i++) w.sample(F.INTERFACE_ACTIVE.name, directionLabels[i]!.both, samples[i]!.active ? 1 : 0);
  single(w, F.UP, input.up ? 1 : 0);
  single(w, F.COLLECTION_TOTAL, input.collections);
  single(w, F.LAST_COLLECTION_TIMESTAMP, input.lastSuccessSeconds);

  perDirection(F.TC_SEGMENTS_TOTAL, (s, d) => s[d].segments);
  w.family(F.INTERFACE_INFO.name, F.INTERFACE_INFO.type, F.INTERFACE_INFO.help);
  for (const s of samples) {
    const r = currentRole(input.roles, s);
    if (r)
      w.sample(
        F.INTERFACE_INFO.name,
        formatLabels([
          ['ifindex', String(s.ifindex)],
          ['interface', s.name],
          ['kind', r.kind],
          ['role', r.role],
        ]),
        1,
      );
  }
  writeFaultFamilies(w, samples, directionLabels);
  w.family(F.SOURCE_INFO.name, F.SOURCE_INFO.type, F.SOURCE_INFO.help);
  w.sample(
    F.SOURCE_INFO.name,
    formatLabels([
      ['attach_mode', input.attachMode ?? 'none'],
      ['source', input.source],
    ]),
    1,
  );
  single(w, F.ATTACHED_INTERFACES, input.attachedInterfaces);
  single(w, F.EXPORTED_INTERFACES, samples.length);
  single(w, F.COLLECTION_DURATION, input.collectionDurationSeconds);
  single(w, F.COLLECTION_ERRORS_TOTAL, input.collectionErrors);
  for (const key of Object.keys(input.sourceStats).sort()) {
    const def = F.sourceStatFamily(key, input.source);
    single(w, def, input.sourceStats[key]!);
  }
  if (pods) writePodFamilies(w, samples, pods);
  if (input.sockets) writeSocketFamilies(w, input.sockets);
  if (input.drops) writeDropFamilies(w, input.drops);
  w.family(F.BUILD_INFO.name, F.BUILD_INFO.type, F.BUILD_INFO.help);
  w.sample(
    F.BUILD_INFO.name,
    formatLabels([
      ['nodejs_version', process.version],
      ['version', input.version],
    ]),
    1,
  );
  writeProcessMetrics(w, input.processFamilies);
  const rendered = w.finish();
  labels.lastTextBytes = rendered.text.length;
  return rendered;
}

/**
 * The kernel's drop and error counters, for the interfaces whose source read
 * them; the receive details carry no direction (receive is in their names).
 */
function writeFaultFamilies(w: ExpositionWriter, samples: readonly InterfaceSample[], labels: readonly InterfaceLabelSets[]): void {
  const perDirection = (def: F.FamilyDefinition, ingress: keyof InterfaceFaults, egress: keyof InterfaceFaults): void => {
    w.family(def.name, def.type, def.help);
    for (let i = 0; i < samples.length; i++) {
      const f = samples[i]!.faults;
      if (!f) continue;
      w.sample(def.name, labels[i]!.ingress, f[ingress]);
      w.sample(def.name, labels[i]!.egress, f[egress]);
    }
  };
  const receive = (def: F.FamilyDefinition, field: keyof InterfaceFaults): void => {
    w.family(def.name, def.type, def.help);
    for (let i = 0; i < samples.length; i++) {
      const f = samples[i]!.faults;
      if (f) w.sample(def.name, labels[i]!.both, f[field]);
    }
  };
  perDirection(F.INTERFACE_DROPS_TOTAL, 'rxDropped', 'txDropped');
  perDirection(F.INTERFACE_ERRORS_TOTAL, 'rxErrors', 'txErrors');
  receive(F.INTERFACE_RECEIVE_MISSED_TOTAL, 'rxMissedErrors');
  receive(F.INTERFACE_RECEIVE_FIFO_ERRORS_TOTAL, 'rxFifoErrors');
  receive(F.INTERFACE_RECEIVE_OVER_ERRORS_TOTAL, 'rxOverErrors');
  receive(F.INTERFACE_RECEIVE_NOHANDLER_TOTAL, 'rxNohandler');
}

function writePodFamilies(w: ExpositionWriter, samples: readonly InterfaceSample[], pods: PodExposition): void {
  w.family(F.POD_INTERFACE_INFO.name, F.POD_INTERFACE_INFO.type, F.POD_INTERFACE_INFO.help);
  for (const s of samples) {
    if (s.podUid === undefined) continue;
    w.sample(
      F.POD_INTERFACE_INFO.name,
      formatLabels([
        ['ifindex', String(s.ifindex)],
        ['interface', s.name],
        ['namespace', s.namespace ?? ''],
        ['pod', s.pod ?? ''],
        ['pod_uid', s.podUid],
      ]),
      1,
    );
  }
  writePacketsAndBytes(w, F.NAMESPACE_PACKETS_TOTAL, F.NAMESPACE_BYTES_TOTAL, pods.namespaces, (n) => [['namespace', n.namespace]]);
  w.family(F.POD_INTERFACES_UNRESOLVED.name, F.POD_INTERFACES_UNRESOLVED.type, F.POD_INTERFACES_UNRESOLVED.help);
  for (const reason of Object.keys(pods.unresolved).sort())
    w.sample(F.POD_INTERFACES_UNRESOLVED.name, formatLabels([['reason', reason]]), pods.unresolved[reason]!);
}

function single(w: ExpositionWriter, def: F.FamilyDefinition, value: number | bigint): void {
  w.family(def.name, def.type, def.help);
  w.sample(def.name, '', value);
}
