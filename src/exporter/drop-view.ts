/**
 * Drops by reason as the exporter runs them: the drop meter, the node's
 * processes and cgroups that name its namespaces (drop-pods.ts), the state
 * kept across collections and (with pins) across restarts, and what `/`
 * and /metrics show of it. A failure is logged once per distinct message;
 * everything else goes on.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { decodeDropState, encodeDropState } from '../collector/drop-carry-over-record.js';
import {
  advanceDropCollection,
  carriedDropState,
  restoredDropState,
  type DropPodLookup,
  type DropRules,
  type DropState,
  type DropStep,
} from '../collector/drop-state.js';
import type { DropExposition } from '../exposition/drop-families.js';
import type { OverviewDrops } from '../exposition/overview-document.js';
import type { DropCounterSource } from '../source/drop-counter-source.js';

/** Not a real drop often enough (plain kfree_skb) that it is kept out of the page's and the rules' drop share. */
export const NOISY_REASON = 'not_specified';
/** A key in a namespace no pod is known for yet waits this long for its pod (a drop while the pod starts). */
export const DROP_POD_GRACE_MS = 30_000;

export interface DropViewOptions {
  departedRetentionMs: number;
  maxSeries: number;
  logger: Logger;
  /** Whether pods are attributed (`--collector.pods`); without, every drop has empty pod labels. */
  lookup: DropPodLookup | undefined;
  /** The node namespace's device ifindexes now (undefined: unknown); the drops of devices gone are retired. */
  nodeDevices?: () => ReadonlySet<number> | undefined;
  /** Monotonic ms (for tests). */
  now?: () => number;
}

/** A lookup that knows no pod (`--collector.pods` off). */
const NO_PODS: DropPodLookup = {
  newCollection: () => undefined,
  podOfNetns: () => undefined,
  netnsAlive: () => true,
  podOfCgroup: () => undefined,
  podAlive: () => false,
};

export class DropView {
  private state: DropState | undefined;
  private last: Omit<DropStep, 'state' | 'forget'> | undefined;
  private stats: Record<string, bigint> = {};
  private lastError: string | undefined;
  private savedBytes: Uint8Array | undefined;
  private saveFailed = false;
  private readonly rules: DropRules;
  private readonly now: () => number;

  constructor(
    private readonly meter: DropCounterSource,
    private readonly opts: DropViewOptions,
  ) {
    this.rules = {
      hostNetnsInode: meter.hostNetnsInode,
      departedRetentionMs: opts.departedRetentionMs,
      podGraceMs: opts.lookup ? DROP_POD_GRACE_MS : 0,
      maxSeries: opts.maxSeries,
    };
    this.now = opts.now ?? (() => performance.now());
  }

  /** Continues the previous run's drop totals (with pins). */
  restore(): void {
    const bytes = this.meter.carryOver?.read();
    if (!bytes || bytes.length === 0) return;
    try {
      const carried = decodeDropState(bytes);
      this.state = restoredDropState(carried, this.now());
      this.savedBytes = bytes;
      this.opts.logger.info(
        { keys: carried.keys.length, buckets: carried.buckets.length },
        'continuing the drop totals of the previous run',
      );
    } catch (error) {
      this.opts.logger.warn(
        { err: error },
        `the carried-over drop state cannot be used (${error instanceof Error ? error.message : String(error)}): drop totals start again`,
      );
    }
  }

  /** Reads the meter once; a failure is logged and the last totals stay (the gauge and the log say so). */
  collect(): void {
    try {
      const rows = this.meter.readDropCounters();
      const stats = this.meter.readSourceStats();
      // Read after the counters: a device that dropped is in the list unless it is gone since.
      const devices = this.opts.nodeDevices?.();
      const step = advanceDropCollection(this.state, rows, this.now(), this.rules, this.opts.lookup ?? NO_PODS, {
        devices,
        take: (gone) => this.meter.takeEntries(gone),
      });
      this.state = step.state;
      if (step.forget.length > 0) this.meter.forgetNamespaces(step.forget);
      this.last = { drops: step.drops, namespaces: step.namespaces, overflowPackets: step.overflowPackets };
      this.stats = stats;
      if (this.lastError) this.opts.logger.info('drop counters are read again');
      this.lastError = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastError) this.opts.logger.error({ err: error }, 'reading the drop counters failed');
      this.lastError = message;
    }
  }

  exposition(): DropExposition {
    return {
      active: this.lastError === undefined && this.last !== undefined,
      drops: this.last?.drops ?? [],
      namespaces: this.last?.namespaces ?? [],
      overflowPackets: this.last?.overflowPackets ?? 0n,
      recursionMisses: this.stats.recursion_misses ?? 0n,
      mapFull: this.stats.map_full ?? 0n,
    };
  }

  /** What `/` and `netprobe top` show: totals by reason, and per pod without `not_specified`. */
  overview(): OverviewDrops {
    const byReason = new Map<string, bigint>();
    const pods = new Map<string, { namespace: string; pod: string; packets: bigint }>();
    for (const d of this.last?.drops ?? []) {
      byReason.set(d.reason, (byReason.get(d.reason) ?? 0n) + d.packets);
      if (!d.pod || d.reason === NOISY_REASON) continue;
      const key = `${d.namespace}/${d.pod}`;
      const p = pods.get(key) ?? { namespace: d.namespace, pod: d.pod, packets: 0n };
      p.packets += d.packets;
      pods.set(key, p);
    }
    const problem = this.problem();
    return {
      active: this.exposition().active,
      ...(problem ? { problem } : {}),
      byReason: [...byReason].map(([reason, packets]) => ({ reason, packets: Number(packets) })).sort((a, b) => b.packets - a.packets),
      pods: [...pods.values()].map((p) => ({ ...p, packets: Number(p.packets) })),
    };
  }

  /** Why drops are not read now (undefined when they are). */
  problem(): string | undefined {
    return this.lastError && `reading the drop counters failed: ${this.lastError}`;
  }

  /**
   * Writes what the next run continues from (with pins); a failure is logged
   * once and the record emptied (a next run that continued from a stale one
   * would export totals below what Prometheus already saw).
   */
  save(): void {
    const store = this.meter.carryOver;
    if (!store || !this.state || this.lastError) return;
    try {
      const bytes = encodeDropState(carriedDropState(this.state));
      if (this.savedBytes && Buffer.compare(bytes, this.savedBytes) === 0) return;
      if (bytes.length > store.capacity) throw new Error(`the drop state needs ${bytes.length} bytes; the record holds ${store.capacity}`);
      store.write(bytes);
      this.savedBytes = bytes;
      this.saveFailed = false;
    } catch (error) {
      if (!this.saveFailed) {
        this.opts.logger.warn(
          { err: error },
          `cannot save the drop state for the next run (${error instanceof Error ? error.message : String(error)}): after a restart the drop totals start again`,
        );
        try {
          store.write(new Uint8Array(0));
          this.savedBytes = undefined;
        } catch {
          // The same map failed a moment ago; the warning above already says what follows.
        }
      }
      this.saveFailed = true;
    }
  }
}
