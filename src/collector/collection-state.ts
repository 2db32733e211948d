/**
 * Turns one batch of counter rows into interface samples, given the state
 * kept from the previous collection. Pure: no I/O, no clock (the caller
 * passes monotonic milliseconds), so every rule below is unit-tested.
 *
 * State is keyed by ifindex, the kernel's identity of an interface; the name
 * is a label. When the name under an ifindex changes, the state decides
 * between two causes (sameInterface):
 * - a rename: the same interface, its counters continue. It is relabelled:
 *   the series under the old name stop, the new name continues with the same
 *   counts, rates and pod, and the namespace total does not move.
 * - a deleted interface whose ifindex a new one took: the old one departs
 *   (its finals stay in its namespace's total) and the new one starts fresh.
 * Either way no stale name and no rate across two interfaces is exported.
 */
import type { CounterRow, InterfaceFaults } from '../source/counter-source.js';
import type { DirectionSample, InterfaceSample, NamespaceTotals, PodLabels } from './interface-sample.js';

export interface CollectionRules {
  /** Which interface names to export (the compiled interface filter). */
  includeInterface: (name: string) => boolean;
  /** An interface is active if it carried a packet within this many milliseconds. */
  activeWindowMs: number;
  /** Leave inactive interfaces out of the samples (their state is still kept). */
  activeOnly: boolean;
  /**
   * Keep a vanished interface's final values exported this long (ms), so a
   * short-lived pod's last traffic is scraped at least once. 0 or absent:
   * it loses its series at the next collection (0.1 behaviour).
   */
  departedRetentionMs?: number;
}

/** The pod an interface serves, as known now; called once per interface per collection. */
export type PodLookup = (ifindex: number, name: string) => PodLabels | undefined;

export interface DirectionTotals {
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
  /** Once known with names, kept for the interface's lifetime (labels never flip). */
  pod: PodLabels | undefined;
  /** The kernel's drop and error counters as last read; kept when a read lacks them. */
  faults?: InterfaceFaults;
}

interface DepartedInterface {
  entry: TrackedInterface;
  /** Monotonic ms of the first collection that missed it. */
  departedAt: number;
}

export interface PacketsBytes {
  packets: bigint;
  bytes: bigint;
}

/** Counts a namespace no longer sees on live interfaces: departed pods' finals, and counts before a reset. */
export interface NamespaceBase {
  ingress: PacketsBytes;
  egress: PacketsBytes;
}

/** What a collection remembers for the next one. Treat as opaque. */
export interface CollectionState {
  /** Monotonic ms of the collection that produced this state. */
  readonly at: number;
  /** Live interfaces by ifindex. */
  readonly interfaces: ReadonlyMap<number, TrackedInterface>;
  /** Departed interfaces by ifindex and name (a departed one and a live one may share an ifindex). */
  readonly departed: ReadonlyMap<string, DepartedInterface>;
  readonly namespaceBase: ReadonlyMap<string, NamespaceBase>;
  /** Restored from a carried state: the next collection computes no rate across the restart. */
  readonly restored?: boolean;
}

/**
 * What continues across a restart of the exporter (pod attribution and the
 * namespace totals' base): the pod interfaces with the counts they were last
 * read at, and the base of every namespace. The rest of the state is rebuilt
 * by the next collection.
 */
export interface CarriedState {
  interfaces: Array<{ ifindex: number; name: string; pod: PodLabels; ingress: DirectionTotals; egress: DirectionTotals }>;
  namespaces: Array<{ namespace: string } & NamespaceBase>;
}

export interface CollectionStep {
  state: CollectionState;
  /** Exported interfaces (departed ones within their retention too), ordered by ifindex then name. */
  samples: InterfaceSample[];
  /** Per-namespace totals of pod interfaces, by namespace name; empty without a pod lookup. */
  namespaces: NamespaceTotals[];
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
  podOf?: PodLookup,
): CollectionStep {
  const elapsedSeconds = previous && !previous.restored ? (nowMs - previous.at) / 1000 : 0;
  const read = new Map<string, TrackedInterface>();
  for (const row of rows) {
    const key = stateKey(row.ifindex, row.name);
    let entry = read.get(key);
    if (!entry) {
      if (!rules.includeInterface(row.name)) continue;
      entry = { ifindex: row.ifindex, name: row.name, ingress: ZERO, egress: ZERO, lastActiveAt: undefined, pod: undefined };
      read.set(key, entry);
    }
    entry[row.direction] = { packets: row.packets, bytes: row.bytes, segments: row.segments };
    if (row.faults) entry.faults = row.faults;
  }

  // One interface per ifindex. Two names under one ifindex in one read: a deleted interface's
  // finals (under its old name, which the previous collection knew) beside the new one.
  const current = new Map<number, TrackedInterface>();
  const finals = new Map<number, TrackedInterface>();
  for (const entry of read.values()) {
    const taken = current.get(entry.ifindex);
    if (!taken) current.set(entry.ifindex, entry);
    else if (taken.name === previous?.interfaces.get(entry.ifindex)?.name) {
      finals.set(entry.ifindex, taken);
      current.set(entry.ifindex, entry);
    } else finals.set(entry.ifindex, entry);
  }

  const base = new Map<string, NamespaceBase>();
  for (const [namespace, b] of previous?.namespaceBase ?? []) base.set(namespace, { ingress: { ...b.ingress }, egress: { ...b.egress } });
  const retentionMs = rules.departedRetentionMs ?? 0;
  // The previous entry each live interface continues (same ifindex, same interface); absent = new.
  const continues = new Map<number, TrackedInterface>();
  const gone: TrackedInterface[] = [];
  for (const [ifindex, before] of previous?.interfaces ?? []) {
    const now = current.get(ifindex);
    const last = finals.get(ifindex);
    if (last && last.name === before.name) {
      if (!continuing(before, last)) addTo(base, before, 1n); // counting restarted before the finals were read
      gone.push({ ...before, ingress: last.ingress, egress: last.egress, faults: last.faults ?? before.faults });
    } else if (now && (now.name === before.name || sameInterface(before, now, podOf?.(ifindex, now.name)))) continues.set(ifindex, before);
    else gone.push(before);
  }

  const departed = new Map<string, DepartedInterface>();
  for (const [key, d] of previous?.departed ?? []) {
    const now = current.get(d.entry.ifindex);
    if (now && now.name === d.entry.name && !continues.has(now.ifindex)) {
      // Back under the same identity. If its counts continued, its finals must not be counted twice.
      if (continuing(d.entry, now)) {
        addTo(base, d.entry, -1n);
        now.pod ??= d.entry.pod;
      }
    } else if (nowMs - d.departedAt < retentionMs) departed.set(key, d);
  }
  for (const entry of gone) {
    addTo(base, entry, 1n); // its final counts stay in its namespace's total
    if (retentionMs > 0) departed.set(stateKey(entry.ifindex, entry.name), { entry, departedAt: nowMs });
  }

  const samples: InterfaceSample[] = [];
  for (const [ifindex, entry] of current) {
    const before = continues.get(ifindex);
    entry.lastActiveAt = before?.lastActiveAt;
    entry.pod = stickyPod(entry.pod ?? before?.pod, podOf?.(entry.ifindex, entry.name));
    entry.faults ??= before?.faults;
    if (before && (entry.ingress.packets < before.ingress.packets || entry.egress.packets < before.egress.packets)) addTo(base, before, 1n); // counting restarted: what was counted before stays in the total
    const ingress = directionSample(before?.ingress, entry.ingress, elapsedSeconds);
    const egress = directionSample(before?.egress, entry.egress, elapsedSeconds);
    if (before && (moved(before.ingress, entry.ingress) || moved(before.egress, entry.egress))) entry.lastActiveAt = nowMs;
    const active = entry.lastActiveAt !== undefined && nowMs - entry.lastActiveAt <= rules.activeWindowMs;
    if (rules.activeOnly && !active) continue;
    samples.push(withPod(withFaults({ ifindex: entry.ifindex, name: entry.name, active, ingress, egress }, entry.faults), entry.pod));
  }
  for (const { entry } of departed.values()) {
    const active = entry.lastActiveAt !== undefined && nowMs - entry.lastActiveAt <= rules.activeWindowMs;
    if (rules.activeOnly && !active) continue;
    const sample = {
      ifindex: entry.ifindex,
      name: entry.name,
      active,
      ingress: directionSample(undefined, entry.ingress, 0),
      egress: directionSample(undefined, entry.egress, 0),
      departed: true,
    };
    samples.push(withPod(withFaults(sample, entry.faults), entry.pod));
  }
  samples.sort((a, b) => a.ifindex - b.ifindex || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const namespaces = podOf ? namespaceTotals(base, current.values()) : [];
  return { state: { at: nowMs, interfaces: current, departed, namespaceBase: base }, samples, namespaces };
}

/** The part of `state` that a restarted exporter continues from (see CarriedState). */
export function carriedState(state: CollectionState): CarriedState {
  const interfaces: CarriedState['interfaces'] = [];
  for (const e of state.interfaces.values())
    if (e.pod) interfaces.push({ ifindex: e.ifindex, name: e.name, pod: e.pod, ingress: e.ingress, egress: e.egress });
  const namespaces = [...state.namespaceBase].map(([namespace, b]) => ({ namespace, ingress: b.ingress, egress: b.egress }));
  return { interfaces, namespaces };
}

/**
 * The state a restarted exporter starts from: the carried pod interfaces as
 * if the previous collection had just read them, so the next collection keeps
 * their labels, adds the finals of those gone meanwhile to their namespace,
 * and every namespace total continues instead of starting again.
 */
export function restoredState(carried: CarriedState, nowMs: number): CollectionState {
  const interfaces = new Map<number, TrackedInterface>();
  for (const c of carried.interfaces) interfaces.set(c.ifindex, { ...c, pod: { ...c.pod }, lastActiveAt: undefined });
  const namespaceBase = new Map<string, NamespaceBase>();
  for (const n of carried.namespaces) namespaceBase.set(n.namespace, { ingress: { ...n.ingress }, egress: { ...n.egress } });
  return { at: nowMs, interfaces, departed: new Map(), namespaceBase, restored: true };
}

/**
 * Whether `now`, read under a new name at `before`'s ifindex, is `before`
 * renamed rather than a new interface that took a freed ifindex. A rename
 * keeps the kernel's counters (and netprobe's map entry), so nothing goes
 * backwards; a new interface starts from zero, and a pod lookup that already
 * names another pod settles it. Not decidable from counts alone: a new
 * interface that counted more than the old one in every counter before the
 * first read that sees it passes for a rename. The kernel hands out ifindexes
 * cyclically, so a freed one comes back only after 2^31 others (or when asked
 * for explicitly).
 */
function sameInterface(before: TrackedInterface, now: TrackedInterface, podNow: PodLabels | undefined): boolean {
  if (podNow && before.pod && podNow.uid !== before.pod.uid) return false;
  return continuing(before, now);
}

/** No counter of `now` is below `before`'s: the same counting went on. */
function continuing(before: TrackedInterface, now: TrackedInterface): boolean {
  return (['ingress', 'egress'] as const).every(
    (d) => now[d].packets >= before[d].packets && now[d].bytes >= before[d].bytes && now[d].segments >= before[d].segments,
  );
}

/** A known name is never replaced (nor lost); a UID alone may still gain its names. */
function stickyPod(known: PodLabels | undefined, now: PodLabels | undefined): PodLabels | undefined {
  if (known?.name) return known;
  if (known && now && now.uid !== known.uid) return known;
  return now ?? known;
}

function withFaults(sample: InterfaceSample, faults: InterfaceFaults | undefined): InterfaceSample {
  if (faults) sample.faults = faults;
  return sample;
}

function withPod(sample: InterfaceSample, pod: PodLabels | undefined): InterfaceSample {
  if (pod) {
    sample.namespace = pod.namespace;
    sample.pod = pod.name;
    sample.podUid = pod.uid;
  }
  return sample;
}

/** Adds (sign 1n) or takes back (-1n) an interface's counts in its namespace's base. */
function addTo(base: Map<string, NamespaceBase>, entry: TrackedInterface, sign: bigint): void {
  const namespace = entry.pod?.namespace;
  if (!namespace) return;
  let b = base.get(namespace);
  if (!b) base.set(namespace, (b = { ingress: { packets: 0n, bytes: 0n }, egress: { packets: 0n, bytes: 0n } }));
  for (const d of ['ingress', 'egress'] as const) {
    b[d].packets += sign * entry[d].packets;
    b[d].bytes += sign * entry[d].bytes;
  }
}

function namespaceTotals(base: ReadonlyMap<string, NamespaceBase>, live: Iterable<TrackedInterface>): NamespaceTotals[] {
  const totals = new Map<string, NamespaceTotals>();
  const get = (namespace: string): NamespaceTotals => {
    let t = totals.get(namespace);
    if (!t) totals.set(namespace, (t = { namespace, ingress: { packets: 0n, bytes: 0n }, egress: { packets: 0n, bytes: 0n } }));
    return t;
  };
  for (const [namespace, b] of base) {
    const t = get(namespace);
    for (const d of ['ingress', 'egress'] as const) {
      t[d].packets += b[d].packets;
      t[d].bytes += b[d].bytes;
    }
  }
  for (const entry of live) {
    const namespace = entry.pod?.namespace;
    if (!namespace) continue;
    const t = get(namespace);
    for (const d of ['ingress', 'egress'] as const) {
      t[d].packets += entry[d].packets;
      t[d].bytes += entry[d].bytes;
    }
  }
  return [...totals.values()].sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
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
