/**
 * The recent history of drops per second by reason behind the page's drops
 * chart, in rings of the same fixed size as the rate history's. The exporter
 * records a point exactly when RateHistory keeps one, so the two line up with
 * `history.times`. A rate is the change of a reason's node total since the
 * previous point over the time between them: summed × the steps, it gives
 * back the drops of the window. A total that went down (a departed pod's
 * series retired) counts as 0. Memory: capacity × reasons Float32s.
 *
 * Pure: the caller passes wall-clock milliseconds; no I/O.
 */

/** A reason's node total (cumulative). */
export interface ReasonTotal {
  reason: string;
  packets: number;
}

interface ReasonRing {
  /** drops/s; NaN where unknown (the first point, a gap). */
  values: Float32Array;
  /** The total at the previous point. */
  last: number;
}

export class DropRateHistory {
  private readonly reasons = new Map<string, ReasonRing>();
  private head = 0;
  private size = 0;
  private lastTime: number | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`drop history capacity must be an integer ≥ 2, got ${capacity}`);
  }

  /** Points held now. */
  get length(): number {
    return this.size;
  }

  /** Adds one point: each reason's total at `timeMs`. A reason absent from `totals` loses its ring. */
  record(timeMs: number, totals: readonly ReasonTotal[]): void {
    const at = this.head;
    const dt = this.lastTime === undefined ? 0 : (timeMs - this.lastTime) / 1000;
    const seen = new Set<string>();
    for (const t of totals) {
      seen.add(t.reason);
      let ring = this.reasons.get(t.reason);
      if (!ring) {
        // A reason first seen after the first point rose from 0 since the previous one.
        ring = { values: new Float32Array(this.capacity).fill(NaN), last: 0 };
        this.reasons.set(t.reason, ring);
      }
      ring.values[at] = dt > 0 ? Math.max(0, t.packets - ring.last) / dt : NaN;
      ring.last = t.packets;
    }
    for (const reason of this.reasons.keys()) if (!seen.has(reason)) this.reasons.delete(reason);
    this.lastTime = timeMs;
    this.head = (at + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** Each reason's drops/s, oldest point first (null where unknown), the most drops in the window first. */
  series(): Array<{ reason: string; perSecond: Array<number | null> }> {
    const start = (this.head - this.size + this.capacity) % this.capacity;
    const out = [...this.reasons].map(([reason, ring]) => {
      const perSecond = new Array<number | null>(this.size);
      for (let i = 0; i < this.size; i++) {
        const v = ring.values[(start + i) % this.capacity]!;
        perSecond[i] = Number.isNaN(v) ? null : v;
      }
      return { reason, perSecond };
    });
    const sum = (a: Array<number | null>): number => a.reduce<number>((s, v) => s + (v ?? 0), 0);
    const weight = new Map(out.map((s) => [s.reason, sum(s.perSecond)]));
    return out.sort((a, b) => weight.get(b.reason)! - weight.get(a.reason)! || (a.reason < b.reason ? -1 : 1));
  }
}
