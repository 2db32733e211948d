/**
 * The carried drop state (drop-state.ts) as bytes, kept in the drop meter's
 * own carry-over store beside its pins: JSON with counters as decimal
 * strings, deflated. Buckets are listed once and kernel keys refer to them by
 * position. The record comes from a pinned map anybody with CAP_BPF can
 * write: its inflated size is bounded and every field checked, so a bad one
 * is reported and ignored (the drop totals start again), never a crash loop.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { counter as count, preview } from './carry-over-record.js';
import { kernelKey, type CarriedDropState, type DropBucket } from './drop-state.js';

const RECORD_VERSION = 1;
/** Largest inflated record read. */
export const MAX_DROP_INFLATED_BYTES = 4 * 1024 * 1024;
/** Most entries one list may hold (more than the drop meter's map or the series cap allow). */
const MAX_DROP_ENTRIES = 65_536;
/** Longest string field (names and reasons are far shorter). */
const MAX_TEXT = 512;

export function encodeDropState(state: CarriedDropState): Uint8Array {
  const index = new Map(state.buckets.map((b, i) => [b.key, i]));
  const json = {
    v: RECORD_VERSION,
    b: state.buckets.map((b) => [
      b.pod?.uid ?? '',
      b.pod?.namespace ?? '',
      b.pod?.pod ?? '',
      b.interface,
      b.reason,
      b.overflow ? 1 : 0,
      String(b.base),
    ]),
    k: state.keys.map((k) => {
      const [netns, ifindex, ifname, reason, cgroup] = k.key.split('\u0000');
      return [
        Number(netns),
        Number(ifindex),
        ifname,
        reason,
        cgroup,
        k.bucket === '' ? -1 : (index.get(k.bucket) ?? -1),
        String(k.packets),
      ];
    }),
    n: state.namespaces.map((n) => [n.namespace, n.reason, String(n.packets)]),
    o: String(state.overflowBase),
  };
  const text = JSON.stringify(json);
  if (text.length > MAX_DROP_INFLATED_BYTES)
    throw new Error(`the drop carry-over record would inflate to ${text.length} bytes; a reader accepts ${MAX_DROP_INFLATED_BYTES}`);
  return deflateRawSync(text);
}

/** Throws an Error saying what is wrong when `bytes` is not a record this version writes. */
export function decodeDropState(bytes: Uint8Array): CarriedDropState {
  let json: { v?: unknown; b?: unknown; k?: unknown; n?: unknown; o?: unknown };
  try {
    // maxOutputLength stops zlib at the bound instead of inflating a bomb to the end.
    json = JSON.parse(inflateRawSync(bytes, { maxOutputLength: MAX_DROP_INFLATED_BYTES }).toString('utf8')) as typeof json;
  } catch (e) {
    throw new Error(`not a drop carry-over record (${(e as Error).message})`, { cause: e });
  }
  if (typeof json !== 'object' || json === null || json.v !== RECORD_VERSION)
    throw new Error(`drop carry-over record of version ${preview(json?.v)}; this version reads ${RECORD_VERSION}`);
  const list = (v: unknown, width: number): unknown[][] => {
    if (!Array.isArray(v) || !v.every((row) => Array.isArray(row) && row.length === width))
      throw new Error('drop carry-over record without its lists');
    if (v.length > MAX_DROP_ENTRIES)
      throw new Error(`drop carry-over record: ${v.length} entries in one list; at most ${MAX_DROP_ENTRIES} are plausible`);
    return v as unknown[][];
  };
  const buckets: CarriedDropState['buckets'] = list(json.b, 7).map(([uid, namespace, pod, iface, reason, overflow, base]) => {
    const u = text(uid);
    const b: Omit<DropBucket, 'departedAt'> = {
      key: '',
      pod: u ? { uid: u, namespace: text(namespace), pod: text(pod) } : undefined,
      interface: text(iface),
      reason: text(reason),
      overflow: flag(overflow),
      base: count(base),
    };
    return b;
  });
  buckets.forEach((b, i) => (b.key = `#${i}`)); // restoredDropState re-keys them
  return {
    buckets,
    keys: list(json.k, 7).map(([netns, ifindex, ifname, reason, cgroup, bucket, packets]) => {
      const i = typeof bucket === 'number' ? bucket : NaN;
      if (!(i === -1 || (Number.isInteger(i) && i >= 0 && i < buckets.length)))
        throw new Error(`drop carry-over record: bad bucket ${preview(bucket)}`);
      const key = kernelKey({
        netnsInode: u32(netns),
        ifindex: u32(ifindex),
        interfaceName: text(ifname),
        reason: text(reason),
        socketCgroupId: count(cgroup),
        packets: 0n,
      });
      return { key, bucket: i === -1 ? '' : buckets[i]!.key, packets: count(packets) };
    }),
    namespaces: list(json.n, 3).map(([namespace, reason, packets]) => ({
      namespace: text(namespace),
      reason: text(reason),
      packets: count(packets),
    })),
    overflowBase: count(json.o),
  };
}

function text(v: unknown): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT)
    throw new Error(`drop carry-over record: expected a string of at most ${MAX_TEXT} characters, got ${preview(v)}`);
  return v;
}

function u32(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff)
    throw new Error(`drop carry-over record: expected a u32, got ${preview(v)}`);
  return v;
}

function flag(v: unknown): boolean {
  if (v !== 0 && v !== 1) throw new Error(`drop carry-over record: expected 0 or 1, got ${preview(v)}`);
  return v === 1;
}
