/** Builders of exposition inputs for the exporter's unit tests. */
import type { InterfaceSample } from '../../src/collector/interface-sample.js';
import { renderExposition, type ExpositionInput } from '../../src/exposition/exposition.js';

export function sample(ifindex: number, name: string, overrides: Partial<InterfaceSample> = {}): InterfaceSample {
  return {
    ifindex,
    name,
    active: true,
    ingress: { packets: 10n, bytes: 1500n, segments: 12n, packetsPerSecond: 2, bytesPerSecond: 300 },
    egress: { packets: 4n, bytes: 400n, segments: 4n, packetsPerSecond: 0.5, bytesPerSecond: 50.25 },
    ...overrides,
  };
}

export function expositionInput(overrides: Partial<ExpositionInput> = {}): ExpositionInput {
  return {
    samples: [sample(1, 'lo'), sample(2, 'eth0')],
    up: true,
    collections: 3,
    lastSuccessSeconds: 1_700_000_000.25,
    source: 'ebpf',
    attachMode: 'tcx',
    attachedInterfaces: 2,
    collectionDurationSeconds: 0.0008,
    collectionErrors: 0,
    sourceStats: { uncounted_packets: 0n },
    version: '1.2.3',
    processFamilies: [],
    ...overrides,
  };
}

/** `renderExposition` with both outputs decoded, for assertions on text. */
export function renderToStrings(input: ExpositionInput): { text: string; openMetrics: string; samples: number } {
  const r = renderExposition(input);
  return { text: r.text.toString('utf8'), openMetrics: Buffer.concat(r.openMetrics).toString('utf8'), samples: r.samples };
}
