/**
 * The overview document as served: built and gzipped at most once per
 * collection (the Exporter builds it on the first request after a collection
 * and keeps it), so a browser left open on `/` or a `netprobe top` costs a
 * memory copy per refresh, and nobody watching costs nothing. The JSON
 * escapes `<` (still valid JSON) so the same bytes can be embedded in the
 * page's HTML: no `</script>` or `<!--` can appear in it.
 */
import { gzipSync, constants as zlibConstants } from 'node:zlib';
import type { InterfaceSample, DirectionSample } from '../collector/interface-sample.js';
import { HISTORY_WINDOW_MS, type RateHistory } from '../collector/rate-history.js';
import type { DropRateHistory } from '../collector/drop-rate-history.js';
import type { OverviewDirection, OverviewDocument, OverviewDrops, OverviewInterface, OverviewTrust } from './overview-document.js';
import { currentRole, type InterfaceRole } from '../net/interface-role.js';

/** Interfaces whose history the document carries. */
export const OVERVIEW_TOP_INTERFACES = 5;

export interface OverviewInput {
  samples: readonly InterfaceSample[];
  /** Everything in `trust` except uptime, which is derived from `nowMs`. */
  trust: Omit<OverviewTrust, 'uptimeSeconds'>;
  history: RateHistory;
  /** Drops/s by reason, recorded with `history`'s points (with the ebpf source). */
  dropHistory?: DropRateHistory;
  /** Every interface's kind and role by ifindex; the uplinks' sum is the node totals. */
  roles?: ReadonlyMap<number, InterfaceRole>;
  /** Wall-clock ms of this build. */
  nowMs: number;
  /** Drops by reason (present with the ebpf source). */
  drops?: OverviewDrops;
}

export interface OverviewSnapshot {
  /** The JSON document, UTF-8, HTML-safe. */
  json: Buffer;
  gzip: Buffer;
  /** Interfaces in the document (for logs and tests). */
  interfaces: number;
}

function direction(d: DirectionSample): OverviewDirection {
  return { bytesPerSecond: d.bytesPerSecond, packetsPerSecond: d.packetsPerSecond, bytes: Number(d.bytes), packets: Number(d.packets) };
}

type Extras = Pick<OverviewInterface, 'namespace' | 'pod' | 'kind' | 'role' | 'departed'>;

/** Pod labels, kind and role, and the departed mark, only where known. */
function extras(s: InterfaceSample, roles: OverviewInput['roles']): Extras {
  const out: Extras = {};
  if (s.namespace !== undefined) out.namespace = s.namespace;
  if (s.pod !== undefined) out.pod = s.pod;
  const r = currentRole(roles, s);
  if (r) {
    out.kind = r.kind;
    out.role = r.role;
  }
  if (s.departed) out.departed = true;
  return out;
}

/** The busiest `n` interfaces by bytes/s both ways; ties by name, so the choice is stable. */
export function busiestInterfaces(samples: readonly InterfaceSample[], n: number): InterfaceSample[] {
  const total = (s: InterfaceSample): number => s.ingress.bytesPerSecond + s.egress.bytesPerSecond;
  return [...samples]
    .sort((a, b) => total(b) - total(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : a.ifindex - b.ifindex))
    .slice(0, n);
}

export function buildOverviewDocument(input: OverviewInput): OverviewDocument {
  const interfaces: OverviewInterface[] = input.samples.map((s) => ({
    name: s.name,
    ifindex: s.ifindex,
    active: s.active,
    ...extras(s, input.roles),
    ingress: direction(s.ingress),
    egress: direction(s.egress),
    ...(s.faults
      ? {
          drops: { ingress: Number(s.faults.rxDropped), egress: Number(s.faults.txDropped) },
          errors: { ingress: Number(s.faults.rxErrors), egress: Number(s.faults.txErrors) },
        }
      : {}),
  }));
  const uplinks = interfaces.filter((i) => i.role === 'uplink');
  const sum = (pick: (i: OverviewInterface) => OverviewDirection): OverviewDirection => {
    const t = { bytesPerSecond: 0, packetsPerSecond: 0, bytes: 0, packets: 0 };
    for (const i of uplinks) {
      const d = pick(i);
      t.bytesPerSecond += d.bytesPerSecond;
      t.packetsPerSecond += d.packetsPerSecond;
      t.bytes += d.bytes;
      t.packets += d.packets;
    }
    return t;
  };
  const totals = input.history.totalsHistory();
  const top = busiestInterfaces(input.samples, OVERVIEW_TOP_INTERFACES).map((s) => ({
    name: s.name,
    ifindex: s.ifindex,
    ...(s.namespace !== undefined ? { namespace: s.namespace } : {}),
    ...(s.pod !== undefined ? { pod: s.pod } : {}),
    bytesPerSecond: input.history.interfaceHistory(s.ifindex, s.name) ?? totals.times.map(() => null),
  }));
  return {
    schema: 1,
    generatedAt: input.nowMs,
    trust: { ...input.trust, uptimeSeconds: Math.max(0, Math.round((input.nowMs - input.trust.startedAt) / 1000)) },
    ...(input.drops ? { drops: input.drops } : {}),
    totals: { ingress: sum((i) => i.ingress), egress: sum((i) => i.egress) },
    uplinks: uplinks.map((i) => ({ name: i.name, ifindex: i.ifindex })),
    interfaces,
    history: {
      windowMs: HISTORY_WINDOW_MS,
      capacity: input.history.capacity,
      times: totals.times,
      totals: {
        ingressBytesPerSecond: totals.ingressBytesPerSecond,
        egressBytesPerSecond: totals.egressBytesPerSecond,
        ingressPacketsPerSecond: totals.ingressPacketsPerSecond,
        egressPacketsPerSecond: totals.egressPacketsPerSecond,
      },
      top,
      ...(input.dropHistory ? { drops: alignedDrops(input.dropHistory, totals.times.length) } : {}),
    },
  };
}

/** The drop series with exactly `points` values, newest last (they are recorded together; padding is only a guard). */
function alignedDrops(history: DropRateHistory, points: number): NonNullable<OverviewDocument['history']['drops']> {
  return history.series().map((s) => ({
    reason: s.reason,
    perSecond:
      s.perSecond.length >= points
        ? s.perSecond.slice(s.perSecond.length - points)
        : [...new Array<null>(points - s.perSecond.length).fill(null), ...s.perSecond],
  }));
}

/**
 * JSON that is safe as the text of an HTML `<script type="application/json">`
 * element (only `<` can end or confuse it: `</script>`, `<!--`) and still
 * parses to the same value.
 */
export function htmlSafeJson(value: unknown): string {
  return JSON.stringify(value).replaceAll('<', '\\u003c');
}

/** Builds the document, its JSON and its gzip (level 1: ~6× smaller, fastest). */
export function buildOverviewSnapshot(input: OverviewInput): OverviewSnapshot {
  const json = Buffer.from(htmlSafeJson(buildOverviewDocument(input)), 'utf8');
  return { json, gzip: gzipSync(json, { level: zlibConstants.Z_BEST_SPEED }), interfaces: input.samples.length };
}
