/**
 * The I/O half of the pod-side view: reads the socket meter in one batch,
 * advances the pure state (socket-state.ts), which hands the kernel entries
 * of finished cgroups back to the meter (their counts at deletion join their
 * bucket), and compares with the host-veth view
 * (blind-spots.ts). Call `collect()` BEFORE the TC counters are read (see
 * blind-spots.ts for why), and `compare()` with that collection's interface
 * samples after.
 */
import { performance } from 'node:perf_hooks';
import type { SocketCounterSource } from '../source/socket-counter-source.js';
import { advanceBlindSpots, type BlindSpotSample, type BlindSpotState } from './blind-spots.js';
import type { InterfaceSample } from './interface-sample.js';
import {
  advanceSocketCollection,
  carriedSocketState,
  restoredSocketState,
  type CarriedSocketState,
  type SocketCgroupLookup,
  type SocketRules,
  type SocketState,
  type SocketStep,
} from './socket-state.js';

export type SocketOutcome =
  ({ ok: true; sourceStats: Record<string, bigint> } & Omit<SocketStep, 'state' | 'forget'>) | { ok: false; error: unknown };

export class SocketCollector {
  private state: SocketState | undefined;
  private blindState: BlindSpotState | undefined;
  private last: SocketOutcome | undefined;

  constructor(
    private readonly source: SocketCounterSource,
    private readonly rules: SocketRules,
    private readonly lookup: SocketCgroupLookup,
    private readonly monotonicNow: () => number = () => performance.now(),
  ) {}

  /** Continues from what an earlier exporter carried over; call before the first collection. */
  restore(carried: CarriedSocketState): void {
    if (this.state) throw new Error('SocketCollector.restore: already collecting');
    const restored = restoredSocketState(carried, this.monotonicNow(), this.rules);
    this.state = restored.state;
    this.blindState = restored.blind;
  }

  carried(): CarriedSocketState | undefined {
    return this.state && carriedSocketState(this.state, this.blindState);
  }

  /** Reads the meter once. Never throws: a failure is returned as an outcome (the state stays as it was). */
  collect(): SocketOutcome {
    try {
      const rows = this.source.readSocketCounters();
      const sourceStats = this.source.readSourceStats?.() ?? {};
      const step = advanceSocketCollection(this.state, rows, this.monotonicNow(), this.rules, this.lookup, (ids) =>
        this.source.forget(ids),
      );
      this.state = step.state;
      this.last = { ok: true, sourceStats, pods: step.pods, namespaces: step.namespaces, unattributed: step.unattributed };
    } catch (error) {
      this.last = { ok: false, error };
    }
    return this.last;
  }

  /** The blind packets per pod, given the interface samples of the collection that followed `collect()`. */
  compare(interfaces: readonly InterfaceSample[]): BlindSpotSample[] {
    if (!this.last?.ok) return [];
    const next = advanceBlindSpots(this.blindState, this.last.pods, interfaces);
    this.blindState = next.state;
    return next.samples;
  }
}
