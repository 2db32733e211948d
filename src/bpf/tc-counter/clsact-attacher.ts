/**
 * The clsact + cls_bpf attach mode (kernels before 6.6, or by choice).
 * Filters outlive the process, so this attacher also keeps track of which
 * clsact qdiscs netprobe created (ClsactOwnership, a file under /run that
 * survives a SIGKILL) and deletes only those, and only once empty.
 */
import { DIRECTIONS } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import type { LinkInfo } from '../../net/link-message.js';
import type { Attacher, DetachReason, InterfaceHooks, Predecessor, Programs } from './attacher.js';
import { attachClsact, clsactFilterHook, ensureClsact, ourFilterProgramId } from './clsact-attach.js';
import type { OwnedQdiscs } from './clsact-qdiscs.js';
import type { HookAttachment } from './tcx-attach.js';
import { detachHooks } from './tcx-attacher.js';

interface ClsactHooks extends InterfaceHooks {
  /** The clsact qdisc was created by netprobe (this process or a proven predecessor). */
  readonly ownsClsact: boolean;
}

export class ClsactAttacher implements Attacher {
  readonly mode = 'tc' as const;
  private readonly owned = new Set<number>();

  constructor(
    private readonly programs: Programs,
    private readonly ourPrograms: readonly string[],
    private readonly qdiscs: OwnedQdiscs,
    private readonly logger: Logger,
  ) {}

  private get ownership(): OwnedQdiscs['ownership'] {
    return this.qdiscs.ownership;
  }

  start(links: readonly LinkInfo[]): void {
    this.qdiscs.prune(links);
  }

  attach(ifindex: number, name: string): ClsactHooks {
    // Intent is recorded before the qdisc is created: a SIGKILL right
    // after creation must not leave a qdisc no later run can prove is ours.
    const provenOurs = this.ownership.owns(ifindex, name);
    if (!provenOurs) this.ownership.record(ifindex, name);
    let created: boolean;
    try {
      created = ensureClsact(ifindex, name);
    } catch (e) {
      if (!provenOurs) this.ownership.forget(ifindex);
      throw e;
    }
    if (!created && !provenOurs) this.ownership.forget(ifindex);
    const ownsClsact = created || provenOurs;
    const hooks: HookAttachment[] = [];
    try {
      for (const direction of DIRECTIONS) {
        const prog = this.programs[direction];
        const hook = attachClsact(prog.fd, prog.id, ifindex, name, direction, this.ourPrograms);
        hooks.push(hook);
        if (hook.replacedLeftover)
          this.logger.info(
            { ifindex, interface: name, direction },
            `replaced the clsact filter a previous netprobe left on ${name} ${direction}`,
          );
      }
    } catch (e) {
      for (const hook of hooks) hook.detach();
      if (ownsClsact) this.dropClsactIfEmpty(ifindex, name);
      throw e;
    }
    if (ownsClsact) this.owned.add(ifindex);
    return { hooks, ownsClsact };
  }

  adopt(ifindex: number, name: string, from: Predecessor): ClsactHooks | undefined {
    if (!DIRECTIONS.every((d) => ourFilterProgramId(ifindex, d) === from.programIds[d])) return undefined;
    const ownsClsact = this.ownership.owns(ifindex, name);
    const hooks: HookAttachment[] = [];
    for (const direction of DIRECTIONS) {
      const prog = this.programs[direction];
      // Same programs: the filter stays as it is. Others: replaced in one step (same handle and priority).
      hooks.push(
        from.programIds[direction] === prog.id
          ? clsactFilterHook(prog.id, ifindex, direction)
          : attachClsact(prog.fd, prog.id, ifindex, name, direction, this.ourPrograms),
      );
    }
    if (ownsClsact) this.owned.add(ifindex);
    return { hooks, ownsClsact };
  }

  renamed(ifindex: number, name: string): void {
    if (this.owned.has(ifindex)) this.ownership.record(ifindex, name);
  }

  detach(ifindex: number, name: string, attached: InterfaceHooks, reason: DetachReason): void {
    detachHooks(attached.hooks, ifindex, name, this.logger);
    const owns = this.owned.delete(ifindex);
    if (reason === 'deleted') this.ownership.forget(ifindex);
    else if (owns) this.dropClsactIfEmpty(ifindex, name);
  }

  forget(ifindex: number): void {
    this.owned.delete(ifindex);
    this.ownership.forget(ifindex);
  }

  close(): void {
    this.qdiscs.close();
  }

  private dropClsactIfEmpty(ifindex: number, name: string): void {
    this.qdiscs.dropIfEmpty(ifindex, name);
  }
}
