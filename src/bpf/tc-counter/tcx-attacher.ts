/**
 * The tcx attach mode (Linux 6.6+): one bpf_link per hook, first in the
 * chain. Links die with their fd, so a SIGKILLed predecessor leaves nothing;
 * only a clsact filter of a predecessor that ran in tc mode can be left, and
 * it would keep counting unseen beside the link, so it is removed first.
 */
import { DIRECTIONS } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import type { LinkInfo } from '../../net/link-message.js';
import type { Attacher, DetachReason, InterfaceHooks, Predecessor, Programs } from './attacher.js';
import { removeLeftoverClsactFilter } from './clsact-attach.js';
import type { OwnedQdiscs } from './clsact-qdiscs.js';
import type { PinStore } from '../pin-store.js';
import { BPF_LINK_TYPE_TCX, linkInfo } from '../pinned-objects.js';
import { attachTcx, tcxLinkHook, type HookAttachment } from './tcx-attach.js';
import { callError } from '../errors.js';
import { libbpf } from '../../sys/libbpf.js';
import type { Direction } from '../../source/counter-source.js';

export class TcxAttacher implements Attacher {
  readonly mode = 'tcx' as const;

  constructor(
    private readonly programs: Programs,
    /** Program names that mark a clsact filter as a netprobe leftover. */
    private readonly ourPrograms: readonly string[],
    private readonly qdiscs: OwnedQdiscs,
    private readonly logger: Logger,
    /** With a pin path: every link is pinned here, so it outlives the process. */
    private readonly pins?: PinStore,
  ) {}

  start(links: readonly LinkInfo[]): void {
    this.qdiscs.prune(links);
  }

  attach(ifindex: number, name: string): InterfaceHooks {
    this.removeLeftoverFilters(ifindex, name);
    const hooks: HookAttachment[] = [];
    try {
      for (const direction of DIRECTIONS) {
        const prog = this.programs[direction];
        hooks.push(attachTcx(prog.fd, prog.id, ifindex, name, direction, this.pinOf(ifindex, direction)));
      }
    } catch (e) {
      for (const hook of hooks) hook.detach();
      throw e;
    }
    return { hooks };
  }

  adopt(ifindex: number, _name: string, from: Predecessor): InterfaceHooks | undefined {
    const own = this.pins;
    if (!own) return undefined;
    const lib = libbpf();
    const opened: Array<{ direction: Direction; fd: number }> = [];
    let live = true;
    for (const direction of DIRECTIONS) {
      const fd = from.store.openLink(ifindex, direction);
      if (fd === undefined) {
        live = false;
        break;
      }
      opened.push({ direction, fd });
      const info = linkInfo(fd);
      // A link whose interface is gone reports ifindex 0; a reused ifindex must start from zero.
      if (!info || info.type !== BPF_LINK_TYPE_TCX || info.ifindex !== ifindex || info.progId !== from.programIds[direction]) {
        live = false;
        break;
      }
    }
    if (!live) {
      for (const o of opened) lib.close(o.fd);
      return undefined;
    }
    const hooks: HookAttachment[] = [];
    for (const { direction, fd } of opened) {
      const prog = this.programs[direction];
      if (from.store !== own) {
        // An upgrade: the link stays, its program is swapped in one step (no packet seen twice or not at all).
        const ret = lib.linkUpdate(fd, prog.fd);
        if (ret < 0) {
          for (const o of opened) lib.close(o.fd);
          throw callError(`swap the program of the tcx ${direction} link of ifindex ${ifindex}`, -ret);
        }
        own.adoptLinkPin(from.store, ifindex, direction);
      }
      hooks.push(tcxLinkHook(fd, prog.id, ifindex, direction, this.pinOf(ifindex, direction)));
    }
    return { hooks };
  }

  renamed(): void {}

  private pinOf(ifindex: number, direction: Direction): { pin(fd: number): void; unpin(): void } | undefined {
    const pins = this.pins;
    if (!pins) return undefined;
    return { pin: (fd) => pins.pinLink(fd, ifindex, direction), unpin: () => pins.unpinLink(ifindex, direction) };
  }

  detach(ifindex: number, name: string, attached: InterfaceHooks, reason: DetachReason): void {
    detachHooks(attached.hooks, ifindex, name, this.logger);
    if (reason === 'deleted') this.qdiscs.ownership.forget(ifindex);
  }

  forget(ifindex: number): void {
    this.qdiscs.ownership.forget(ifindex);
  }

  close(): void {
    this.qdiscs.close();
  }

  private removeLeftoverFilters(ifindex: number, name: string): void {
    let removed = false;
    for (const direction of DIRECTIONS) {
      if (removeLeftoverClsactFilter(ifindex, direction, this.ourPrograms)) {
        removed = true;
        this.logger.info(
          { ifindex, interface: name, direction },
          `removed the clsact filter a previous netprobe left on ${name} ${direction}`,
        );
      }
    }
    if (removed && this.qdiscs.ownership.owns(ifindex, name)) this.qdiscs.dropIfEmpty(ifindex, name);
  }
}

/** Detaches every hook; a failure is logged and the others are still detached. */
export function detachHooks(hooks: readonly HookAttachment[], ifindex: number, name: string, logger: Logger): void {
  for (const hook of hooks) {
    try {
      hook.detach();
    } catch (e) {
      logger.warn({ ifindex, interface: name, err: e instanceof Error ? e.message : String(e) }, `detaching from ${name} failed`);
    }
  }
}
