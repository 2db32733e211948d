/**
 * The I/O half of a collection: reads every counter from the source in one
 * batch and hands the rows to the pure `advanceCollection`. A failed read
 * keeps the previous state, so the first good read after it computes rates
 * over the whole gap instead of inventing a zero.
 */
import { performance } from 'node:perf_hooks';
import type { CounterSource } from '../source/counter-source.js';
import {
  advanceCollection,
  carriedState,
  restoredState,
  type CarriedState,
  type CollectionRules,
  type CollectionState,
  type PodLookup,
} from './collection-state.js';
import type { InterfaceSample, NamespaceTotals } from './interface-sample.js';

export type CollectionOutcome =
  | {
      ok: true;
      samples: InterfaceSample[];
      /** Per-namespace totals (empty without a pod lookup). */
      namespaces: NamespaceTotals[];
      sourceStats: Record<string, bigint>;
      durationSeconds: number;
      wallTimeMs: number;
    }
  | { ok: false; error: unknown; durationSeconds: number; wallTimeMs: number };

export class Collector {
  private state: CollectionState | undefined;

  constructor(
    private readonly source: CounterSource,
    private readonly rules: CollectionRules,
    /** Monotonic milliseconds; injectable for tests. */
    private readonly monotonicNow: () => number = () => performance.now(),
    /** With pod attribution: the pod each interface serves. */
    private readonly podOf?: PodLookup,
  ) {}

  /** Continues from what an earlier exporter carried over; call before the first collection. */
  restore(carried: CarriedState): void {
    if (this.state) throw new Error('Collector.restore: already collecting');
    this.state = restoredState(carried, this.monotonicNow());
  }

  /** What a later exporter would continue from; undefined before the first collection. */
  carried(): CarriedState | undefined {
    return this.state && carriedState(this.state);
  }

  /** Reads the source once. Never throws: a failure is returned as an outcome. */
  collect(): CollectionOutcome {
    const started = this.monotonicNow();
    const wallTimeMs = Date.now();
    try {
      const rows = this.source.readCounters();
      const sourceStats = this.source.readSourceStats?.() ?? {};
      const step = advanceCollection(this.state, rows, started, this.rules, this.podOf);
      this.state = step.state;
      return {
        ok: true,
        samples: step.samples,
        namespaces: step.namespaces,
        sourceStats,
        durationSeconds: (this.monotonicNow() - started) / 1000,
        wallTimeMs,
      };
    } catch (error) {
      return { ok: false, error, durationSeconds: (this.monotonicNow() - started) / 1000, wallTimeMs };
    }
  }
}
