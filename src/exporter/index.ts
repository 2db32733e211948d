/**
 * `netprobe-exporter/metrics`: the Exporter and its configuration types.
 */
export { Exporter, type ExporterOptions } from './exporter.js';
export { ExporterConfigError, ExporterStateError } from './exporter-errors.js';
export {
  DEFAULT_EXPORTER_CONFIG,
  DEFAULT_SERVER_CONFIG,
  type ExporterConfig,
  type ExporterConfigInput,
  type ServerConfig,
} from '../config/exporter-config.js';
export type { CounterSource, CounterRow, Direction, SourceKind, AttachMode } from '../source/counter-source.js';
export { NetdevSource } from '../source/netdev-source.js';
