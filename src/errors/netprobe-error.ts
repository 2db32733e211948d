import { ERROR_CATALOGUE, type ErrorCode } from './error-catalogue.js';

export interface NetprobeErrorOptions {
  /** Advice for this occurrence; the catalogue's hint for the code when absent. */
  hint?: string;
  cause?: unknown;
}

/**
 * The base of every error netprobe raises on purpose. `code` is stable (for
 * tests and scripts, like fastify's FST_ERR_*); the message says what was
 * being done and why it failed; `hint` says what to do about it.
 */
export class NetprobeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;

  constructor(code: ErrorCode, message: string, opts: NetprobeErrorOptions = {}) {
    const hint = opts.hint ?? ERROR_CATALOGUE[code].hint;
    super(`${message}; ${hint}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NetprobeError';
    this.code = code;
    this.hint = hint;
  }
}
