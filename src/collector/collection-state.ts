/**
 * Turns one batch of counter rows into interface samples, given the state
 * kept from the previous collection. Pure: no I/O, no clock (the caller
 * passes monotonic milliseconds), so every rule below is unit-tested.
 *
 * State is keyed by ifindex AND name: a renamed interface or a re-used
 * ifindex starts a fresh entry, so no stale name and no rate computed across
 * two different interfaces can ever be exported.
 */
import type { CounterRow } from '../source/counter-source.js';
import type { DirectionSample, InterfaceSample } from './interface-sample.js';

export interface CollectionRules {
  /** Which interface names to export (the compiled interface filter). */
  includeInterface: (name: string) => boolean;
  /** An interface is active if it carried a packet within this many milliseconds. */
  activeWindowMs: number;
  /** Leave inactive interfaces out of the samples (their state is still kept). */
  activeOnly: boolean;
}

interface DirectionTotals {
  packets: bigint;
  bytes: bigint;
  segments: bigint;
}

interface TrackedInterface {
  ifindex: number;
  name: string;
  ingress: DirectionTotals;
  egress: DirectionTotals;
  /** Monotonic ms of the last collection that saw packets move; undefined = none seen yet. */
  lastActiveAt: number | undefined;
}

/** What a collection remembers for the next one. Treat as opaque. */
export interface CollectionState {
  /** Monotonic ms of the collection that produced this state. */
  readonly at: number;
  readonly interfaces: ReadonlyMap<string, TrackedInterface>;
}

export interface CollectionStep {
  state: CollectionState;
  /** Exported interfaces, ordered by ifindex then name. */
  samples: InterfaceSample[];
}

const ZERO: DirectionTotals = Object.freeze({ packets: 0n, bytes: 0n, segments: 0n });

function stateKey(ifindex: number, name: string): string {
  return `${ifindex}\u0000${name}`;
}

/**
 * Advances the collection state by one batch of rows read at `nowMs`
 * (monotonic). Interfaces absent from `rows` are forgotten, so their series
 * disappear. Rates are 0 on an interface's first collection and for a
 * direction whose counter went backwards (the interface was re-created).
 * An interface seen for the first time is not active yet: there is no
 * evidence of when its existing counts were made.
 */
export function advanceCollection(
  previous: CollectionState | undefined,
  rows: readonly CounterRow[],
  nowMs: number,
  rules: CollectionRules,
): CollectionStep {
  const elapsedSeconds = previous ? (nowMs - previous.at) / 1000 : 0;
  const current = new Map<string, TrackedInterface>();
  for (const row of rows) {
    const key = stateKey(row.ifindex, row.name);
    let entry = current.get(key);
    if (!entry) {
      if (!rules.includeInterface(row.name)) continue;
      entry = { ifindex: row.ifindex, name: row.name, ingress: ZERO, egress: ZERO, lastActiveAt: undefined };
      current.set(key, entry);
    }
    entry[row.direction] = { packets: row.packets, bytes: row.bytes, segments: row.segments };
  }

  const samples: InterfaceSample[] = [];
  for (const [key, entry] of current) {
    const before = previous?.interfaces.get(key);
    entry.lastActiveAt = before?.lastActiveAt;
    const ingress = directionSample(before?.ingress, entry.ingress, elapsedSeconds);
    const egress = directionSample(before?.egress, entry.egress, elapsedSeconds);
    if (before && (moved(before.ingress, entry.ingress) || moved(before.egress, entry.egress))) entry.lastActiveAt = nowMs;
    const active = entry.lastActiveAt !== undefined && nowMs - entry.lastActiveAt <= rules.activeWindowMs;
    if (rules.activeOnly && !active) continue;
    samples.push({ ifindex: entry.ifindex, name: entry.name, active, ingress, egress });
  }
  samples.sort((a, b) => a.ifindex - b.ifindex || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { state: { at: nowMs, interfaces: current }, samples };
}

/**
 * Packets moved since the previous reading. A counter that went backwards
 * means the counting restarted; any packet counted since then is movement.
 */
function moved(before: DirectionTotals, now: DirectionTotals): boolean {
  return now.packets < before.packets ? now.packets > 0n : now.packets > before.packets;
}

function directionSample(before: DirectionTotals | undefined, now: DirectionTotals, elapsedSeconds: number): DirectionSample {
  return {
    packets: now.packets,
    bytes: now.bytes,
    segments: now.segments,
    packetsPerSecond: perSecond(before?.packets, now.packets, elapsedSeconds),
    bytesPerSecond: perSecond(before?.bytes, now.bytes, elapsedSeconds),
  };
}

function perSecond(before: bigint | undefined, now: bigint, elapsedSeconds: number): number {
  if (before === undefined || now < before || elapsedSeconds <= 0) return 0;
  return Number(now - before) / elapsedSeconds;
}
