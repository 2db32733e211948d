/**
 * The carried pod-side state (socket-state.ts) as bytes, kept in the socket
 * meter's own carry-over store beside its pins: JSON with counters as
 * decimal strings, deflated. Buckets are listed once and cgroups refer to
 * them by position, so a node's few hundred container cgroups take a few KiB.
 * A record that does not decode is reported and ignored (the pod-side totals
 * start again; nothing else is affected). The record comes from a pinned map
 * anybody with CAP_BPF can write: its inflated size is bounded and every
 * field checked, so a bad one costs milliseconds, not a crash loop.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { counter as count, preview } from './carry-over-record.js';
import type { CarriedSocketState, UnattributedReason } from './socket-state.js';
import { UNATTRIBUTED_REASONS } from './socket-state.js';

const RECORD_VERSION = 1;
/** Largest inflated record read: the socket meter's map holds 16,384 cgroups of ~150 JSON bytes each at most. */
export const MAX_SOCKET_INFLATED_BYTES = 4 * 1024 * 1024;
/** Most entries one list may hold (the socket meter's map capacity). */
const MAX_SOCKET_ENTRIES = 16_384;
/** Longest string field (a cgroup path; names are far shorter). */
const MAX_TEXT = 4096;

type Counts = CarriedSocketState['buckets'][number]['base'];
type CountsJson = [string, string, string, string];

const countsJson = (c: Counts): CountsJson => [
  String(c.ingress.packets),
  String(c.ingress.bytes),
  String(c.egress.packets),
  String(c.egress.bytes),
];

export function encodeSocketState(state: CarriedSocketState): Uint8Array {
  const index = new Map(state.buckets.map((b, i) => [b.key, i]));
  const json = {
    v: RECORD_VERSION,
    b: state.buckets.map((b) =>
      b.pod
        ? ['pod', b.pod.uid, b.pod.namespace, b.pod.pod, b.pod.container, b.podPath ?? '', countsJson(b.base)]
        : ['unattributed', b.reason ?? 'unmapped', countsJson(b.base)],
    ),
    c: state.cgroups.map((c) => [String(c.id), c.path, c.bucket === undefined ? -1 : (index.get(c.bucket) ?? -1), countsJson(c.counts)]),
    n: state.namespaces.map((n) => [n.namespace, countsJson(n)]),
    x: state.blind.map((b) => [b.uid, b.namespace, b.pod, String(b.packets)]),
  };
  const text = JSON.stringify(json);
  if (text.length > MAX_SOCKET_INFLATED_BYTES)
    throw new Error(
      `the pod socket carry-over record would inflate to ${text.length} bytes; a reader accepts ${MAX_SOCKET_INFLATED_BYTES}`,
    );
  return deflateRawSync(text);
}

/** Throws an Error saying what is wrong when `bytes` is not a record this version writes. */
export function decodeSocketState(bytes: Uint8Array, podBucketKey: (uid: string, container: string) => string): CarriedSocketState {
  let json: { v?: unknown; b?: unknown; c?: unknown; n?: unknown; x?: unknown };
  try {
    // maxOutputLength stops zlib at the bound instead of inflating a bomb to the end.
    json = JSON.parse(inflateRawSync(bytes, { maxOutputLength: MAX_SOCKET_INFLATED_BYTES }).toString('utf8')) as typeof json;
  } catch (e) {
    throw new Error(`not a pod socket carry-over record (${(e as Error).message})`, { cause: e });
  }
  if (typeof json !== 'object' || json === null || json.v !== RECORD_VERSION)
    throw new Error(`pod socket carry-over record of version ${preview(json?.v)}; this version reads ${RECORD_VERSION}`);
  const list = (v: unknown): unknown[][] => {
    if (!Array.isArray(v) || !v.every(Array.isArray)) throw new Error('pod socket carry-over record without its lists');
    if (v.length > MAX_SOCKET_ENTRIES)
      throw new Error(`pod socket carry-over record: ${v.length} entries in one list; at most ${MAX_SOCKET_ENTRIES} are plausible`);
    return v as unknown[][];
  };
  const buckets: CarriedSocketState['buckets'] = list(json.b).map((row) => {
    if (row[0] === 'pod') {
      const [, uid, namespace, pod, container, podPath, base] = row;
      const labels = { uid: text(uid), namespace: text(namespace), pod: text(pod), container: text(container) };
      return {
        key: podBucketKey(labels.uid, labels.container),
        pod: labels,
        reason: undefined,
        podPath: text(podPath) || undefined,
        base: counts(base),
      };
    }
    const reason = text(row[1]) as UnattributedReason;
    if (!UNATTRIBUTED_REASONS.includes(reason)) throw new Error(`pod socket carry-over record: unknown reason ${preview(reason)}`);
    return { key: `u\u0000${reason}`, pod: undefined, reason, podPath: undefined, base: counts(row[2]) };
  });
  return {
    buckets,
    cgroups: list(json.c).map(([id, path, bucket, c]) => {
      const i = typeof bucket === 'number' ? bucket : NaN;
      if (!(i === -1 || (Number.isInteger(i) && i >= 0 && i < buckets.length)))
        throw new Error(`pod socket carry-over record: bad bucket ${String(bucket)}`);
      return { id: count(id), path: text(path), bucket: i === -1 ? undefined : buckets[i]!.key, counts: counts(c) };
    }),
    namespaces: list(json.n).map(([namespace, c]) => ({ namespace: text(namespace), ...counts(c) })),
    blind: list(json.x).map(([uid, namespace, pod, packets]) => ({
      uid: text(uid),
      namespace: text(namespace),
      pod: text(pod),
      packets: count(packets),
    })),
  };
}

function text(v: unknown): string {
  if (typeof v !== 'string' || v.length > MAX_TEXT)
    throw new Error(`pod socket carry-over record: expected a string of at most ${MAX_TEXT} characters, got ${preview(v)}`);
  return v;
}

function counts(v: unknown): Counts {
  if (!Array.isArray(v) || v.length !== 4) throw new Error(`pod socket carry-over record: expected 4 counts, got ${preview(v)}`);
  const [ip, ib, ep, eb] = v.map(count) as [bigint, bigint, bigint, bigint];
  return { ingress: { packets: ip, bytes: ib }, egress: { packets: ep, bytes: eb } };
}
