/**
 * One log line for a failure. Errors netprobe raises on purpose
 * (`NetprobeError`) already say what failed and what to do, so they get no
 * stack trace; anything else is a bug, and its stack helps whoever fixes it.
 */
import { NetprobeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';

export function logFailure(logger: Logger, what: string, error: unknown): void {
  if (error instanceof NetprobeError) {
    logger.error({ code: error.code }, `${what}: ${error.message}`);
  } else {
    logger.error({ err: error }, `${what}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
