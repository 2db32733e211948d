/**
 * netprobe-exporter: per-interface traffic counters from an eBPF program at
 * the TC layer, exported for Prometheus.
 *
 * @example
 * ```ts
 * import { EbpfManager, Exporter } from 'netprobe-exporter';
 * const ebpf = new EbpfManager();
 * await ebpf.loadNetworkMonitor();
 * const exporter = new Exporter(ebpf);
 * await exporter.start(AbortSignal.timeout(5 * 60_000));
 * ```
 */
export { EbpfManager, type EbpfManagerOptions } from './bpf/index.js';
export * from './exporter/index.js';
export { ERROR_CATALOGUE, NetprobeError, type ErrorCode } from './errors/index.js';
