/** The error catalogue and the error class every netprobe error extends. */
export { ERROR_CATALOGUE, ERROR_CODES, isErrorCode, type ErrorCatalogueEntry, type ErrorCode } from './error-catalogue.js';
export { NetprobeError, type NetprobeErrorOptions } from './netprobe-error.js';
