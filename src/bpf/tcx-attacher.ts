/**
 * The tcx attach mode (Linux 6.6+): one bpf_link per hook, first in the
 * chain. Links die with their fd, so a SIGKILLed predecessor leaves nothing;
 * only a clsact filter of a predecessor that ran in tc mode can be left, and
 * it would keep counting unseen beside the link, so it is removed first.
 */
import { DIRECTIONS } from '../source/counter-source.js';
import type { Logger } from '../log/logger.js';
import type { LinkInfo } from '../net/link-message.js';
import type { Attacher, DetachReason, InterfaceHooks, Programs } from './attacher.js';
import { removeLeftoverClsactFilter } from './clsact-attach.js';
import type { OwnedQdiscs } from './clsact-qdiscs.js';
import { attachTcx, type HookAttachment } from './tcx-attach.js';

export class TcxAttacher implements Attacher {
  readonly mode = 'tcx' as const;

  constructor(
    private readonly programs: Programs,
    /** Program names that mark a clsact filter as a netprobe leftover. */
    private readonly ourPrograms: readonly string[],
    private readonly qdiscs: OwnedQdiscs,
    private readonly logger: Logger,
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
        hooks.push(attachTcx(prog.fd, prog.id, ifindex, name, direction));
      }
    } catch (e) {
      for (const hook of hooks) hook.detach();
      throw e;
    }
    return { hooks };
  }

  renamed(): void {}

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
