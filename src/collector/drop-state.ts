/**
 * Drops by reason, attributed: turns one read of the drop meter (cumulative
 * counts per {network namespace, device, reason, socket cgroup}) into
 * per-pod and per-namespace totals, given the state kept from the previous
 * collection. Pure apart from the `DropPodLookup` it is handed, so every
 * rule is unit-tested with fake rows.
 *
 * Where a drop goes (docs/metrics.md "Drops by reason"):
 * - in a pod's network namespace: that pod, `interface` the pod-side name;
 * - in the node's namespace with the socket of a hostNetwork pod: that pod;
 * - anywhere else (the node's own, other namespaces, the map-full key):
 *   empty `namespace` and `pod`.
 * A kernel key is placed once (sticky); a key in a namespace not known yet
 * waits up to `podGraceMs` for its pod (a drop while a pod starts, before
 * its first process) and counts nowhere meanwhile.
 *
 * Totals never go backwards while exported: a namespace that is gone leaves
 * its final counts in their buckets (and its kernel entries are forgotten);
 * so does a device of the node's namespace that is gone (its entries are
 * taken, final count and all, and its series of no pod depart after the
 * departed retention: a churning node's host veths do not pile up);
 * a departed pod's series stays for the departed retention, and its totals
 * stay in `netprobe_namespace_drops_total` for good. New series beyond
 * `maxSeries` count in their namespace total and in the overflow count only.
 */
import type { DropCounterRow } from '../source/drop-counter-source.js';

/** A pod as the lookup names it (`namespace`, `pod` '' while unknown). */
export interface DropPod {
  uid: string;
  namespace: string;
  pod: string;
}

/** The node's processes, cgroups and log directories, as attribution needs them (src/kubernetes/drop-pods.ts). */
export interface DropPodLookup {
  /** Called once at the start of each collection. */
  newCollection(): void;
  /** The pod whose network namespace has this inode, if one is known now. */
  podOfNetns(inode: number): DropPod | undefined;
  /** Whether the pod network namespace `inode` (one podOfNetns named) still exists. */
  netnsAlive(inode: number): boolean;
  /** The hostNetwork pod whose cgroup holds the socket cgroup `id`, if any. */
  podOfCgroup(id: bigint): DropPod | undefined;
  /** Whether the pod `uid` still runs on the node. */
  podAlive(uid: string): boolean;
}

/** One kernel entry, as the drop meter reads it. */
export type DropRow = DropCounterRow;

export interface DropRules {
  hostNetnsInode: number;
  /** How long a departed pod keeps its drop series (ms): the same as its traffic series. */
  departedRetentionMs: number;
  /** How long a key in an unknown namespace waits for its pod (ms). */
  podGraceMs: number;
  /** Most (pod, interface, reason) series exported; more count as overflow. */
  maxSeries: number;
}

export interface DropSample {
  uid: string;
  namespace: string;
  pod: string;
  interface: string;
  reason: string;
  packets: bigint;
  departed: boolean;
}

export interface NamespaceDropSample {
  namespace: string;
  reason: string;
  packets: bigint;
}

interface TrackedKey {
  netns: number;
  packets: bigint;
  /** Undefined while waiting for its pod. */
  bucket: string | undefined;
  /** Its pod departed and was dropped after its retention (a hostNetwork pod's key stays in the node's namespace): counts nowhere. */
  retired?: boolean;
  /** Monotonic ms first seen (for the pod grace). */
  firstSeenAt: number;
}

export interface DropBucket {
  key: string;
  /** Undefined for drops of no pod. */
  pod: DropPod | undefined;
  interface: string;
  reason: string;
  /** Beyond the series cap: counted in its namespace and the overflow count, not exported on its own. */
  overflow: boolean;
  /** Finals of kernel keys gone from this bucket. */
  base: bigint;
  departedAt: number | undefined;
}

interface GoneKey {
  bucket: string;
  at: number;
  /** Counts already taken into the bucket (the kernel entry may still hold them if forgetting failed). */
  taken: bigint;
}

export interface DropState {
  readonly keys: ReadonlyMap<string, TrackedKey>;
  readonly buckets: ReadonlyMap<string, DropBucket>;
  /** Totals of pod buckets dropped after their retention, by namespace and reason. */
  readonly namespaceBase: ReadonlyMap<string, bigint>;
  /** Overflow packets of buckets dropped after their retention. */
  readonly overflowBase: bigint;
  /** Kernel keys of namespaces forgotten recently: a late drop goes to the same bucket. */
  readonly gone: ReadonlyMap<string, GoneKey>;
}

/** The node namespace's devices, for retiring the drops of those that are gone. */
export interface DropNode {
  /** Ifindexes of the node namespace's devices, read after the drop counters; undefined: unknown (nothing is retired). */
  devices?: ReadonlySet<number>;
  /**
   * Deletes the kernel entries of these rows and returns each one's count at
   * its deletion, in the rows' order (undefined: the entry was already gone).
   * Without it nothing is retired.
   */
  take?: (rows: readonly DropRow[]) => ReadonlyArray<bigint | undefined>;
}

export interface DropStep {
  state: DropState;
  /** Exported series, departed ones within their retention, sorted. */
  drops: DropSample[];
  /** Per namespace and reason, never decreasing. */
  namespaces: NamespaceDropSample[];
  /** Packets counted under keys beyond the series cap (never decreasing). */
  overflowPackets: bigint;
  /** Network namespaces whose final counts were taken: hand them to the meter's forgetNamespaces(). */
  forget: number[];
}

const SEP = '\u0000';

export function kernelKey(r: DropRow): string {
  return [r.netnsInode, r.ifindex, r.interfaceName, r.reason, r.socketCgroupId].join(SEP);
}

function netnsOfKernelKey(key: string): number {
  return Number(key.slice(0, key.indexOf(SEP)));
}

function bucketKey(pod: DropPod | undefined, iface: string, reason: string): string {
  return [pod?.uid ?? '', iface, reason].join(SEP);
}

/** The namespace-total key of a namespace and reason. */
function nsKey(namespace: string, reason: string): string {
  return `${namespace}${SEP}${reason}`;
}

export function emptyDropState(): DropState {
  return { keys: new Map(), buckets: new Map(), namespaceBase: new Map(), overflowBase: 0n, gone: new Map() };
}

export function advanceDropCollection(
  previous: DropState | undefined,
  rows: readonly DropRow[],
  nowMs: number,
  rules: DropRules,
  lookup: DropPodLookup,
  node: DropNode = {},
): DropStep {
  const prev = previous ?? emptyDropState();
  lookup.newCollection();
  const read = new Map<string, bigint>();
  for (const row of rows) {
    const k = kernelKey(row);
    read.set(k, (read.get(k) ?? 0n) + row.packets);
  }
  const rowOf = new Map<string, DropRow>();
  for (const row of rows) rowOf.set(kernelKey(row), row);
  const buckets = new Map<string, DropBucket>();
  for (const [k, b] of prev.buckets) buckets.set(k, { ...b });
  const namespaceBase = new Map(prev.namespaceBase);
  let overflowBase = prev.overflowBase;
  const gone = new Map(prev.gone);
  const keys = new Map<string, TrackedKey>();
  const forget = new Set<number>();
  let exported = [...buckets.values()].filter((b) => !b.overflow).length;

  const bucketFor = (pod: DropPod | undefined, iface: string, reason: string): string => {
    const key = bucketKey(pod, iface, reason);
    if (buckets.has(key)) return key;
    // Over the cap: one hidden bucket per pod and reason (its namespace total stays exact).
    const overflow = exported >= rules.maxSeries;
    const k = overflow ? bucketKey(pod, `${SEP}overflow`, reason) : key;
    if (!buckets.has(k)) {
      buckets.set(k, { key: k, pod, interface: overflow ? '' : iface, reason, overflow, base: 0n, departedAt: undefined });
      if (!overflow) exported++;
    }
    return k;
  };
  const addBase = (bucket: string, packets: bigint): void => {
    buckets.get(bucket)!.base += packets;
  };

  // Tracked keys: continue, or keep what they had when their entry restarted or vanished.
  const fresh: string[] = [];
  for (const [k, packets] of read) {
    const before = prev.keys.get(k);
    if (!before) {
      fresh.push(k);
      continue;
    }
    if (before.bucket && packets < before.packets) addBase(before.bucket, before.packets); // the entry restarted
    keys.set(k, { ...before, packets });
  }
  for (const [k, before] of prev.keys) if (!read.has(k) && before.bucket) addBase(before.bucket, before.packets);

  // New keys: a late drop of a forgotten namespace, or placed now (or waiting for their pod).
  for (const k of fresh) {
    const packets = read.get(k)!;
    const row = rowOf.get(k)!;
    const wasGone = gone.get(k);
    if (wasGone && buckets.has(wasGone.bucket) && row.netnsInode === rules.hostNetnsInode) {
      // A node device's entry that was taken (so it starts again from 0): its bucket continues.
      keys.set(k, { netns: row.netnsInode, packets, bucket: wasGone.bucket, firstSeenAt: nowMs });
      gone.delete(k);
      continue;
    }
    if (wasGone && buckets.has(wasGone.bucket)) {
      const owner = lookup.podOfNetns(row.netnsInode);
      if (owner === undefined || owner.uid === buckets.get(wasGone.bucket)!.pod?.uid) {
        addBase(wasGone.bucket, packets >= wasGone.taken ? packets - wasGone.taken : packets);
        forget.add(row.netnsInode);
        gone.set(k, { bucket: wasGone.bucket, at: nowMs, taken: packets });
        continue;
      }
      gone.delete(k); // the inode now names another pod's namespace
    }
    keys.set(k, { netns: row.netnsInode, packets, bucket: undefined, firstSeenAt: nowMs });
  }

  // Placement of keys still waiting.
  for (const [k, t] of keys) {
    if (t.bucket || t.retired) continue;
    const row = rowOf.get(k)!;
    const iface = row.interfaceName;
    if (t.netns === rules.hostNetnsInode) {
      const pod = row.socketCgroupId !== 0n ? lookup.podOfCgroup(row.socketCgroupId) : undefined;
      t.bucket = bucketFor(pod, iface, row.reason);
    } else if (t.netns === 0) t.bucket = bucketFor(undefined, iface, row.reason);
    else {
      const pod = lookup.podOfNetns(t.netns);
      const late = nowMs - t.firstSeenAt >= rules.podGraceMs;
      if (pod && (pod.pod || late)) t.bucket = bucketFor(pod, iface, row.reason);
      else if (late) t.bucket = bucketFor(undefined, iface, row.reason);
    }
  }

  // Node devices that are gone: their entries are taken whole (a drop between the read and the delete included).
  if (node.devices && node.take) {
    const retire: DropRow[] = [];
    for (const [k, t] of keys) {
      const row = rowOf.get(k)!;
      if (t.netns === rules.hostNetnsInode && t.bucket && row.ifindex !== 0 && !node.devices.has(row.ifindex)) retire.push(row);
    }
    const finals = retire.length > 0 ? node.take(retire) : [];
    for (const [i, row] of retire.entries()) {
      const k = kernelKey(row);
      const t = keys.get(k)!;
      const final = finals[i];
      addBase(t.bucket!, final !== undefined && final > t.packets ? final : t.packets);
      gone.set(k, { bucket: t.bucket!, at: nowMs, taken: 0n });
      keys.delete(k);
    }
  }

  // Pod namespaces that are gone: their finals stay, their kernel entries go.
  const podNetns = new Set<number>();
  for (const t of keys.values()) if (t.bucket && buckets.get(t.bucket)!.pod && t.netns !== rules.hostNetnsInode) podNetns.add(t.netns);
  for (const netns of podNetns) {
    if (lookup.netnsAlive(netns)) continue;
    forget.add(netns);
    for (const [k, t] of keys) {
      if (t.netns !== netns || !t.bucket) continue;
      addBase(t.bucket, t.packets);
      gone.set(k, { bucket: t.bucket, at: nowMs, taken: t.packets });
      keys.delete(k);
    }
  }
  for (const [k, g] of gone)
    if (nowMs - g.at > Math.max(rules.departedRetentionMs, rules.podGraceMs) || !buckets.has(g.bucket)) gone.delete(k);

  // Totals, departures, and what is exported.
  const totals = new Map<string, bigint>();
  for (const [k, b] of buckets) totals.set(k, b.base);
  const live = new Set<string>();
  for (const t of keys.values()) {
    if (!t.bucket) continue;
    totals.set(t.bucket, totals.get(t.bucket)! + t.packets);
    if (t.netns !== rules.hostNetnsInode) live.add(t.bucket);
  }
  const fed = new Set<string>();
  for (const t of keys.values()) if (t.bucket) fed.add(t.bucket);
  const drops: DropSample[] = [];
  let liveOverflow = 0n;
  const alive = new Map<string, boolean>();
  for (const [k, b] of buckets) {
    if (!b.pod && b.interface !== '' && !b.overflow) {
      // A device's series of no pod: it departs when no kernel entry feeds it any more (the device is gone).
      b.departedAt = fed.has(k) ? undefined : (b.departedAt ?? nowMs);
      if (b.departedAt !== undefined && nowMs - b.departedAt >= rules.departedRetentionMs) {
        buckets.delete(k);
        exported--;
        continue;
      }
    }
    if (b.pod) {
      let up = alive.get(b.pod.uid);
      if (up === undefined) alive.set(b.pod.uid, (up = live.has(k) || lookup.podAlive(b.pod.uid)));
      b.departedAt = up ? undefined : (b.departedAt ?? nowMs);
      if (b.departedAt !== undefined && nowMs - b.departedAt >= rules.departedRetentionMs) {
        if (b.pod.namespace) {
          const n = nsKey(b.pod.namespace, b.reason);
          namespaceBase.set(n, (namespaceBase.get(n) ?? 0n) + totals.get(k)!);
        }
        if (b.overflow) overflowBase += totals.get(k)!;
        for (const t of keys.values())
          if (t.bucket === k) {
            t.bucket = undefined;
            t.retired = true;
          }
        buckets.delete(k);
        if (!b.overflow) exported--;
        continue;
      }
    }
    if (b.overflow) {
      liveOverflow += totals.get(k)!;
      continue;
    }
    drops.push({
      uid: b.pod?.uid ?? '',
      namespace: b.pod?.namespace ?? '',
      pod: b.pod?.pod ?? '',
      interface: b.interface,
      reason: b.reason,
      packets: totals.get(k)!,
      departed: b.departedAt !== undefined,
    });
  }
  drops.sort(
    (a, b) =>
      compare(a.namespace, b.namespace) ||
      compare(a.pod, b.pod) ||
      compare(a.interface, b.interface) ||
      compare(a.reason, b.reason) ||
      compare(a.uid, b.uid),
  );

  const byNamespace = new Map(namespaceBase);
  for (const [k, b] of buckets) {
    if (!b.pod?.namespace) continue;
    const n = nsKey(b.pod.namespace, b.reason);
    byNamespace.set(n, (byNamespace.get(n) ?? 0n) + totals.get(k)!);
  }
  const namespaces = [...byNamespace]
    .map(([n, packets]) => {
      const [namespace, reason] = n.split(SEP) as [string, string];
      return { namespace, reason, packets };
    })
    .sort((a, b) => compare(a.namespace, b.namespace) || compare(a.reason, b.reason));
  return {
    state: { keys, buckets, namespaceBase, overflowBase, gone },
    drops,
    namespaces,
    overflowPackets: overflowBase + liveOverflow,
    forget: [...forget].sort((a, b) => a - b),
  };
}

/**
 * What continues across a restart (with pins): every placed kernel key with
 * its bucket and last count, every bucket's base, the namespaces' bases. A
 * restarted exporter then continues each series where it stopped; the pinned
 * kernel map kept counting meanwhile.
 */
export interface CarriedDropState {
  /** `bucket` '' for a retired key. */
  keys: Array<{ key: string; bucket: string; packets: bigint }>;
  buckets: Array<Omit<DropBucket, 'departedAt'>>;
  namespaces: NamespaceDropSample[];
  overflowBase: bigint;
}

export function carriedDropState(state: DropState): CarriedDropState {
  const keys: CarriedDropState['keys'] = [];
  for (const [key, t] of state.keys) if (t.bucket || t.retired) keys.push({ key, bucket: t.bucket ?? '', packets: t.packets });
  const buckets = [...state.buckets.values()].map(({ departedAt: _departed, ...b }) => ({ ...b }));
  const namespaces = [...state.namespaceBase].map(([n, packets]) => {
    const [namespace, reason] = n.split(SEP) as [string, string];
    return { namespace, reason, packets };
  });
  return { keys, buckets, namespaces, overflowBase: state.overflowBase };
}

/** The state a restarted exporter starts from; throws when the record refers to a bucket it does not hold. */
export function restoredDropState(carried: CarriedDropState, nowMs: number): DropState {
  const buckets = new Map<string, DropBucket>();
  for (const b of carried.buckets) {
    const key = b.overflow ? bucketKey(b.pod, `${SEP}overflow`, b.reason) : bucketKey(b.pod, b.interface, b.reason);
    buckets.set(key, { ...b, key, departedAt: undefined });
  }
  const keys = new Map<string, TrackedKey>();
  const byOldKey = new Map(carried.buckets.map((b) => [b.key, b]));
  for (const k of carried.keys) {
    const netns = netnsOfKernelKey(k.key);
    if (k.bucket === '') {
      keys.set(k.key, { netns, packets: k.packets, bucket: undefined, retired: true, firstSeenAt: nowMs });
      continue;
    }
    const b = byOldKey.get(k.bucket);
    if (!b) throw new Error(`drop carry-over record: a key refers to an unknown bucket`);
    const bucket = b.overflow ? bucketKey(b.pod, `${SEP}overflow`, b.reason) : bucketKey(b.pod, b.interface, b.reason);
    keys.set(k.key, { netns, packets: k.packets, bucket, firstSeenAt: nowMs });
  }
  const namespaceBase = new Map<string, bigint>();
  for (const n of carried.namespaces) namespaceBase.set(nsKey(n.namespace, n.reason), n.packets);
  return { keys, buckets, namespaceBase, overflowBase: carried.overflowBase, gone: new Map() };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
