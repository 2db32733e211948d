/**
 * The base of every error netprobe raises on purpose. `code` is stable (for
 * tests and scripts, like fastify's FST_ERR_*); the message says what was
 * being done and why it failed; `hint` says what to do about it.
 */
export class NetprobeError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(opts.hint ? `${message}; ${opts.hint}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'NetprobeError';
    this.code = code;
    this.hint = opts.hint;
  }
}
