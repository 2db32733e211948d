/**
 * The errors the eBPF data path raises on purpose. Each names what was being
 * done (`attach tcx ingress to eth0 (ifindex 4): ...`) and, in its hint, what
 * to do. Codes are stable: tests and scripts match on them.
 */
import { NetprobeError, type ErrorCode } from '../errors/index.js';
import { describeErrno, isPermissionErrno } from '../sys/errno.js';
import { effectiveCapabilities, hasBpfPrivileges } from './privileges.js';
import { seccompFilterActive } from './seccomp-mode.js';

export { AbiMismatchError, LibbpfMissingError } from '../sys/sys-errors.js';
export { describeErrno } from '../sys/errno.js';

export const MIN_TCX_KERNEL = '6.6';

/** A system call or libbpf call failed; `errno` is positive (e.g. 2 = ENOENT). */
export class BpfCallError extends NetprobeError {
  readonly errno: number;

  constructor(what: string, errno: number, opts: { code?: ErrorCode; hint?: string } = {}) {
    super(opts.code ?? 'NP_ERR_BPF', `${what}: ${describeErrno(errno)}`, opts.hint === undefined ? {} : { hint: opts.hint });
    this.name = 'BpfCallError';
    this.errno = errno;
  }
}

/**
 * EPERM/EACCES while loading or attaching: the process lacks CAP_BPF /
 * CAP_NET_ADMIN — or holds both and a seccomp filter refused the call, which
 * the error then names instead of asking for capabilities it already has.
 */
export function privilegeError(what: string, errno: number): BpfCallError {
  if (hasBpfPrivileges(effectiveCapabilities()) && seccompFilterActive())
    return new BpfCallError(`${what} although CAP_BPF and CAP_NET_ADMIN are held: a seccomp filter refuses bpf(2)`, errno, {
      code: 'NP_ERR_SECCOMP',
    });
  return new BpfCallError(what, errno, { code: 'NP_ERR_NO_PRIVILEGE' });
}

/** Turns a failed call into the most helpful error: permission problems get the capability hint. */
export function callError(what: string, errno: number, hint?: string): BpfCallError {
  if (isPermissionErrno(errno)) return privilegeError(what, errno);
  return new BpfCallError(what, errno, hint === undefined ? {} : { hint });
}

/** `attachMode: 'tcx'` on a kernel without tcx links. */
export class TcxUnsupportedError extends NetprobeError {
  constructor(detail: string) {
    super('NP_ERR_NO_TCX', `attach mode tcx: this kernel has no tcx links (${detail}); they need Linux ${MIN_TCX_KERNEL} or newer`);
    this.name = 'TcxUnsupportedError';
  }
}

/** The verifier (or the loader) rejected the program; the verifier log went to the debug log. */
export class ProgramLoadError extends NetprobeError {
  readonly errno: number;

  constructor(path: string, errno: number) {
    super('NP_ERR_BPF_LOAD', `load BPF object ${path}: the kernel rejected it: ${describeErrno(errno)}`);
    this.name = 'ProgramLoadError';
    this.errno = errno;
  }
}

/** Misuse of the API (e.g. loading twice). */
export class StateError extends NetprobeError {
  constructor(message: string) {
    super('NP_ERR_STATE', message);
    this.name = 'StateError';
  }
}
