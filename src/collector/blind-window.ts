/**
 * Which pods' blind counters (packets their sockets received that the host
 * veth never carried) grew by more than BLIND_FLOOR_PACKETS within the last
 * BLIND_WINDOW_MS: the trust panel on `/` names them. Measured against
 * snapshots taken at most every BLIND_STEP_MS, so memory is bounded by
 * pods × BLIND_SLOTS numbers whatever the collection interval (one entry per
 * collection was 600 per pod at a 1 s interval). The window reaches back
 * 10 min to 10 min + max(step, interval).
 *
 * Pure: the caller passes wall-clock milliseconds and cumulative counts.
 */

/** The floor absorbs the measured read-timing noise of routed and bridged pods (docs/metrics.md). */
export const BLIND_FLOOR_PACKETS = 100n;
export const BLIND_WINDOW_MS = 10 * 60_000;
export const BLIND_STEP_MS = 15_000;
/** Enough snapshots to reach back the whole window. */
export const BLIND_SLOTS = Math.ceil(BLIND_WINDOW_MS / BLIND_STEP_MS) + 2;

interface Snapshots {
  /** Wall ms and cumulative blind packets, oldest first; the first is the window's base. */
  times: number[];
  packets: bigint[];
}

export class BlindWindow {
  private readonly pods = new Map<string, Snapshots>();

  /** Takes one collection's cumulative counts per pod UID; pods absent from `counts` are forgotten. */
  record(nowMs: number, counts: Iterable<{ uid: string; packets: bigint }>): void {
    const live = new Set<string>();
    for (const { uid, packets } of counts) {
      live.add(uid);
      let s = this.pods.get(uid);
      if (!s) this.pods.set(uid, (s = { times: [], packets: [] }));
      const last = s.times[s.times.length - 1];
      if (last === undefined || nowMs - last >= BLIND_STEP_MS) {
        s.times.push(nowMs);
        s.packets.push(packets);
      }
      // Keep the newest snapshot at least the window old as the base; drop those before it.
      while (s.times.length > 1 && nowMs - s.times[1]! >= BLIND_WINDOW_MS) {
        s.times.shift();
        s.packets.shift();
      }
    }
    for (const uid of this.pods.keys()) if (!live.has(uid)) this.pods.delete(uid);
  }

  /** Whether pod `uid`'s counter, now `packets`, grew by more than the floor since the window's base. */
  flagged(uid: string, packets: bigint): boolean {
    const base = this.pods.get(uid)?.packets[0];
    return base !== undefined && packets - base > BLIND_FLOOR_PACKETS;
  }

  /** Snapshots held for pod `uid` (what the memory grows with). */
  snapshots(uid: string): number {
    return this.pods.get(uid)?.times.length ?? 0;
  }
}
