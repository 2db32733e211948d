/**
 * The standard `process_*` and `nodejs_*` metrics, from prom-client's
 * collectDefaultMetrics (it knows how to read them on every platform). They
 * are read once per collection, not per scrape, and written through our own
 * writer so both exposition formats come from one reading.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ExpositionWriter, formatLabels, type MetricType } from './exposition-writer.js';

/** One family as read from prom-client, reduced to what the writer needs. */
export interface ProcessFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Array<{ name: string; labels: string; value: number }>;
}

let sharedRegistry: Registry | undefined;

/** Process-wide: one registry, however many exporters run in this process. */
function registry(): Registry {
  if (!sharedRegistry) {
    sharedRegistry = new Registry();
    collectDefaultMetrics({ register: sharedRegistry });
  }
  return sharedRegistry;
}

const KNOWN_TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary']);

/** Reads every process metric once. */
export async function readProcessMetrics(): Promise<ProcessFamily[]> {
  const families = await registry().getMetricsAsJSON();
  // A family's name must match its type: prom-client's
  // nodejs_active_{handles,requests,resources}_total are gauges named like
  // counters (promtool warns; OpenMetrics forbids it; the same numbers are in
  // nodejs_active_{handles,requests,resources} by type), and a counter
  // without `_total` could not be written in OpenMetrics.
  return families.filter((f) => (String(f.type) === 'counter') === f.name.endsWith('_total')).map((f) => {
    const type = String(f.type);
    return {
      name: f.name,
      help: f.help,
      type: KNOWN_TYPES.has(type) ? (type as MetricType) : 'untyped',
      samples: f.values.map((v) => ({
        name: (v as { metricName?: string }).metricName ?? f.name,
        labels: formatLabels(Object.entries(v.labels).map(([k, value]) => [k, String(value)] as const)),
        value: v.value,
      })),
    };
  });
}

/** Writes families read by `readProcessMetrics`. */
export function writeProcessMetrics(writer: ExpositionWriter, families: readonly ProcessFamily[]): void {
  for (const f of families) {
    writer.family(f.name, f.type, f.help);
    for (const s of f.samples) writer.sample(s.name, s.labels, s.value);
  }
}
