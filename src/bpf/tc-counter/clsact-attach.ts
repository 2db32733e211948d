/**
 * The clsact + cls_bpf attach mode (kernels before 6.6, or by choice).
 *
 * Our filter has a fixed handle and priority, so a restart finds what a
 * SIGKILLed predecessor left (clsact filters outlive their process) and
 * replaces it instead of adding a second one. Before replacing, the
 * program's name proves it is netprobe's: someone else's filter at our
 * handle and priority is never touched.
 *
 * Priority 1 runs before filters added with the default priority (49152)
 * and beside Cilium's (also priority 1; cls_bpf then runs both, and our
 * TC_ACT_UNSPEC lets the packet go on to theirs).
 *
 * Deleting a clsact qdisc deletes every filter on it, so we delete only a
 * qdisc netprobe created, and only when no filter is left on it.
 */
import { constants as os } from 'node:os';
import type { Direction } from '../../source/counter-source.js';
import { NetprobeError } from '../../errors/index.js';
import { CLSACT_EGRESS_PARENT, CLSACT_INGRESS_PARENT, listFilters } from '../../net/tc-filter-dump.js';
import type { NetlinkSocket } from '../../net/netlink-socket.js';
import { callError } from '../errors.js';
import { BPF_TC_EGRESS, BPF_TC_F_REPLACE, BPF_TC_INGRESS, libbpf } from '../../sys/libbpf.js';
import { programName } from '../prog-info.js';
import { hookName, type HookAttachment } from './tcx-attach.js';

/** 0x4e50 = "NP": distinctive in `tc filter show` output. */
export const NETPROBE_TC_HANDLE = 0x4e50;
export const NETPROBE_TC_PRIORITY = 1;

const { EEXIST, ENOENT, ENODEV, EINVAL } = os.errno;

function attachPoint(direction: Direction): number {
  return direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

/** Our handle and priority are held by a filter that is not netprobe's. */
export class ForeignFilterError extends NetprobeError {
  constructor(where: string, holder: string) {
    super(
      'NP_ERR_TC_HANDLE_TAKEN',
      `attach to ${where}: handle 0x${NETPROBE_TC_HANDLE.toString(16)} priority ${NETPROBE_TC_PRIORITY} is held by another program (${holder}); left it alone`,
    );
    this.name = 'ForeignFilterError';
  }
}

/** Creates the clsact qdisc if missing. True when this call created it. */
export function ensureClsact(ifindex: number, ifname: string): boolean {
  const ret = libbpf().tcHookCreate(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
  if (ret === 0) return true;
  if (ret === -EEXIST) return false;
  throw callError(`create the clsact qdisc of ${ifname} (ifindex ${ifindex})`, -ret);
}

/** The program at our handle/priority on a hook: its id and name, or undefined. */
function ourSlotHolder(ifindex: number, direction: Direction): { id: number; name: string | undefined } | undefined {
  const q = libbpf().tcQuery(ifindex, attachPoint(direction), NETPROBE_TC_HANDLE, NETPROBE_TC_PRIORITY);
  if (q.ret === -ENOENT || q.ret === -ENODEV || q.ret === -EINVAL) return undefined;
  if (q.ret < 0) throw callError(`query the clsact ${direction} filter of ifindex ${ifindex}`, -q.ret);
  return { id: q.progId, name: programName(q.progId) };
}

/**
 * Attaches `progFd` as our cls_bpf filter (direct-action). A leftover
 * netprobe filter (a program named one of `ourNames`) is replaced; anything
 * else there raises ForeignFilterError. `replacedLeftover` says which.
 */
export function attachClsact(
  progFd: number,
  progId: number,
  ifindex: number,
  ifname: string,
  direction: Direction,
  ourNames: readonly string[],
): HookAttachment & { replacedLeftover: boolean } {
  const lib = libbpf();
  const where = hookName('tc', direction, ifname, ifindex);
  const holder = ourSlotHolder(ifindex, direction);
  if (holder && !(holder.name !== undefined && ourNames.includes(holder.name))) {
    throw new ForeignFilterError(where, `${holder.name ?? 'unknown'}, id ${holder.id}`);
  }
  const r = lib.tcAttach(ifindex, attachPoint(direction), {
    progFd,
    handle: NETPROBE_TC_HANDLE,
    priority: NETPROBE_TC_PRIORITY,
    flags: holder ? BPF_TC_F_REPLACE : 0,
  });
  if (r.ret < 0) throw callError(`attach to ${where}`, -r.ret);
  return { ...clsactFilterHook(progId, ifindex, direction), replacedLeftover: holder !== undefined };
}

/** A HookAttachment for our filter on a hook (attached now, or found attached with `progId`). */
export function clsactFilterHook(progId: number, ifindex: number, direction: Direction): HookAttachment {
  let attached = true;
  return {
    ifindex,
    direction,
    isAttached: () => attached && ourSlotHolder(ifindex, direction)?.id === progId,
    detach: () => {
      if (!attached) return;
      attached = false;
      detachOurFilter(ifindex, direction);
    },
    release: () => {
      attached = false;
    },
  };
}

/** The id of the program at our handle/priority on a hook, or undefined. */
export function ourFilterProgramId(ifindex: number, direction: Direction): number | undefined {
  return ourSlotHolder(ifindex, direction)?.id;
}

/** Removes our filter from a hook if `progIds` holds its program. True when removed. */
export function removeFilterOf(ifindex: number, direction: Direction, progIds: readonly number[]): boolean {
  const holder = ourSlotHolder(ifindex, direction);
  if (!holder || !progIds.includes(holder.id)) return false;
  detachOurFilter(ifindex, direction);
  return true;
}

/** Removes the filter at our handle/priority; an interface that is gone has nothing left to remove. */
function detachOurFilter(ifindex: number, direction: Direction): void {
  const ret = libbpf().tcDetach(ifindex, attachPoint(direction), NETPROBE_TC_HANDLE, NETPROBE_TC_PRIORITY);
  if (ret < 0 && ret !== -ENOENT && ret !== -ENODEV && ret !== -EINVAL) {
    throw callError(`detach from tc ${direction} of ifindex ${ifindex}`, -ret);
  }
}

/**
 * Removes a netprobe filter a predecessor left on a hook (used in tcx mode,
 * where the clsact filter would otherwise keep running beside the link).
 * True when one was removed.
 */
export function removeLeftoverClsactFilter(ifindex: number, direction: Direction, ourNames: readonly string[]): boolean {
  const holder = ourSlotHolder(ifindex, direction);
  if (!holder || holder.name === undefined || !ourNames.includes(holder.name)) return false;
  detachOurFilter(ifindex, direction);
  return true;
}

/** Deletes the clsact qdisc of `ifindex` if no filter is left on either hook. True when deleted. */
export function destroyClsactIfEmpty(sock: NetlinkSocket, ifindex: number, ifname: string): boolean {
  const left = [...listFilters(sock, ifindex, CLSACT_INGRESS_PARENT), ...listFilters(sock, ifindex, CLSACT_EGRESS_PARENT)];
  if (left.length > 0) return false;
  const ret = libbpf().tcHookDestroy(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
  if (ret < 0 && ret !== -ENOENT && ret !== -ENODEV && ret !== -EINVAL) {
    throw callError(`delete the clsact qdisc of ${ifname} (ifindex ${ifindex})`, -ret);
  }
  return ret === 0;
}
