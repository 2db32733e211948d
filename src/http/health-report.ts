/**
 * The `/health` document: the seed's JSON shape plus the data source, so a
 * probe can tell a stuck collector from a fresh one.
 */
import type { ExporterStatus } from './exporter-status.js';

/** Fresh while the last successful collection is younger than max(3 × interval, 30 s). */
export function freshnessLimitMs(collectIntervalMs: number): number {
  return Math.max(3 * collectIntervalMs, 30_000);
}

export type HealthState = 'ok' | 'stale' | 'unavailable';

export interface HealthReport {
  status: HealthState;
  timestamp: string;
  server: { running: boolean; port: number; requests: number; metrics: number; collections: number; last_collection: string | null };
  source: { kind: string; attach_mode: string | null; attached_interfaces: number };
  collection: { interval_seconds: number; up: boolean; errors: number; last_error: string | null };
}

export function buildHealthReport(status: ExporterStatus, now: Date = new Date()): { httpStatus: 200 | 503; report: HealthReport } {
  const age = status.lastSuccessAgeMs;
  const state: HealthState = age === undefined ? 'unavailable' : age < freshnessLimitMs(status.collectIntervalMs) ? 'ok' : 'stale';
  return {
    httpStatus: state === 'ok' ? 200 : 503,
    report: {
      status: state,
      timestamp: now.toISOString(),
      server: {
        running: true,
        port: status.port,
        requests: status.requests,
        metrics: status.series,
        collections: status.collections,
        last_collection: status.lastSuccess?.toISOString() ?? null,
      },
      source: { kind: status.source, attach_mode: status.attachMode ?? null, attached_interfaces: status.attachedInterfaces },
      collection: {
        interval_seconds: status.collectIntervalMs / 1000,
        up: status.up,
        errors: status.collectionErrors,
        last_error: status.lastError ?? null,
      },
    },
  };
}
