/** Errors the Exporter raises on purpose (codes are stable). */
import { NetprobeError } from '../errors/index.js';

/** The config passed to `new Exporter()` is invalid; `problems` has one line per field. */
export class ExporterConfigError extends NetprobeError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('NP_ERR_EXPORTER_CONFIG', `invalid exporter config: ${problems.join('; ')}`);
    this.name = 'ExporterConfigError';
    this.problems = problems;
  }
}

/** `start()` called on an exporter that was already started (or stopped). */
export class ExporterStateError extends NetprobeError {
  constructor(message: string, hint: string) {
    super('NP_ERR_EXPORTER_STATE', message, { hint });
    this.name = 'ExporterStateError';
  }
}
