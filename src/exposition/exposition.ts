/**
 * Renders everything netprobe exports, in one format, from one collection's
 * results. Called once per collection per format; scrapes serve the result.
 */
import type { AttachMode, SourceKind } from '../source/counter-source.js';
import type { InterfaceSample } from '../collector/interface-sample.js';
import { ExpositionWriter, formatLabels, type RenderedFormats } from './exposition-writer.js';
import { InterfaceLabelCache } from './interface-labels.js';
import * as F from './metric-families.js';
import { writeProcessMetrics, type ProcessFamily } from './process-metrics.js';

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
}

/**
 * Renders the exposition in both formats. Pass the same `labels` cache on
 * every collection to reuse the interfaces' rendered label sets.
 */
export function renderExposition(input: ExpositionInput, labels: InterfaceLabelCache = new InterfaceLabelCache()): RenderedFormats {
  const w = new ExpositionWriter(labels.lastTextBytes || undefined);
  const directionLabels = labels.labelsFor(input.samples);
  const perDirection = (def: F.FamilyDefinition, pick: (s: InterfaceSample, d: 'ingress' | 'egress') => number | bigint): void => {
    w.family(def.name, def.type, def.help);
    for (let i = 0; i < input.samples.length; i++) {
      const s = input.samples[i]!;
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
  for (let i = 0; i < input.samples.length; i++)
    w.sample(F.INTERFACE_ACTIVE.name, directionLabels[i]!.both, input.samples[i]!.active ? 1 : 0);
  single(w, F.UP, input.up ? 1 : 0);
  single(w, F.COLLECTION_TOTAL, input.collections);
  single(w, F.LAST_COLLECTION_TIMESTAMP, input.lastSuccessSeconds);

  perDirection(F.TC_SEGMENTS_TOTAL, (s, d) => s[d].segments);
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
  single(w, F.EXPORTED_INTERFACES, input.samples.length);
  single(w, F.COLLECTION_DURATION, input.collectionDurationSeconds);
  single(w, F.COLLECTION_ERRORS_TOTAL, input.collectionErrors);
  for (const key of Object.keys(input.sourceStats).sort()) {
    const def = F.sourceStatFamily(key, input.source);
    single(w, def, input.sourceStats[key]!);
  }
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

function single(w: ExpositionWriter, def: F.FamilyDefinition, value: number | bigint): void {
  w.family(def.name, def.type, def.help);
  w.sample(def.name, '', value);
}
