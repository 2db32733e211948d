/**
 * How programs get onto an interface's two TC hooks. tcx links and clsact
 * filters differ in everything (what outlives the process, who owns the
 * qdisc, how leftovers are found), so each mode lives behind this one
 * interface, created once by `attacherFor`, and nothing else asks which mode
 * it runs.
 */
import type { AttachMode, Direction } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import type { LinkInfo } from '../../net/link-message.js';
import type { NetlinkSocket } from '../../net/netlink-socket.js';
import { PROG_EGRESS, PROG_INGRESS } from '../abi.js';
import type { PinStore } from '../pin-store.js';
import { ClsactAttacher } from './clsact-attacher.js';
import { OwnedQdiscs } from './clsact-qdiscs.js';
import { ClsactOwnership } from './clsact-state.js';
import type { HookAttachment } from './tcx-attach.js';
import { TcxAttacher } from './tcx-attacher.js';

/** Program names that mark an attachment as netprobe's. */
export const OUR_PROGRAMS = [PROG_INGRESS, PROG_EGRESS] as const;

/** The loaded programs, one per direction. */
export type Programs = Readonly<Record<Direction, { fd: number; id: number }>>;

/** Why an interface is detached: it was deleted, the filters now refuse it, or the manager closes. */
export type DetachReason = 'deleted' | 'filtered' | 'close';

/** Both hooks of one interface, as one attacher attached them. */
export interface InterfaceHooks {
  readonly hooks: readonly HookAttachment[];
}

/** Attachments a netprobe left behind on purpose: its pin directory and its programs. */
export interface Predecessor {
  readonly store: PinStore;
  readonly programIds: Readonly<Record<Direction, number>>;
}

export interface Attacher {
  readonly mode: AttachMode;
  /** Called once with every interface present at start (before any attach). */
  start(links: readonly LinkInfo[]): void;
  /** Attaches both directions; on failure throws and leaves nothing of this call attached. */
  attach(ifindex: number, name: string): InterfaceHooks;
  /**
   * Takes over both hooks of an interface as `from` left them attached,
   * without a moment uncounted: as they are when `from` ran these programs,
   * else by swapping in these programs atomically. Undefined when `from` has
   * no live attachment on both hooks of this ifindex (then nothing changed).
   */
  adopt(ifindex: number, name: string, from: Predecessor): InterfaceHooks | undefined;
  /** The interface keeps its ifindex under a new name. */
  renamed(ifindex: number, name: string): void;
  /** Detaches both hooks (best effort; problems go to the log). */
  detach(ifindex: number, name: string, hooks: InterfaceHooks, reason: DetachReason): void;
  /** An interface this attacher never attached (or already detached) was deleted. */
  forget(ifindex: number): void;
  /** Releases sockets; attachments are detached before, one by one. */
  close(): void;
}

/** What `attacherFor` needs: the mode picked once, the programs, and with a pin path the store links are pinned in. */
export interface AttacherOptions {
  mode: AttachMode;
  programs: Programs;
  store?: PinStore;
  /** The rtnetlink socket for qdiscs and filters; the attacher owns it from now on. */
  tcSocket: NetlinkSocket;
  netnsCookie: bigint | undefined;
  /** Where clsact qdisc ownership survives a SIGKILL. */
  stateDir: string;
  logger: Logger;
}

/** The attach mode was picked once; from then on only the attacher knows it. */
export function attacherFor(opts: AttacherOptions): Attacher {
  const ownership = ClsactOwnership.forCurrentNetns(opts.logger, opts.netnsCookie, opts.stateDir);
  const qdiscs = new OwnedQdiscs(opts.tcSocket, ownership, opts.logger);
  return opts.mode === 'tc'
    ? new ClsactAttacher(opts.programs, OUR_PROGRAMS, qdiscs, opts.logger)
    : new TcxAttacher(opts.programs, OUR_PROGRAMS, qdiscs, opts.logger, opts.store);
}
