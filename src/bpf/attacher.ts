/**
 * How programs get onto an interface's two TC hooks. tcx links and clsact
 * filters differ in everything (what outlives the process, who owns the
 * qdisc, how leftovers are found), so each mode lives behind this one
 * interface and EbpfManager never asks which mode it runs.
 */
import type { AttachMode, Direction } from '../source/counter-source.js';
import type { LinkInfo } from '../net/link-message.js';
import type { PinStore } from './pin-store.js';
import type { HookAttachment } from './tcx-attach.js';

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
