/**
 * The pod-side view: turns one read of the socket meter (cumulative counts
 * per socket cgroup) into per-pod (or per-container), per-namespace and
 * unattributed totals, given the state kept from the previous collection.
 * Pure apart from the `SocketCgroupLookup` it is handed (the cgroup tree and
 * the kubelet's log directories) and the `forget` call that deletes finished
 * kernel entries, so every rule is unit-tested.
 *
 * Every counted packet lands in exactly one bucket, and a bucket's total
 * never goes backwards while it is exported:
 * - a cgroup is placed once (sticky): a pod (or pod and container), the
 *   node's own processes (`node`), a cgroup gone before it could be placed
 *   (`unmapped`), the map-full key 0 (`map_full`), or a pod whose names never
 *   appeared (`unnamed_pod`);
 * - a cgroup whose directory is gone leaves its final counts in its bucket;
 *   its kernel entry is read and deleted in one step, and what the program
 *   counted after this collection's read (a late packet) is added too;
 * - a pod bucket departs when its pod's cgroup directory is gone; its series
 *   stays for the departed retention, and its total stays in its
 *   namespace's total for good.
 */
import type { Direction } from '../source/counter-source.js';
import type { ForgottenEntry, SocketCounterRow } from '../source/socket-counter-source.js';
import { carriedBlindSpots, restoredBlindSpots, type BlindSpotState } from './blind-spots.js';
import type { PodBucketLabels, PodSocketSample, SocketCounts } from './pod-socket-sample.js';

export type { PodBucketLabels, PodSocketSample } from './pod-socket-sample.js';

/** What a cgroup directory is (as socket-cgroups.ts in src/kubernetes answers). */
export type CgroupPlace = { kind: 'pod'; uid: string; namespace: string; pod: string; container: string } | { kind: 'node' };

/** The cgroup tree and the names, as the state machine needs them. */
export interface SocketCgroupLookup {
  /** Called once at the start of each collection (names may be listed again after it). */
  newCollection(): void;
  /** Paths of those of `ids` that exist now. */
  locate(ids: readonly bigint[]): Map<bigint, string>;
  exists(id: bigint, path: string): boolean;
  /** Whether a directory (a pod's cgroup) exists at `path`. */
  dirExists(path: string): boolean;
  describe(path: string): CgroupPlace;
}

export type UnattributedReason = 'node' | 'unmapped' | 'map_full' | 'unnamed_pod';
export const UNATTRIBUTED_REASONS: readonly UnattributedReason[] = ['map_full', 'node', 'unmapped', 'unnamed_pod'];

export interface SocketRules {
  /** Split pods by container (`--collector.pods.containers`). */
  containers: boolean;
  /** How long a departed pod keeps its series (ms). */
  departedRetentionMs: number;
  /** How long a pod cgroup may wait for its pod's (and container's) names before it is placed without them (ms). */
  namesGraceMs: number;
}

type Counts = SocketCounts;

interface TrackedCgroup {
  id: bigint;
  /** Relative to the cgroup root; undefined for key 0. */
  path: string | undefined;
  /** Undefined while waiting for names. */
  bucket: string | undefined;
  /** Monotonic ms it was first seen (for the names grace). */
  firstSeenAt: number;
  counts: Counts;
}

interface Bucket {
  key: string;
  pod: PodBucketLabels | undefined;
  reason: UnattributedReason | undefined;
  /** The pod's cgroup directory (pod buckets): the pod lives while it exists. */
  podPath: string | undefined;
  /** Finals of cgroups gone from this bucket. */
  base: Counts;
  departedAt: number | undefined;
}

export interface SocketState {
  readonly at: number;
  readonly cgroups: ReadonlyMap<bigint, TrackedCgroup>;
  readonly buckets: ReadonlyMap<string, Bucket>;
  /** Totals of pod buckets dropped after their retention, by namespace. */
  readonly namespaceBase: ReadonlyMap<string, Counts>;
  /** Cgroups forgotten recently: an entry that comes back (a late packet) goes to the same bucket. */
  readonly gone: ReadonlyMap<bigint, GoneCgroup>;
}

interface GoneCgroup {
  bucket: string;
  at: number;
  /** What a kernel entry of this id already holds that is in the bucket: zero once it was deleted, its counts if deleting failed. */
  taken: Counts;
}

/**
 * Deletes kernel entries and returns what each held at its deletion, or
 * 'absent'; an id left out could not be deleted (SocketCounterSource.forget).
 */
export type ForgetEntries = (cgroupIds: readonly bigint[]) => ReadonlyMap<bigint, ForgottenEntry>;

export interface SocketStep {
  state: SocketState;
  /** Named pods (or containers), departed ones within their retention, sorted. */
  pods: PodSocketSample[];
  /** Per namespace, never decreasing. */
  namespaces: Array<{ namespace: string } & Counts>;
  /** By reason; every reason present (zeros included). */
  unattributed: Array<{ reason: UnattributedReason } & Counts>;
  /** Kernel entries whose final counts were taken and that were handed to `forget`. */
  forget: bigint[];
}

const zero = (): Counts => ({ ingress: { packets: 0n, bytes: 0n }, egress: { packets: 0n, bytes: 0n } });
const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];

function add(into: Counts, from: Counts, sign = 1n): void {
  for (const d of DIRECTIONS) {
    into[d].packets += sign * from[d].packets;
    into[d].bytes += sign * from[d].bytes;
  }
}

function copy(c: Counts): Counts {
  return { ingress: { ...c.ingress }, egress: { ...c.egress } };
}

export function podBucketKey(uid: string, container: string): string {
  return `p\u0000${uid}\u0000${container}`;
}

function reasonKey(reason: UnattributedReason): string {
  return `u\u0000${reason}`;
}

/** An empty state (also what a restart without carried state starts from). */
export function emptySocketState(nowMs: number): SocketState {
  return { at: nowMs, cgroups: new Map(), buckets: new Map(), namespaceBase: new Map(), gone: new Map() };
}

export function advanceSocketCollection(
  previous: SocketState | undefined,
  rows: readonly SocketCounterRow[],
  nowMs: number,
  rules: SocketRules,
  lookup: SocketCgroupLookup,
  /** Deletes finished entries. Without it nothing is deleted: the entries are read again and only what they add is counted. */
  forgetEntries?: ForgetEntries,
): SocketStep {
  const prev = previous ?? emptySocketState(nowMs);
  lookup.newCollection();
  const read = new Map<bigint, Counts>();
  for (const row of rows) {
    let c = read.get(row.cgroupId);
    if (!c) read.set(row.cgroupId, (c = zero()));
    c[row.direction] = { packets: row.packets, bytes: row.bytes };
  }
  const buckets = new Map<string, Bucket>();
  for (const [key, b] of prev.buckets) buckets.set(key, { ...b, base: copy(b.base) });
  const namespaceBase = new Map<string, Counts>();
  for (const [ns, c] of prev.namespaceBase) namespaceBase.set(ns, copy(c));
  const gone = new Map(prev.gone);
  const cgroups = new Map<bigint, TrackedCgroup>();
  const forget: bigint[] = [];
  /** Per forgotten id: its bucket and the counts of this read already put there. */
  const finishing = new Map<bigint, { bucket: string; taken: Counts }>();

  const bucketFor = (key: string, make: () => Omit<Bucket, 'key' | 'base' | 'departedAt'>): string => {
    if (!buckets.has(key)) buckets.set(key, { key, ...make(), base: zero(), departedAt: undefined });
    return key;
  };
  const unattributed = (reason: UnattributedReason): string =>
    bucketFor(reasonKey(reason), () => ({ pod: undefined, reason, podPath: undefined }));
  const podBucket = (place: Extract<CgroupPlace, { kind: 'pod' }>, path: string): string => {
    const container = rules.containers ? place.container : '';
    return bucketFor(podBucketKey(place.uid, container), () => ({
      pod: { uid: place.uid, namespace: place.namespace, pod: place.pod, container },
      reason: undefined,
      podPath: podDirOf(path),
    }));
  };
  /** A cgroup's final counts stay in its bucket; its kernel entry can go. */
  const finish = (c: TrackedCgroup, bucket: string): void => {
    add(buckets.get(bucket)!.base, c.counts);
    if (c.id !== 0n) {
      forget.push(c.id);
      finishing.set(c.id, { bucket, taken: copy(c.counts) });
    }
  };

  // Tracked cgroups: continue, or take their finals when their entry vanished.
  const fresh: bigint[] = [];
  for (const [id, counts] of read) {
    const before = prev.cgroups.get(id);
    if (!before) {
      fresh.push(id);
      continue;
    }
    if (before.bucket && (counts.ingress.packets < before.counts.ingress.packets || counts.egress.packets < before.counts.egress.packets))
      add(buckets.get(before.bucket)!.base, before.counts); // the kernel entry restarted: what it had counted stays
    cgroups.set(id, { ...before, counts });
  }
  for (const [id, before] of prev.cgroups) if (!read.has(id) && before.bucket) add(buckets.get(before.bucket)!.base, before.counts); // the entry was removed under us

  // New cgroups: placed from one walk of the tree.
  const paths = fresh.length > 0 ? lookup.locate(fresh.filter((id) => id !== 0n && !gone.has(id))) : new Map<bigint, string>();
  for (const id of fresh) {
    const counts = read.get(id)!;
    const c: TrackedCgroup = { id, path: paths.get(id), bucket: undefined, firstSeenAt: nowMs, counts };
    const wasGone = gone.get(id);
    if (id === 0n) c.bucket = unattributed('map_full');
    else if (wasGone && buckets.has(wasGone.bucket)) {
      // A late packet of a cgroup already finished (or an entry not forgotten): only what was not taken yet.
      const t = wasGone.taken;
      const continued = counts.ingress.packets >= t.ingress.packets && counts.egress.packets >= t.egress.packets;
      const late = copy(counts);
      if (continued) add(late, t, -1n);
      add(buckets.get(wasGone.bucket)!.base, late);
      forget.push(id);
      finishing.set(id, { bucket: wasGone.bucket, taken: counts });
      continue;
    } else if (c.path === undefined) {
      finish(c, unattributed('unmapped'));
      continue;
    }
    cgroups.set(id, c);
  }

  // Names for cgroups still waiting, and the end of cgroups whose directory is gone.
  for (const c of cgroups.values()) {
    if (c.path === undefined) continue; // key 0
    const exists = lookup.exists(c.id, c.path);
    if (!c.bucket) {
      const place = lookup.describe(c.path);
      const late = !exists || nowMs - c.firstSeenAt >= rules.namesGraceMs;
      if (place.kind === 'node') c.bucket = unattributed('node');
      else if (place.pod && (!rules.containers || place.container || late)) c.bucket = podBucket(place, c.path);
      else if (late) c.bucket = unattributed('unnamed_pod');
    }
    if (!exists) {
      cgroups.delete(c.id);
      finish(c, c.bucket ?? unattributed('unmapped'));
    }
  }
  for (const [id, g] of gone) if (nowMs - g.at > Math.max(rules.departedRetentionMs, rules.namesGraceMs)) gone.delete(id);

  // Delete the finished entries; what they counted since this read (late packets) joins their bucket.
  const deleted = forget.length > 0 && forgetEntries ? forgetEntries(forget) : new Map<bigint, ForgottenEntry>();
  for (const [id, f] of finishing) {
    const result = deleted.get(id);
    if (result === undefined) {
      gone.set(id, { bucket: f.bucket, at: nowMs, taken: f.taken }); // still there: read again, only what it adds counts
      continue;
    }
    if (result !== 'absent') add(buckets.get(f.bucket)!.base, lateCounts(result, f.taken));
    gone.set(id, { bucket: f.bucket, at: nowMs, taken: zero() }); // a new entry of this id holds only late packets
  }

  // Bucket totals, departures, and what is exported.
  const totals = new Map<string, Counts>();
  for (const [key, b] of buckets) totals.set(key, copy(b.base));
  const live = new Set<string>();
  for (const c of cgroups.values()) {
    if (!c.bucket) continue;
    add(totals.get(c.bucket)!, c.counts);
    live.add(c.bucket);
  }
  const pods: PodSocketSample[] = [];
  for (const [key, b] of buckets) {
    if (!b.pod) continue;
    const alive = live.has(key) || (b.podPath !== undefined && lookup.dirExists(b.podPath));
    b.departedAt = alive ? undefined : (b.departedAt ?? nowMs);
    if (b.departedAt !== undefined && nowMs - b.departedAt >= rules.departedRetentionMs) {
      const ns = namespaceBase.get(b.pod.namespace) ?? zero();
      add(ns, totals.get(key)!);
      namespaceBase.set(b.pod.namespace, ns);
      buckets.delete(key);
      continue;
    }
    pods.push({ ...b.pod, ...totals.get(key)!, departed: b.departedAt !== undefined });
  }
  pods.sort(
    (a, b) => compare(a.namespace, b.namespace) || compare(a.pod, b.pod) || compare(a.container, b.container) || compare(a.uid, b.uid),
  );

  const byNamespace = new Map<string, Counts>();
  for (const [ns, c] of namespaceBase) byNamespace.set(ns, copy(c));
  for (const p of pods) {
    const ns = byNamespace.get(p.namespace) ?? zero();
    add(ns, p);
    byNamespace.set(p.namespace, ns);
  }
  const namespaces = [...byNamespace].map(([namespace, c]) => ({ namespace, ...c })).sort((a, b) => compare(a.namespace, b.namespace));
  const unattributedOut = UNATTRIBUTED_REASONS.map((reason) => ({ reason, ...(totals.get(reasonKey(reason)) ?? zero()) }));
  return { state: { at: nowMs, cgroups, buckets, namespaceBase, gone }, pods, namespaces, unattributed: unattributedOut, forget };
}

/**
 * What continues across a restart of the exporter (with pins): which bucket
 * every cgroup went to and the counts it was last read at, every bucket's
 * base, the namespaces' bases and the blind-spot totals.
 */
export interface CarriedSocketState {
  cgroups: Array<{ id: bigint; path: string; bucket: string | undefined; counts: Counts }>;
  buckets: Array<{
    key: string;
    pod: PodBucketLabels | undefined;
    reason: UnattributedReason | undefined;
    podPath: string | undefined;
    base: Counts;
  }>;
  namespaces: Array<{ namespace: string } & Counts>;
  blind: Array<{ uid: string; namespace: string; pod: string; packets: bigint }>;
}

export function carriedSocketState(state: SocketState, blind: BlindSpotState | undefined): CarriedSocketState {
  // Key 0 (map full) has no path: carried with path ''.
  const cgroups = [...state.cgroups.values()].map((c) => ({ id: c.id, path: c.path ?? '', bucket: c.bucket, counts: c.counts }));
  const buckets = [...state.buckets.values()].map((b) => ({ key: b.key, pod: b.pod, reason: b.reason, podPath: b.podPath, base: b.base }));
  const namespaces = [...state.namespaceBase].map(([namespace, c]) => ({ namespace, ...copy(c) }));
  const blindOut = carriedBlindSpots(blind);
  return { cgroups, buckets, namespaces, blind: blindOut };
}

/**
 * The state a restarted exporter starts from: carried cgroups as if just
 * read (one whose directory went meanwhile gets its finals, downtime
 * included, in its own bucket), re-keyed if --collector.pods.containers
 * changed.
 */
export function restoredSocketState(
  carried: CarriedSocketState,
  nowMs: number,
  rules: SocketRules,
): { state: SocketState; blind: BlindSpotState } {
  const rekey = new Map<string, string>();
  const buckets = new Map<string, Bucket>();
  for (const b of carried.buckets) {
    let key = b.key;
    let pod = b.pod;
    if (pod) {
      pod = { ...pod, container: rules.containers ? pod.container : '' };
      key = podBucketKey(pod.uid, pod.container);
    }
    rekey.set(b.key, key);
    const into = buckets.get(key);
    if (into) add(into.base, b.base);
    else buckets.set(key, { key, pod, reason: b.reason, podPath: b.podPath, base: copy(b.base), departedAt: undefined });
  }
  const cgroups = new Map<bigint, TrackedCgroup>();
  for (const c of carried.cgroups) {
    const bucket = c.bucket === undefined ? undefined : rekey.get(c.bucket);
    cgroups.set(c.id, { id: c.id, path: c.id === 0n ? undefined : c.path, bucket, firstSeenAt: nowMs, counts: copy(c.counts) });
  }
  const namespaceBase = new Map<string, Counts>();
  for (const n of carried.namespaces) namespaceBase.set(n.namespace, copy(n));
  const blind = restoredBlindSpots(carried.blind);
  return { state: { at: nowMs, cgroups, buckets, namespaceBase, gone: new Map() }, blind };
}

/** What an entry counted after it was read: its counts at deletion minus those read (all of them if it restarted in between). */
function lateCounts(atDeletion: Counts, read: Counts): Counts {
  const late = copy(atDeletion);
  const continued = DIRECTIONS.every((d) => atDeletion[d].packets >= read[d].packets && atDeletion[d].bytes >= read[d].bytes);
  if (continued) add(late, read, -1n);
  return late;
}

/** The pod level directory of a container cgroup path (the path itself for a process directly in the pod's cgroup). */
function podDirOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return /(^|-)[0-9a-f]{64}(\.scope)?$/.test(path.slice(cut + 1)) ? path.slice(0, cut) : path;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
