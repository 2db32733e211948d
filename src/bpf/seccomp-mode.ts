/**
 * Whether a seccomp filter confines this process (`Seccomp: 2` in
 * /proc/self/status). With CAP_BPF and CAP_NET_ADMIN held, an EPERM from
 * bpf(2) then comes from the filter — typically a container runtime's
 * default profile that allows bpf only with CAP_SYS_ADMIN (podman, CRI-O).
 */
import { readFileSync } from 'node:fs';

/** True when `status` (default: this process's /proc status) says a seccomp filter is installed. */
export function seccompFilterActive(status?: string): boolean {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return false;
    }
  }
  return /^Seccomp:\s*2$/m.test(text);
}
