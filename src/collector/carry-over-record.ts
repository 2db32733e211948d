/**
 * The carried state (collection-state.ts) as bytes: JSON with counters as
 * decimal strings, deflated (a node's few hundred pod interfaces take a few
 * KiB). A record that does not decode is reported and ignored: counting goes
 * on, only the namespace totals start again.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CarriedState, DirectionTotals, PacketsBytes } from './collection-state.js';

/** Bumped when the layout changes; a record of another version is not read. */
const RECORD_VERSION = 1;

type Json = string | number | null | Json[] | { [key: string]: Json };

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
  return deflateRawSync(JSON.stringify(json));
}

/** The carried state in `bytes`; throws an Error saying what is wrong when it is not a record this version writes. */
export function decodeCarriedState(bytes: Uint8Array): CarriedState {
  let json: unknown;
  try {
    json = JSON.parse(inflateRawSync(bytes).toString('utf8'));
  } catch (e) {
    throw new Error(`not a carry-over record (${(e as Error).message})`, { cause: e });
  }
  const record = json as { v?: unknown; interfaces?: unknown; namespaces?: unknown };
  if (typeof json !== 'object' || json === null || record.v !== RECORD_VERSION)
    throw new Error(`carry-over record of version ${String(record?.v)}; this version reads ${RECORD_VERSION}`);
  if (!Array.isArray(record.interfaces) || !Array.isArray(record.namespaces)) throw new Error('carry-over record without its lists');
  return {
    interfaces: record.interfaces.map((row: unknown) => {
      const [ifindex, name, uid, namespace, pod, ingress, egress] = tuple(row, 7);
      if (!Number.isSafeInteger(ifindex) || (ifindex as number) <= 0) throw new Error(`carry-over record: bad ifindex ${String(ifindex)}`);
      return {
        ifindex: ifindex as number,
        name: text(name),
        pod: { uid: text(uid), namespace: text(namespace), name: text(pod) },
        ingress: directionTotals(ingress),
        egress: directionTotals(egress),
      };
    }),
    namespaces: record.namespaces.map((row: unknown) => {
      const [namespace, ingress, egress] = tuple(row, 3);
      return { namespace: text(namespace), ingress: packetsBytes(ingress), egress: packetsBytes(egress) };
    }),
  };
}

function tuple(value: unknown, length: number): unknown[] {
  if (!Array.isArray(value) || value.length !== length)
    throw new Error(`carry-over record: expected ${length} fields, got ${JSON.stringify(value)}`);
  return value as unknown[];
}

function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`carry-over record: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

function counter(value: unknown): bigint {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value))
    throw new Error(`carry-over record: expected a count, got ${JSON.stringify(value)}`);
  return BigInt(value);
}

function packetsBytes(value: unknown): PacketsBytes {
  const [packets, bytes] = tuple(value, 2);
  return { packets: counter(packets), bytes: counter(bytes) };
}

function directionTotals(value: unknown): DirectionTotals {
  const [packets, bytes, segments] = tuple(value, 3);
  return { packets: counter(packets), bytes: counter(bytes), segments: counter(segments) };
}
