/**
 * netprobe-exporter: per-interface traffic counters from an eBPF program at
 * the TC layer, exported for Prometheus.
 */
export * from './metrics/index.js';
export { NetprobeError } from './errors.js';
