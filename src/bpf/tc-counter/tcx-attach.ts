/**
 * tcx links (Linux 6.6+): one bpf_link per interface and direction. The link
 * dies with its fd, also when the process is killed, so nothing can be left
 * behind; when the interface is deleted, the kernel detaches it by itself.
 *
 * We attach with BPF_F_BEFORE and no anchor: first in the interface's chain.
 * Counters must see every packet the interface receives or sends, also the
 * ones a later program (Cilium, Calico) redirects or drops; and since our
 * program always returns TCX_NEXT, being first never changes what they see.
 */
import type { Direction } from '../../source/counter-source.js';
import { callError } from '../errors.js';
import { BPF_F_BEFORE, BPF_TCX_EGRESS, BPF_TCX_INGRESS, libbpf } from '../../sys/libbpf.js';

/** The attachment of one program to one hook; `detach()` is idempotent. */
export interface HookAttachment {
  readonly ifindex: number;
  readonly direction: Direction;
  /** Still attached as far as the kernel knows (false once the interface is gone). */
  isAttached(): boolean;
  detach(): void;
  /** Lets go of the attachment without detaching it (a pinned link, a clsact filter): it keeps counting. */
  release(): void;
}

export function tcxAttachType(direction: Direction): number {
  return direction === 'ingress' ? BPF_TCX_INGRESS : BPF_TCX_EGRESS;
}

/** `attach tcx ingress to eth0 (ifindex 4)` */
export function hookName(mode: 'tcx' | 'tc', direction: Direction, ifname: string, ifindex: number): string {
  return `${mode} ${direction} of ${ifname} (ifindex ${ifindex})`;
}

/**
 * With `pin`, the link is pinned right after it is created, and detaching
 * it means unpinning it too (`unpin`); releasing only closes our fd.
 */
export function attachTcx(
  progFd: number,
  progId: number,
  ifindex: number,
  ifname: string,
  direction: Direction,
  pin?: { pin(fd: number): void; unpin(): void },
): HookAttachment {
  const lib = libbpf();
  const linkFd = lib.linkCreate(progFd, ifindex, tcxAttachType(direction), BPF_F_BEFORE);
  if (linkFd < 0) throw callError(`attach to ${hookName('tcx', direction, ifname, ifindex)}`, -linkFd);
  if (pin) {
    try {
      pin.pin(linkFd);
    } catch (e) {
      lib.close(linkFd);
      throw e;
    }
  }
  return tcxLinkHook(linkFd, progId, ifindex, direction, pin);
}

/** A HookAttachment for a tcx link fd we hold (created, or opened from its pin). */
export function tcxLinkHook(
  linkFd: number,
  progId: number,
  ifindex: number,
  direction: Direction,
  pin?: { unpin(): void },
): HookAttachment {
  const lib = libbpf();
  let open = true;
  return {
    ifindex,
    direction,
    isAttached: () => open && tcxProgramIds(ifindex, direction).includes(progId),
    detach: () => {
      if (!open) return;
      open = false;
      try {
        pin?.unpin();
      } finally {
        lib.close(linkFd);
      }
    },
    release: () => {
      if (!open) return;
      open = false;
      lib.close(linkFd);
    },
  };
}

/** Program ids attached to a tcx hook, first to last ([] when the interface is gone). */
export function tcxProgramIds(ifindex: number, direction: Direction): number[] {
  const { ret, ids } = libbpf().progQuery(ifindex, tcxAttachType(direction), 64);
  return ret === 0 ? ids : [];
}
