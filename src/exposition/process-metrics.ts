/**
 * The standard `process_*` and `nodejs_*` metrics, from prom-client's
 * collectDefaultMetrics (it knows how to read them on every platform). They
 * are read at most every PROCESS_METRICS_MAX_AGE_MS, never per scrape, and
 * written through our own writer so both exposition formats come from one
 * reading. Not every collection: `process_open_fds` lists /proc/self/fd, and
 * in tcx mode netprobe holds two link fds per interface — at 2,000
 * interfaces that listing was a third of the collection cycle.
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ExpositionWriter, formatLabels, type MetricType } from './exposition-writer.js';

/** One family as read from prom-client, reduced to what the writer needs. */
export interface ProcessFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Array<{ name: string; labels: string; value: number }>;
}

/** How old the process metrics may get; they describe the process, not the traffic. */
export const PROCESS_METRICS_MAX_AGE_MS = 15_000;

let sharedRegistry: Registry | undefined;
let cached: { families: ProcessFamily[]; readAt: number } | undefined;

/** Process-wide: one registry, however many exporters run in this process. */
function registry(): Registry {
  if (!sharedRegistry) {
    sharedRegistry = new Registry();
    collectDefaultMetrics({ register: sharedRegistry });
  }
  return sharedRegistry;
}

const KNOWN_TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary']);

/** The process metrics, read anew when the last reading is older than `maxAgeMs`. */
export async function readProcessMetrics(maxAgeMs = PROCESS_METRICS_MAX_AGE_MS): Promise<ProcessFamily[]> {
  const now = performance.now();
  if (cached && now - cached.readAt < maxAgeMs) return cached.families;
  cached = { families: await readProcessMetricsNow(), readAt: now };
  return cached.families;
}

async function readProcessMetricsNow(): Promise<ProcessFamily[]> {
  const families = await registry().getMetricsAsJSON();
  // A family's name must match its type: prom-client's
  // nodejs_active_{handles,requests,resources}_total are gauges named like
  // counters (promtool warns; OpenMetrics forbids it; the same numbers are in
  // nodejs_active_{handles,requests,resources} by type), and a counter
  // without `_total` could not be written in OpenMetrics.
  return families
    .filter((f) => (String(f.type) === 'counter') === f.name.endsWith('_total'))
    .map((f) => {
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
