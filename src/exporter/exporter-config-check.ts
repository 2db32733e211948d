/**
 * The checks of the config given to `new Exporter()` (the library API:
 * milliseconds, numbers). They come from the same schema as flags, env and
 * file (src/config/check-exporter-config.ts); this only raises the error.
 */
import { exporterConfigProblems } from '../config/check-exporter-config.js';
import type { ExporterConfig } from '../config/exporter-config.js';
import { ExporterConfigError } from './exporter-errors.js';

/** Throws an ExporterConfigError naming every invalid field, its value and what is allowed. */
export function checkExporterConfig(config: ExporterConfig): void {
  const problems = exporterConfigProblems(config);
  if (problems.length > 0) throw new ExporterConfigError(problems);
}
