/**
 * Which pods and interfaces dropped too large a share of their packets
 * lately: the trust panel on `/` turns amber and names them. A pod's drops
 * are the drop meter's, by reason, with `not_specified` left out; its packets
 * are its interfaces' (both ways). An interface's drops are the kernel's own
 * drop counters (rx_dropped + tx_dropped); its packets are netprobe's.
 *
 * share = drops / (drops + packets) over the last 5 minutes; flagged when it
 * passes DROP_SHARE_LIMIT and the drops reach DROP_SHARE_MIN_DROPS (one drop
 * on an idle pod is no news). The window is measured against snapshots of the
 * cumulative counts taken at most every DROP_SHARE_STEP_MS, kept per key in a
 * ring of fixed size (a row of two matrices): memory is bounded by keys × 2 × DROP_SHARE_SLOTS numbers.
 *
 * Pure: the caller passes wall-clock milliseconds and cumulative counts.
 */
import type { InterfaceSample } from './interface-sample.js';

/** How far back the share looks. */
export const DROP_SHARE_WINDOW_MS = 5 * 60_000;
/** A share above this (1 %) is flagged... */
export const DROP_SHARE_LIMIT = 0.01;
/** ...when at least this many packets were dropped in the window. */
export const DROP_SHARE_MIN_DROPS = 100;
/** Snapshots are at least this far apart: the window reaches back 5 min to 5 min + max(this, the interval). */
export const DROP_SHARE_STEP_MS = 15_000;
/** Enough snapshots to reach back the whole window. */
export const DROP_SHARE_SLOTS = Math.ceil(DROP_SHARE_WINDOW_MS / DROP_SHARE_STEP_MS) + 2;

/** One pod's or interface's cumulative counts now. */
export interface DropShareCount {
  kind: 'pod' | 'interface';
  /** `namespace/pod`, or the interface's name. */
  name: string;
  /** Tells apart two interfaces of one name (0 for pods). */
  ifindex: number;
  drops: number;
  packets: number;
}

/** A pod or interface above the limit: its drops and packets in the window. */
export interface DropShareExcess {
  kind: 'pod' | 'interface';
  name: string;
  drops: number;
  packets: number;
  /** drops / (drops + packets). */
  share: number;
}

/** The drop counts of pods, as the overview's drops have them (without `not_specified`). */
export interface PodDropCount {
  namespace: string;
  pod: string;
  packets: number;
}

/**
 * Each interface with the kernel's drop counters, and each pod with an
 * interface of its own (hostNetwork pods have none, so no packets to weigh
 * their drops against) with its drops from `podDrops`.
 */
export function dropShareCounts(samples: readonly InterfaceSample[], podDrops: readonly PodDropCount[]): DropShareCount[] {
  const out: DropShareCount[] = [];
  const podPackets = new Map<string, number>();
  for (const s of samples) {
    const packets = Number(s.ingress.packets + s.egress.packets);
    if (s.faults)
      out.push({
        kind: 'interface',
        name: s.name,
        ifindex: s.ifindex,
        drops: Number(s.faults.rxDropped) + Number(s.faults.txDropped),
        packets,
      });
    if (s.pod) {
      const key = `${s.namespace ?? ''}/${s.pod}`;
      podPackets.set(key, (podPackets.get(key) ?? 0) + packets);
    }
  }
  const drops = new Map(podDrops.map((p) => [`${p.namespace}/${p.pod}`, p.packets]));
  for (const [name, packets] of podPackets) out.push({ kind: 'pod', name, ifindex: 0, drops: drops.get(name) ?? 0, packets });
  return out;
}

interface KeyRing {
  kind: 'pod' | 'interface';
  name: string;
  /** Its row in the window's matrices. */
  row: number;
  nowDrops: number;
  nowPackets: number;
}

/**
 * Rows the matrices start with. A collection with more keys than rows grows them to its count plus an
 * eighth (at 2,000 interfaces doubling left ~0.6 MiB unused); they halve (repeatedly) when under a quarter is used.
 */
const MIN_ROWS = 64;

export class DropShareWindow {
  private readonly times = new Float64Array(DROP_SHARE_SLOTS).fill(NaN);
  private readonly keys = new Map<string, KeyRing>();
  // Cumulative counts at each snapshot slot, one row of DROP_SHARE_SLOTS per key (a key's first counts fill the
  // slots before it appeared). Two matrices, not two small typed arrays per key: at 2,000 interfaces those were
  // 4,000 off-heap buffers whose bookkeeping cost more than their data.
  private drops = new Float64Array(MIN_ROWS * DROP_SHARE_SLOTS);
  private packets = new Float64Array(MIN_ROWS * DROP_SHARE_SLOTS);
  private readonly freeRows: number[] = [];
  private nextRow = 0;
  /** Slot of the next snapshot. */
  private head = 0;
  private lastSnapshot = -Infinity;
  private nowMs = NaN;

  /** Keys held (what the memory grows with). */
  get keyCount(): number {
    return this.keys.size;
  }

  /** Rows the matrices have room for (bounded by twice the peak of keyCount, and shrinks with it). */
  get rowCapacity(): number {
    return this.drops.length / DROP_SHARE_SLOTS;
  }

  /** Takes one collection's cumulative counts; keys absent from `counts` are forgotten. */
  record(timeMs: number, counts: readonly DropShareCount[]): void {
    const snapshot = timeMs - this.lastSnapshot >= DROP_SHARE_STEP_MS;
    const slot = this.head;
    if (snapshot) {
      this.times[slot] = timeMs;
      this.head = (slot + 1) % DROP_SHARE_SLOTS;
      this.lastSnapshot = timeMs;
    }
    this.nowMs = timeMs;
    if (counts.length > this.rowCapacity) this.resize(Math.ceil(counts.length * 1.125));
    const seen = new Set<string>();
    for (const c of counts) {
      const key = `${c.kind}\u0000${c.ifindex}\u0000${c.name}`;
      seen.add(key);
      let ring = this.keys.get(key);
      if (!ring) {
        // Before it appeared, it is taken to have had its first counts: the window starts there.
        const row = this.takeRow();
        const at = row * DROP_SHARE_SLOTS;
        this.drops.fill(c.drops, at, at + DROP_SHARE_SLOTS);
        this.packets.fill(c.packets, at, at + DROP_SHARE_SLOTS);
        ring = { kind: c.kind, name: c.name, row, nowDrops: c.drops, nowPackets: c.packets };
        this.keys.set(key, ring);
      }
      ring.nowDrops = c.drops;
      ring.nowPackets = c.packets;
      if (snapshot) {
        this.drops[ring.row * DROP_SHARE_SLOTS + slot] = c.drops;
        this.packets[ring.row * DROP_SHARE_SLOTS + slot] = c.packets;
      }
    }
    for (const [key, ring] of this.keys)
      if (!seen.has(key)) {
        this.keys.delete(key);
        this.freeRows.push(ring.row);
      }
    if (this.keys.size * 4 < this.rowCapacity && this.rowCapacity > MIN_ROWS) {
      let rows = this.rowCapacity;
      while (rows > MIN_ROWS && this.keys.size * 4 < rows) rows = Math.max(MIN_ROWS, Math.ceil(rows / 2));
      this.resize(rows);
    }
  }

  /** Unix ms the window starts at now: the newest snapshot at least the window old, else the oldest one; null before any. */
  since(): number | null {
    const slot = this.baseSlot();
    return slot === undefined ? null : this.times[slot]!;
  }

  /** Pods and interfaces above the limit now, largest share first. */
  over(): DropShareExcess[] {
    const slot = this.baseSlot();
    if (slot === undefined) return [];
    const out: DropShareExcess[] = [];
    for (const ring of this.keys.values()) {
      const baseDrops = this.drops[ring.row * DROP_SHARE_SLOTS + slot]!;
      const basePackets = this.packets[ring.row * DROP_SHARE_SLOTS + slot]!;
      // A count below its baseline was reset (an interface made again): all of it is in the window.
      const drops = ring.nowDrops >= baseDrops ? ring.nowDrops - baseDrops : ring.nowDrops;
      const packets = ring.nowPackets >= basePackets ? ring.nowPackets - basePackets : ring.nowPackets;
      if (!exceeds(drops, packets)) continue;
      out.push({ kind: ring.kind, name: ring.name, drops, packets, share: drops / (drops + packets) });
    }
    return out.sort((a, b) => b.share - a.share || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private takeRow(): number {
    const free = this.freeRows.pop();
    if (free !== undefined) return free;
    if (this.nextRow === this.rowCapacity) this.resize(Math.ceil(this.rowCapacity * 1.25));
    return this.nextRow++;
  }

  /** New matrices of `rows` rows; the keys' rows are packed from 0 in the order held. */
  private resize(rows: number): void {
    const drops = new Float64Array(rows * DROP_SHARE_SLOTS);
    const packets = new Float64Array(rows * DROP_SHARE_SLOTS);
    let next = 0;
    for (const ring of this.keys.values()) {
      const from = ring.row * DROP_SHARE_SLOTS;
      drops.set(this.drops.subarray(from, from + DROP_SHARE_SLOTS), next * DROP_SHARE_SLOTS);
      packets.set(this.packets.subarray(from, from + DROP_SHARE_SLOTS), next * DROP_SHARE_SLOTS);
      ring.row = next++;
    }
    this.drops = drops;
    this.packets = packets;
    this.nextRow = next;
    this.freeRows.length = 0;
  }

  private baseSlot(): number | undefined {
    const from = this.nowMs - DROP_SHARE_WINDOW_MS;
    let base: number | undefined;
    let oldest: number | undefined;
    for (let i = 0; i < DROP_SHARE_SLOTS; i++) {
      const t = this.times[i]!;
      if (Number.isNaN(t)) continue;
      if (oldest === undefined || t < this.times[oldest]!) oldest = i;
      if (t <= from && (base === undefined || t > this.times[base]!)) base = i;
    }
    return base ?? oldest;
  }
}

/** The rule: more than DROP_SHARE_LIMIT of drops + packets, and at least DROP_SHARE_MIN_DROPS drops. */
export function exceeds(drops: number, packets: number): boolean {
  return drops >= DROP_SHARE_MIN_DROPS && drops / (drops + packets) > DROP_SHARE_LIMIT;
}
