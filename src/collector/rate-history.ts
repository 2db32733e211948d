/**
 * The recent history of rates behind the overview charts: node totals (bytes/s
 * and packets/s each way, over the uplinks) and every exported interface's bytes/s (both ways
 * summed), in rings whose size is fixed when the exporter starts. Memory is
 * bounded by (4 + interfaces) × capacity numbers however long the exporter
 * runs; an interface's ring is freed when it disappears. An interface's
 * points are 16-bit codes on a log scale (rateCode): within 0.1% of the rate,
 * more than a chart shows, at half a Float32's memory (the rings are most of
 * the history: 4.2 instead of 8.5 MB at 2,000 interfaces and a 1 s interval).
 *
 * Pure: the caller passes wall-clock milliseconds; no I/O.
 */
import type { InterfaceSample } from './interface-sample.js';

/** How far back the charts reach. */
export const HISTORY_WINDOW_MS = 15 * 60_000;
/** Points closer together than this are not kept (1 s: a faster interval is thinned to 1 point/s). */
export const MIN_HISTORY_STEP_MS = 1000;
/**
 * A point is kept when at least this share of the step passed since the last
 * one, so the extra collections an interface change triggers between two
 * regular ones do not eat into the window.
 */
const STEP_TOLERANCE = 0.9;

export interface RateHistoryOptions {
  /** The collection interval in ms (the ring holds HISTORY_WINDOW_MS of points at this step). */
  intervalMs: number;
  /** Overrides the computed capacity (tests). */
  capacity?: number;
}

/** The node totals' four series, in chronological order. */
export interface TotalsHistory {
  /** Unix milliseconds of each point. */
  times: number[];
  ingressBytesPerSecond: number[];
  egressBytesPerSecond: number[];
  ingressPacketsPerSecond: number[];
  egressPacketsPerSecond: number[];
}

interface InterfaceRing {
  name: string;
  /** bytes/s, ingress + egress, as rateCode()s; NO_POINT where the interface was not there yet. */
  values: Uint16Array;
}

/** The code of a point where the interface was not there. */
const NO_POINT = 0xffff;
/** Codes 1.. stand for 2^(MIN_LOG2 + (code - 1) / STEPS_PER_DOUBLING): 2^-9 to 2^55 bytes/s. */
const MIN_LOG2 = -9;
const STEPS_PER_DOUBLING = 1024;
const MAX_CODE = NO_POINT - 1;

/** A rate (≥ 0) as a 16-bit code: 0 is exactly 0; rateOfCode gives it back within 0.1%. Pure. */
export function rateCode(rate: number): number {
  if (Number.isNaN(rate)) return NO_POINT;
  if (!(rate >= 2 ** (MIN_LOG2 - 1))) return 0; // 0, negative, or far below a byte per minute
  const code = 1 + Math.round((Math.log2(rate) - MIN_LOG2) * STEPS_PER_DOUBLING);
  return Math.min(Math.max(code, 1), MAX_CODE);
}

/** The rate a code stands for, to 4 significant digits (what the code holds; short in JSON); NaN for NO_POINT. Pure. */
export function rateOfCode(code: number): number {
  if (code === NO_POINT) return NaN;
  return code === 0 ? 0 : Number((2 ** (MIN_LOG2 + (code - 1) / STEPS_PER_DOUBLING)).toPrecision(4));
}

/** Points needed to cover HISTORY_WINDOW_MS at `intervalMs`, given the thinning rules above. */
export function historyCapacity(intervalMs: number): number {
  const step = Math.max(intervalMs, MIN_HISTORY_STEP_MS) * STEP_TOLERANCE;
  return Math.ceil(HISTORY_WINDOW_MS / step) + 1;
}

export class RateHistory {
  /** Points each ring holds. */
  readonly capacity: number;
  private readonly stepMs: number;
  private readonly times: Float64Array;
  private readonly totals: Float64Array[];
  private readonly interfaces = new Map<number, InterfaceRing>();
  /** Index of the next write. */
  private head = 0;
  /** Points written, at most `capacity`. */
  private size = 0;
  private lastTime = -Infinity;

  constructor(opts: RateHistoryOptions) {
    this.capacity = opts.capacity ?? historyCapacity(opts.intervalMs);
    if (!Number.isInteger(this.capacity) || this.capacity < 2)
      throw new RangeError(`history capacity must be an integer ≥ 2, got ${this.capacity}`);
    this.stepMs = Math.max(opts.intervalMs, MIN_HISTORY_STEP_MS) * STEP_TOLERANCE;
    this.times = new Float64Array(this.capacity);
    this.totals = [0, 1, 2, 3].map(() => new Float64Array(this.capacity));
  }

  /** Interfaces with a ring now. */
  get interfaceCount(): number {
    return this.interfaces.size;
  }

  /** Points held now. */
  get length(): number {
    return this.size;
  }

  /** Bytes held by the typed arrays (what grows with interfaces). */
  get byteLength(): number {
    let n = this.times.byteLength + this.totals.reduce((sum, a) => sum + a.byteLength, 0);
    for (const ring of this.interfaces.values()) n += ring.values.byteLength;
    return n;
  }

  /**
   * Adds one collection's samples at `timeMs` (wall clock). Returns false when
   * the point was thinned out (too close to the previous one). Interfaces
   * absent from `samples` lose their ring; a renamed one starts a new one.
   * The node totals sum the samples `inTotals` accepts (the uplinks); all by default.
   */
  record(timeMs: number, samples: readonly InterfaceSample[], inTotals: (s: InterfaceSample) => boolean = () => true): boolean {
    if (timeMs - this.lastTime < this.stepMs) return false;
    this.lastTime = timeMs;
    const at = this.head;
    let inB = 0;
    let outB = 0;
    let inP = 0;
    let outP = 0;
    const seen = new Set<number>();
    for (const s of samples) {
      if (inTotals(s)) {
        inB += s.ingress.bytesPerSecond;
        outB += s.egress.bytesPerSecond;
        inP += s.ingress.packetsPerSecond;
        outP += s.egress.packetsPerSecond;
      }
      seen.add(s.ifindex);
      let ring = this.interfaces.get(s.ifindex);
      if (!ring || ring.name !== s.name) {
        ring = { name: s.name, values: new Uint16Array(this.capacity).fill(NO_POINT) };
        this.interfaces.set(s.ifindex, ring);
      }
      ring.values[at] = rateCode(s.ingress.bytesPerSecond + s.egress.bytesPerSecond);
    }
    for (const ifindex of this.interfaces.keys()) if (!seen.has(ifindex)) this.interfaces.delete(ifindex);
    this.times[at] = timeMs;
    this.totals[0]![at] = inB;
    this.totals[1]![at] = outB;
    this.totals[2]![at] = inP;
    this.totals[3]![at] = outP;
    this.head = (at + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
    return true;
  }

  /** The node totals, oldest point first. */
  totalsHistory(): TotalsHistory {
    return {
      times: this.chronological(this.times),
      ingressBytesPerSecond: this.chronological(this.totals[0]!),
      egressBytesPerSecond: this.chronological(this.totals[1]!),
      ingressPacketsPerSecond: this.chronological(this.totals[2]!),
      egressPacketsPerSecond: this.chronological(this.totals[3]!),
    };
  }

  /**
   * One interface's bytes/s (both ways), aligned with `totalsHistory().times`;
   * null where it was not there. Undefined for an interface without a ring
   * (or whose ring belongs to another name).
   */
  interfaceHistory(ifindex: number, name: string): Array<number | null> | undefined {
    const ring = this.interfaces.get(ifindex);
    if (!ring || ring.name !== name) return undefined;
    return this.chronological(ring.values).map((code) => (code === NO_POINT ? null : rateOfCode(code)));
  }

  private chronological(values: Float64Array | Uint16Array): number[] {
    const out = new Array<number>(this.size);
    const start = (this.head - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) out[i] = values[(start + i) % this.capacity]!;
    return out;
  }
}
