/**
 * The interfaces the TC counters count, followed as links appear, vanish and
 * get renamed: each accepted interface gets its counter entries claimed and
 * both hooks attached (or, in the first pass after a restart, its pinned
 * attachments adopted); a deleted one is detached and its final counts kept
 * for one more read; one that could not be counted is retried when room
 * frees up or on a resync.
 */
import { DIRECTIONS, type CounterRow } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import type { LinkFaults, LinkInfo } from '../../net/link-message.js';
import type { InterfaceFilter } from '../../net/interface-filter.js';
import { isPermissionErrno } from '../../sys/errno.js';
import { BpfCallError } from '../errors.js';
import type { Attacher, DetachReason, InterfaceHooks } from './attacher.js';
import { MapFullError, type Placement } from './counter-table.js';
import type { OpenedCounters } from './open-counters.js';

interface AttachedInterface {
  ifindex: number;
  name: string;
  hooks: InterfaceHooks;
  placement: Placement;
}

/** What CountedInterfaces works with; all of it exists from a successful load until close. */
export interface CountedInterfacesOptions {
  counters: OpenedCounters;
  attacher: Attacher;
  /** The include/exclude filters. */
  accepts: InterfaceFilter;
  logger: Logger;
  /** Called after an interface was attached, detached or renamed. */
  onChange: () => void;
}

export class CountedInterfaces {
  private readonly counters: OpenedCounters;
  private readonly attacher: Attacher;
  private readonly accepts: InterfaceFilter;
  private readonly logger: Logger;
  private readonly onChange: () => void;
  private readonly attached = new Map<number, AttachedInterface>();
  /** Interfaces the filters accept but that could not be counted (map full, attach failed). */
  private readonly uncounted = new Map<number, string>();
  /**
   * Final counts of interfaces deleted since the last read, by ifindex: read
   * just before their entries are cleared, and returned once more by the next
   * read(), so the packets a vanishing pod sent after the last collection
   * still reach its series and its namespace's total.
   */
  private readonly finalRows = new Map<number, CounterRow[]>();
  /** Interfaces whose attachments were taken over from an older object (their old counts carry over). */
  private readonly takenOver = new Set<number>();
  /** During the first pass over the interfaces: pinned attachments are adopted instead of attached. */
  private firstPass = false;
  private closed = false;

  constructor(opts: CountedInterfacesOptions) {
    this.counters = opts.counters;
    this.attacher = opts.attacher;
    this.accepts = opts.accepts;
    this.logger = opts.logger;
    this.onChange = opts.onChange;
  }

  /** Interfaces currently attached and counted. */
  get size(): number {
    return this.attached.size;
  }

  /** Interfaces the filters accept that could not be counted. */
  get uncountedCount(): number {
    return this.uncounted.size;
  }

  has(ifindex: number): boolean {
    return this.attached.has(ifindex);
  }

  /** The counted interfaces, with their current names, in ifindex order. */
  list(): Array<{ ifindex: number; name: string }> {
    return [...this.attached.values()].map(({ ifindex, name }) => ({ ifindex, name })).sort((a, b) => a.ifindex - b.ifindex);
  }

  /** The interfaces present at start: pinned attachments are adopted, the rest attached. */
  attachPresent(links: readonly LinkInfo[]): void {
    this.firstPass = true;
    try {
      for (const link of links) this.linkSeen(link, { initial: true });
    } finally {
      this.firstPass = false;
    }
  }

  /** The interfaces taken over from an older object, with their names; asked once, after the first pass. */
  takeTakenOver(): Array<{ ifindex: number; name: string }> {
    const taken = [...this.takenOver].map((ifindex) => ({ ifindex, name: this.attached.get(ifindex)?.name ?? '' }));
    this.takenOver.clear();
    return taken;
  }

  /** Both directions of every counted interface, then the final counts of those deleted since the last read. */
  read(): CounterRow[] {
    const rows = this.counters.table.read(this.list());
    // A deleted interface's last counts, once; unless its ifindex already counts a new interface.
    for (const [ifindex, finals] of this.finalRows) if (!this.attached.has(ifindex)) rows.push(...finals);
    this.finalRows.clear();
    return rows;
  }

  /** A link exists (dump, RTM_NEWLINK, resync): attach, rename, or detach if the filters now refuse it. */
  linkSeen(link: LinkInfo, opts: { initial?: boolean } = {}): void {
    if (this.closed) return;
    const known = this.attached.get(link.ifindex);
    if (known) {
      if (known.name === link.name) return;
      const oldName = known.name;
      if (!this.accepts(link.name)) {
        this.detach(link.ifindex, 'filtered');
        this.logger.info(
          { ifindex: link.ifindex, from: oldName, to: link.name },
          `interface ${oldName} renamed to ${link.name}, which the filters exclude: detached`,
        );
      } else {
        known.name = link.name;
        this.attacher.renamed(link.ifindex, link.name);
        this.logger.info({ ifindex: link.ifindex, from: oldName, to: link.name }, `interface ${oldName} renamed to ${link.name}`);
      }
      this.onChange();
      return;
    }
    if (!this.accepts(link.name)) {
      this.uncounted.delete(link.ifindex);
      return;
    }
    if (this.uncounted.get(link.ifindex) === link.name && !opts.initial) return; // already tried; a resync retries
    try {
      this.attach(link.ifindex, link.name);
      this.uncounted.delete(link.ifindex);
      this.onChange();
    } catch (e) {
      // Without privileges nothing will ever attach: fail the load instead of logging per interface.
      if (opts.initial && e instanceof BpfCallError && isPermissionErrno(e.errno)) throw e;
      this.uncounted.set(link.ifindex, link.name);
      if (e instanceof MapFullError)
        this.logger.warn(
          { ifindex: link.ifindex, interface: link.name, err: e.message },
          `interface ${link.name} is not counted: the overflow map is full`,
        );
      else
        this.logger.warn(
          { ifindex: link.ifindex, interface: link.name, err: e instanceof Error ? e.message : String(e) },
          `interface ${link.name} could not be attached; skipped`,
        );
    }
  }

  /**
   * RTM_DELLINK: the interface is gone (its tcx links and clsact went with it).
   * `faults`: its final drop and error counters, which the message carries.
   */
  linkGone(ifindex: number, faults?: LinkFaults): void {
    if (this.closed) return;
    this.uncounted.delete(ifindex);
    if (!this.attached.has(ifindex)) {
      this.attacher.forget(ifindex);
      return;
    }
    this.detach(ifindex, 'deleted', faults);
    this.onChange();
    this.retryUncounted();
  }

  /** After missed events: reconcile with the complete list. */
  resync(links: LinkInfo[]): void {
    if (this.closed) return;
    this.logger.warn(
      { interfaces: links.length },
      'interface events were missed (netlink ENOBUFS): resynchronised from a full interface list',
    );
    const present = new Map(links.map((l) => [l.ifindex, l]));
    for (const [ifindex, known] of [...this.attached]) {
      const now = present.get(ifindex);
      // Hooks gone while the ifindex exists again: the interface was re-created; start it from zero.
      if (!now || !known.hooks.hooks.every((h) => h.isAttached())) this.linkGone(ifindex);
    }
    for (const ifindex of [...this.uncounted.keys()]) if (!present.has(ifindex)) this.uncounted.delete(ifindex);
    for (const link of links) {
      if (this.uncounted.get(link.ifindex) === link.name) this.uncounted.delete(link.ifindex); // retry
      this.linkSeen(link);
    }
  }

  /**
   * Stops following. Pinned: the programs stay attached and counting for the
   * next start to adopt (only our fds go). Else every interface is detached
   * and its counter entries deleted.
   */
  close(): void {
    this.closed = true;
    const store = this.counters.store;
    if (store) {
      for (const entry of this.attached.values()) for (const hook of entry.hooks.hooks) hook.release();
      this.attached.clear();
      this.logger.info({ pinned: store.dir }, 'left the eBPF programs attached and counting (pinned)');
    } else {
      for (const ifindex of [...this.attached.keys()]) this.detach(ifindex, 'close');
    }
    this.uncounted.clear();
    this.finalRows.clear();
  }

  /** Room may have freed up (an overflow entry deleted): try the interfaces left uncounted again. */
  private retryUncounted(): void {
    for (const [ifindex, name] of [...this.uncounted]) {
      this.uncounted.delete(ifindex);
      this.linkSeen({ ifindex, name, up: true });
    }
  }

  private attach(ifindex: number, name: string): void {
    const { table } = this.counters;
    const from = this.firstPass ? this.counters.adoptFrom : undefined;
    if (from) {
      const own = from.store === this.counters.store;
      // Entries exist before the programs count into them (an upgrade swaps programs in at once).
      const placement = (own ? table.placement(ifindex) : undefined) ?? table.claim(ifindex);
      let adopted: InterfaceHooks | undefined;
      try {
        adopted = this.attacher.adopt(ifindex, name, from);
      } catch (e) {
        table.release(ifindex);
        throw e;
      }
      if (adopted) {
        if (!own) this.takenOver.add(ifindex);
        this.attached.set(ifindex, { ifindex, name, hooks: adopted, placement });
        this.logger.debug({ ifindex, interface: name, placement }, `adopted the pinned attachments of ${name}`);
        return;
      }
      // Nothing live to adopt (the interface is new, or its ifindex was reused): stale pins go, counting starts at zero.
      for (const direction of DIRECTIONS) from.store.unpinLink(ifindex, direction);
    }
    const placement = table.claim(ifindex);
    let hooks: InterfaceHooks;
    try {
      hooks = this.attacher.attach(ifindex, name);
    } catch (e) {
      table.release(ifindex);
      throw e;
    }
    this.attached.set(ifindex, { ifindex, name, hooks, placement });
    this.logger.debug({ ifindex, interface: name, attachMode: this.attacher.mode, placement }, `attached to ${name}`);
  }

  private detach(ifindex: number, reason: DetachReason, faults?: LinkFaults): void {
    const entry = this.attached.get(ifindex);
    if (!entry) return;
    this.attached.delete(ifindex);
    this.attacher.detach(ifindex, entry.name, entry.hooks, reason);
    if (reason === 'deleted') {
      try {
        const finals = this.counters.table.readOne(ifindex, entry.name);
        if (faults) for (const row of finals) row.faults = faults;
        this.finalRows.set(ifindex, finals);
      } catch (e) {
        this.logger.warn({ ifindex, err: e instanceof Error ? e.message : String(e) }, `reading the final counts of ${entry.name} failed`);
      }
    }
    try {
      this.counters.table.release(ifindex);
    } catch (e) {
      this.logger.warn({ ifindex, err: e instanceof Error ? e.message : String(e) }, `deleting the counters of ${entry.name} failed`);
    }
    this.logger.debug({ ifindex, interface: entry.name, reason }, `detached from ${entry.name}`);
  }
}
