/**
 * Which TC programs run before netprobe's on an interface's hook: the tcx
 * chain runs first (in chain order), then the clsact filters (by priority,
 * then handle). A program before ours can redirect or drop a packet that our
 * counters then never see (Cilium's bpf_redirect_peer on the uplink), so the
 * exporter names them. Ordering is pure (`precedingPrograms`); the kernel
 * query is apart (`readPrecedingPrograms`).
 */
import { DIRECTIONS, type Direction } from '../../source/counter-source.js';
import { NetlinkSocket } from '../../net/netlink-socket.js';
import { CLSACT_EGRESS_PARENT, CLSACT_INGRESS_PARENT, listFilters } from '../../net/tc-filter-dump.js';
import { BPF_TC_EGRESS, BPF_TC_INGRESS, libbpf } from '../../sys/libbpf.js';
import { programName } from '../prog-info.js';
import { tcxProgramIds } from './tcx-attach.js';

/** One program that runs before netprobe's on a hook. */
export interface PrecedingProgram {
  ifindex: number;
  direction: Direction;
  /** 0 = first on the hook. */
  position: number;
  /** 0 for a clsact filter that is not a BPF program. */
  progId: number;
  /** The kernel's name of the program (at most 15 bytes); '' when unknown. */
  progName: string;
}

/** What runs on one hook, as read from the kernel. */
export interface HookPrograms {
  ifindex: number;
  direction: Direction;
  /** The tcx chain, first to last. */
  tcx: ReadonlyArray<{ progId: number; progName: string }>;
  /** The clsact filters, in any order. */
  clsact: ReadonlyArray<{ priority: number; handle: number; progId: number; progName: string }>;
}

/** The programs before the first of ours on the hook; [] when none of ours is there. Pure. */
export function precedingPrograms(hook: HookPrograms, isOurs: (progName: string) => boolean): PrecedingProgram[] {
  const clsact = [...hook.clsact].sort((a, b) => a.priority - b.priority || a.handle - b.handle);
  const chain = [...hook.tcx, ...clsact];
  const ours = chain.findIndex((p) => isOurs(p.progName));
  if (ours < 0) return [];
  return chain
    .slice(0, ours)
    .map((p, position) => ({ ifindex: hook.ifindex, direction: hook.direction, position, progId: p.progId, progName: p.progName }));
}

/** Reads both hooks of each interface (in the caller's network namespace). */
export function readHookPrograms(ifindexes: readonly number[]): HookPrograms[] {
  const sock = NetlinkSocket.open({ receiveTimeoutMs: 5_000 });
  const lib = libbpf();
  try {
    const out: HookPrograms[] = [];
    for (const ifindex of ifindexes) {
      for (const direction of DIRECTIONS) {
        const tcx = tcxProgramIds(ifindex, direction).map((progId) => ({ progId, progName: programName(progId) ?? '' }));
        const point = direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS;
        let filters: ReturnType<typeof listFilters> = [];
        try {
          filters = listFilters(sock, ifindex, direction === 'ingress' ? CLSACT_INGRESS_PARENT : CLSACT_EGRESS_PARENT);
        } catch {
          // No clsact qdisc (or the interface just went away): no filters.
        }
        const clsact = filters.map((f) => {
          const q = lib.tcQuery(ifindex, point, f.handle, f.priority);
          const progId = q.ret === 0 ? q.progId : 0;
          return { priority: f.priority, handle: f.handle, progId, progName: progId === 0 ? '' : (programName(progId) ?? '') };
        });
        out.push({ ifindex, direction, tcx, clsact });
      }
    }
    return out;
  } finally {
    sock.close();
  }
}

/** For each interface and hook, the TC programs that run before the first program `isOurs` names. */
export function readPrecedingPrograms(ifindexes: readonly number[], isOurs: (progName: string) => boolean): PrecedingProgram[] {
  return readHookPrograms(ifindexes).flatMap((hook) => precedingPrograms(hook, isOurs));
}
