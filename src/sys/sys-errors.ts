/** Errors of the system-call layer itself: the library is missing, or its layouts are not the ones this build knows. */
import { NetprobeError } from '../errors/index.js';

/** `libbpf.so.1` (or libc) could not be loaded. */
export class LibbpfMissingError extends NetprobeError {
  constructor(cause: unknown) {
    super('NP_ERR_NO_LIBBPF', `load libbpf.so.1: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'LibbpfMissingError';
  }
}

/** The running libbpf or kernel disagrees with the layouts this build was written for. */
export class AbiMismatchError extends NetprobeError {
  constructor(what: string) {
    super('NP_ERR_ABI_MISMATCH', `check ${what}`);
    this.name = 'AbiMismatchError';
  }
}
