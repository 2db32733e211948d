/**
 * The carried state (collection-state.ts) as bytes: JSON with counters as
 * decimal strings, deflated (a node's few hundred pod interfaces take a few
 * KiB). A record that does not decode is reported and ignored: counting goes
 * on, only the namespace totals start again.
 *
 * The record is read from a pinned map that outlives this process, so it is
 * input like any other: its inflated size is bounded before it is parsed (a
 * small deflate bomb must not stall the start, nor fill the state with
 * millions of entries that every collection then walks), and every field is
 * checked — counters are u64, never negative, names have the kernel's and
 * Kubernetes' shapes and lengths.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CarriedState, DirectionTotals, PacketsBytes } from './collection-state.js';

/** Bumped when the layout changes; a record of another version is not read. */
const RECORD_VERSION = 1;

/**
 * Largest inflated record read or written: 8 × the pinned map's 64 KiB. A
 * real record deflates about 2:1 (UIDs and counters do not compress), so this
 * leaves room four times over and stops a bomb after half a MiB.
 */
export const MAX_INFLATED_BYTES = 512 * 1024;
/** More pod interfaces (or namespaces) than the 64 KiB map can hold (~700): a record claiming more is not one of ours. */
export const MAX_ENTRIES = 4096;
const U64_MAX = (1n << 64n) - 1n;
const IFINDEX_MAX = 2 ** 31 - 1;
/** The kernel's IFNAMSIZ - 1; names never contain '/', whitespace or control characters. */
const INTERFACE_NAME = /^[^/\s\p{Cc}]{1,15}$/u;
/** Pod UIDs as the cgroup parser writes them (UUID or a static pod's hash); kept loose in the charset, tight in length. */
const POD_UID = /^[A-Za-z0-9_-]{1,64}$/;
/** A namespace or pod name (DNS label/subdomain), or '' when unknown. */
const K8S_NAME = /^(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?)?$/;

type Json = string | number | null | Json[] | { [key: string]: Json };

/** The record's bytes; throws when even the uncompressed JSON exceeds what a reader accepts. */
export function encodeCarriedState(state: CarriedState): Uint8Array {
  const counts = (c: PacketsBytes | DirectionTotals): Json =>
    'segments' in c ? [String(c.packets), String(c.bytes), String(c.segments)] : [String(c.packets), String(c.bytes)];
  const json: Json = {
    v: RECORD_VERSION,
    interfaces: state.interfaces.map((i) => [
      i.ifindex,
      i.name,
      i.pod.uid,
      i.pod.namespace,
      i.pod.name,
      counts(i.ingress),
      counts(i.egress),
    ]),
    namespaces: state.namespaces.map((n) => [n.namespace, counts(n.ingress), counts(n.egress)]),
  };
  const text = Buffer.from(JSON.stringify(json), 'utf8');
  if (text.length > MAX_INFLATED_BYTES)
    throw new Error(`the carry-over record would inflate to ${text.length} bytes; a reader accepts ${MAX_INFLATED_BYTES}`);
  return deflateRawSync(text);
}

/** The carried state in `bytes`; throws an Error saying what is wrong when it is not a record this version writes. */
export function decodeCarriedState(bytes: Uint8Array): CarriedState {
  let inflated: Buffer;
  try {
    // maxOutputLength makes zlib stop at the bound instead of inflating a bomb to the end.
    inflated = inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(`not a carry-over record (it inflates to more than ${MAX_INFLATED_BYTES} bytes)`, { cause: e });
    throw new Error(`not a carry-over record (${(e as Error).message})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(inflated.toString('utf8'));
  } catch (e) {
    throw new Error(`not a carry-over record (${(e as Error).message})`, { cause: e });
  }
  const record = json as { v?: unknown; interfaces?: unknown; namespaces?: unknown };
  if (typeof json !== 'object' || json === null || Array.isArray(json) || record.v !== RECORD_VERSION)
    throw new Error(`carry-over record of version ${String(record?.v)}; this version reads ${RECORD_VERSION}`);
  if (!Array.isArray(record.interfaces) || !Array.isArray(record.namespaces)) throw new Error('carry-over record without its lists');
  for (const [what, list] of [
    ['interfaces', record.interfaces],
    ['namespaces', record.namespaces],
  ] as const)
    if (list.length > MAX_ENTRIES) throw new Error(`carry-over record: ${list.length} ${what}; at most ${MAX_ENTRIES} are plausible`);
  const ifindexes = new Set<number>();
  const interfaces = record.interfaces.map((row: unknown) => {
    const [ifindex, name, uid, namespace, pod, ingress, egress] = tuple(row, 7);
    if (typeof ifindex !== 'number' || !Number.isSafeInteger(ifindex) || ifindex <= 0 || ifindex > IFINDEX_MAX)
      throw new Error(`carry-over record: bad ifindex ${JSON.stringify(ifindex)}`);
    if (ifindexes.has(ifindex)) throw new Error(`carry-over record: ifindex ${ifindex} twice`);
    ifindexes.add(ifindex);
    return {
      ifindex,
      name: text(name, INTERFACE_NAME, 'interface name'),
      pod: { uid: text(uid, POD_UID, 'pod UID'), namespace: text(namespace, K8S_NAME, 'namespace'), name: text(pod, K8S_NAME, 'pod name') },
      ingress: directionTotals(ingress),
      egress: directionTotals(egress),
    };
  });
  const namespaceNames = new Set<string>();
  const namespaces = record.namespaces.map((row: unknown) => {
    const [namespace, ingress, egress] = tuple(row, 3);
    const name = text(namespace, K8S_NAME, 'namespace');
    if (name === '' || namespaceNames.has(name)) throw new Error(`carry-over record: namespace ${JSON.stringify(name)} empty or twice`);
    namespaceNames.add(name);
    return { namespace: name, ingress: packetsBytes(ingress), egress: packetsBytes(egress) };
  });
  return { interfaces, namespaces };
}

function tuple(value: unknown, length: number): unknown[] {
  if (!Array.isArray(value) || value.length !== length)
    throw new Error(`carry-over record: expected ${length} fields, got ${preview(value)}`);
  return value as unknown[];
}

function text(value: unknown, shape: RegExp, what: string): string {
  if (typeof value !== 'string' || !shape.test(value)) throw new Error(`carry-over record: bad ${what} ${preview(value)}`);
  return value;
}

/** A counter: a decimal string of a u64 (never negative, never above 2^64 - 1). */
export function counter(value: unknown): bigint {
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value) || BigInt(value) > U64_MAX)
    throw new Error(`carry-over record: expected a count (a u64 in decimal), got ${preview(value)}`);
  return BigInt(value);
}

/** At most 80 characters of a bad value, so one log line stays one line. */
export function preview(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function packetsBytes(value: unknown): PacketsBytes {
  const [packets, bytes] = tuple(value, 2);
  return { packets: counter(packets), bytes: counter(bytes) };
}

function directionTotals(value: unknown): DirectionTotals {
  const [packets, bytes, segments] = tuple(value, 3);
  return { packets: counter(packets), bytes: counter(bytes), segments: counter(segments) };
}
