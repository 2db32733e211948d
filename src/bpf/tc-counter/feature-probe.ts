/**
 * Which attach mode the kernel supports, found without attaching anything:
 * a tcx link request on ifindex 0 fails with ENODEV where tcx exists (the
 * kernel got as far as looking the device up) and EINVAL where the attach
 * type is unknown (before 6.6).
 */
import { constants as os } from 'node:os';
import type { Logger } from '../../log/logger.js';
import { callError, describeErrno } from '../errors.js';
import { BPF_TCX_INGRESS, libbpf } from '../../sys/libbpf.js';

export type TcxSupport = { supported: true } | { supported: false; reason: string };

export function probeTcx(progFd: number): TcxSupport {
  const lib = libbpf();
  const ret = lib.linkCreate(progFd, 0, BPF_TCX_INGRESS, 0);
  if (ret >= 0) {
    lib.close(ret); // cannot happen (ifindex 0 is no device), but never leak a link
    return { supported: true };
  }
  const errno = -ret;
  if (errno === os.errno.ENODEV) return { supported: true };
  if (errno === os.errno.EINVAL) return { supported: false, reason: `the kernel rejects the tcx attach type: ${describeErrno(errno)}` };
  throw callError('probe for tcx support (bpf_link_create on ifindex 0)', errno);
}

/** Picks the attach mode for `auto|tcx|tc`, logging what `auto` chose and why. */
export function chooseAttachMode(
  requested: 'auto' | 'tcx' | 'tc',
  progFd: number,
  logger: Logger,
): { mode: 'tcx' | 'tc'; tcx: TcxSupport } {
  if (requested === 'tc') return { mode: 'tc', tcx: { supported: false, reason: 'not probed (attach mode tc)' } };
  const tcx = probeTcx(progFd);
  if (requested === 'tcx') return { mode: 'tcx', tcx };
  if (tcx.supported) logger.info({ attachMode: 'tcx' }, 'attach mode auto: the kernel has tcx links, using tcx');
  else
    logger.info(
      { attachMode: 'tc', reason: tcx.reason },
      'attach mode auto: no tcx links on this kernel (Linux 6.6+ has them), using clsact + cls_bpf',
    );
  return { mode: tcx.supported ? 'tcx' : 'tc', tcx };
}
