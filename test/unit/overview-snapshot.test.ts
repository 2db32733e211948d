/**
 * The overview document behind `/` and /api/v1/overview, and the bounded
 * rate history behind its charts: capacity fixed at start, wrap-around,
 * interfaces appearing, vanishing and being renamed, and JSON that is safe
 * to embed in HTML.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { HISTORY_WINDOW_MS, RateHistory, historyCapacity, rateCode, rateOfCode } from '../../src/collector/rate-history.js';

/** An interface's history holds each rate within 0.1% (16-bit log codes); null where it was absent. */
function assertNear(actual: ReadonlyArray<number | null> | undefined, expected: ReadonlyArray<number | null>, what = 'history'): void {
  assert.ok(actual, `${what}: none`);
  assert.equal(actual.length, expected.length, `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (e === null || a === null) assert.equal(a, e, `${what}[${i}]`);
    else assert.ok(Math.abs(a - e) <= e * 0.001, `${what}[${i}]: ${a} is not within 0.1% of ${e}`);
  });
}
import { DropRateHistory } from '../../src/collector/drop-rate-history.js';
import type { InterfaceSample } from '../../src/collector/interface-sample.js';
import {
  OVERVIEW_TOP_INTERFACES,
  buildOverviewDocument,
  buildOverviewSnapshot,
  busiestInterfaces,
  htmlSafeJson,
  type OverviewInput,
} from '../../src/exposition/overview-snapshot.js';
import type { OverviewDocument } from '../../src/exposition/overview-document.js';
import { sample } from '../support/exposition-input.js';
import type { InterfaceRole } from '../../src/net/interface-role.js';

function withRate(ifindex: number, name: string, inBps: number, outBps = 0): InterfaceSample {
  const s = sample(ifindex, name);
  return { ...s, ingress: { ...s.ingress, bytesPerSecond: inBps }, egress: { ...s.egress, bytesPerSecond: outBps } };
}

const TRUST: OverviewInput['trust'] = {
  up: true,
  source: 'ebpf',
  attachMode: 'tcx',
  version: '1.2.3',
  startedAt: 1_700_000_000_000,
  collectIntervalMs: 5000,
  interfacesCounted: 3,
  interfacesUncounted: 0,
  overflow: 0,
  uncountedPackets: 0,
  collections: 7,
  collectionErrors: 0,
  lastError: null,
  lastCollection: 1_700_000_060_000,
  series: 42,
};

test('capacity covers at least 15 minutes at any interval, and is fixed by the interval alone', () => {
  for (const interval of [100, 500, 1000, 5000, 15_000, 60_000]) {
    const capacity = historyCapacity(interval);
    const step = Math.max(interval, 1000) * 0.9;
    assert.ok((capacity - 1) * step >= HISTORY_WINDOW_MS, `interval ${interval}: ${capacity} points reach 15 min`);
  }
  assert.equal(historyCapacity(5000), 201);
  assert.equal(historyCapacity(1000), 1001, 'faster intervals are thinned to 1 point/s, so 1,001 points is the most');
  assert.equal(historyCapacity(100), 1001);
});

test('the ring wraps: it keeps the newest `capacity` points, oldest first', () => {
  const h = new RateHistory({ intervalMs: 1000, capacity: 4 });
  for (let i = 1; i <= 6; i++) assert.equal(h.record(i * 1000, [withRate(2, 'eth0', i * 10, i)]), true);
  const totals = h.totalsHistory();
  assert.deepEqual(totals.times, [3000, 4000, 5000, 6000]);
  assert.deepEqual(totals.ingressBytesPerSecond, [30, 40, 50, 60]);
  assert.deepEqual(totals.egressBytesPerSecond, [3, 4, 5, 6]);
  assertNear(h.interfaceHistory(2, 'eth0'), [33, 44, 55, 66]);
  assert.equal(h.length, 4);
});

test('an interface rate is kept as a 16-bit log code: 0 exactly, absent as null, any rate within 0.1%, order kept', () => {
  assert.equal(rateOfCode(rateCode(0)), 0);
  assert.ok(Number.isNaN(rateOfCode(rateCode(NaN))));
  let previous = -1;
  for (const rate of [0.01, 0.5, 1, 33, 1_000, 65_535, 1.25e6, 12.5e9, 50e9, 2 ** 54]) {
    const back = rateOfCode(rateCode(rate));
    assert.ok(Math.abs(back - rate) <= rate * 0.001, `${rate} came back as ${back}`);
    assert.ok(back > previous, `${rate}: order kept`);
    previous = back;
  }
  assert.ok(rateCode(2 ** 60) < 0xffff && rateOfCode(rateCode(2 ** 60)) >= 2 ** 54, 'beyond the range: the largest code, never "absent"');
  assert.equal(rateCode(-5), 0, 'a negative rate (never made) is 0');
});

test('points closer than 0.9 × the interval are thinned out (settling collections)', () => {
  const h = new RateHistory({ intervalMs: 5000 });
  assert.equal(h.record(0, []), true);
  assert.equal(h.record(800, []), false, 'a settling collection 800 ms later');
  assert.equal(h.record(4500, []), true);
  assert.equal(h.length, 2);
});

test('a new interface has nulls before it appeared; a vanished one loses its ring; a renamed one starts afresh', () => {
  const h = new RateHistory({ intervalMs: 1000, capacity: 10 });
  h.record(1000, [withRate(1, 'lo', 1)]);
  h.record(2000, [withRate(1, 'lo', 2), withRate(5, 'veth0', 7)]);
  assertNear(h.interfaceHistory(5, 'veth0'), [null, 7]);
  h.record(3000, [withRate(1, 'lo', 3)]);
  assert.equal(h.interfaceHistory(5, 'veth0'), undefined, 'gone with its interface');
  assert.equal(h.interfaceCount, 1);
  h.record(4000, [withRate(1, 'renamed', 4)]);
  assert.equal(h.interfaceHistory(1, 'lo'), undefined);
  assertNear(h.interfaceHistory(1, 'renamed'), [null, null, null, 4]);
});

test('memory is (4 + 1) × 8 bytes + 2 bytes per interface per point, whatever the run length', () => {
  const h = new RateHistory({ intervalMs: 5000 });
  const samples = Array.from({ length: 2000 }, (_, i) => withRate(i + 1, `veth${i}`, i));
  for (let i = 0; i < 3 * h.capacity; i++) h.record(i * 5000, samples);
  assert.equal(h.byteLength, h.capacity * (5 * 8 + 2000 * 2));
  assert.ok(h.byteLength < 0.9 * 2 ** 20, `${h.byteLength} bytes at 2,000 interfaces and 5 s`);
});

test('busiest interfaces: by bytes/s both ways, ties by name', () => {
  const s = [withRate(1, 'b', 5, 5), withRate(2, 'a', 10), withRate(3, 'c', 1, 100), withRate(4, 'd', 0)];
  assert.deepEqual(
    busiestInterfaces(s, 3).map((x) => x.name),
    ['c', 'a', 'b'],
  );
});

test('the document: totals, every interface, top histories, trust with uptime; pod labels only when present', () => {
  const h = new RateHistory({ intervalMs: 5000 });
  const samples = [withRate(1, 'lo', 100, 100), withRate(2, 'eth0', 1000, 10), withRate(3, 'idle0', 0)];
  const withPod = { ...withRate(4, 'lxc1', 50), namespace: 'shop', pod: 'cart-0' } as InterfaceSample;
  const roles = new Map<number, InterfaceRole>([
    [1, { ifindex: 1, name: 'lo', kind: 'device', role: 'loopback' }],
    [2, { ifindex: 2, name: 'eth0', kind: 'device', role: 'uplink' }],
    [3, { ifindex: 3, name: 'idle0', kind: 'bridge', role: 'bridge' }],
    [4, { ifindex: 4, name: 'lxc1', kind: 'veth', role: 'pod' }],
  ]);
  h.record(TRUST.lastCollection!, [...samples, withPod], (s) => roles.get(s.ifindex)?.role === 'uplink');
  const doc: OverviewDocument = buildOverviewDocument({
    samples: [...samples, withPod],
    trust: TRUST,
    history: h,
    roles,
    nowMs: TRUST.startedAt + 61_400,
  });
  assert.equal(doc.schema, 1);
  assert.equal(doc.trust.uptimeSeconds, 61);
  assert.equal(doc.trust.series, 42);
  assert.equal(doc.interfaces.length, 4);
  assert.deepEqual(doc.interfaces[1], {
    name: 'eth0',
    ifindex: 2,
    active: true,
    kind: 'device',
    role: 'uplink',
    ingress: { bytesPerSecond: 1000, packetsPerSecond: 2, bytes: 1500, packets: 10 },
    egress: { bytesPerSecond: 10, packetsPerSecond: 0.5, bytes: 400, packets: 4 },
  });
  assert.equal(doc.interfaces[3]!.pod, 'cart-0');
  assert.equal(doc.interfaces[3]!.namespace, 'shop');
  assert.equal('pod' in doc.interfaces[0]!, false);
  assert.equal('departed' in doc.interfaces[0]!, false);
  assert.equal(doc.interfaces[3]!.role, 'pod');
  const gone = buildOverviewDocument({
    samples: [{ ...withRate(4, 'lxc1', 0), departed: true }, withRate(2, 'eth1', 5)],
    trust: TRUST,
    history: h,
    roles,
    nowMs: 0,
  });
  assert.equal(gone.interfaces[0]!.departed, true, 'a departed interface is marked');
  assert.equal('role' in gone.interfaces[0]!, false, 'a departed interface has no role (its ifindex may be reused)');
  assert.equal('role' in gone.interfaces[1]!, false, 'an ifindex known under another name has no role');
  assert.deepEqual(gone.uplinks, []);
  assert.equal(gone.totals.ingress.bytesPerSecond, 0, 'no uplink: the totals are 0, not the sum of everything');
  // Node totals are the uplinks' traffic only: eth0, not lo, the bridge or the pod's veth.
  assert.deepEqual(doc.uplinks, [{ name: 'eth0', ifindex: 2 }]);
  assert.equal(doc.totals.ingress.bytesPerSecond, 1000);
  assert.equal(doc.totals.egress.bytes, 400);
  assert.equal(doc.totals.ingress.packets, 10);
  assert.ok(OVERVIEW_TOP_INTERFACES >= 4);
  assert.deepEqual(
    doc.history.top.map((t) => t.name),
    ['eth0', 'lo', 'lxc1', 'idle0'],
  );
  for (const [i, rate] of [1010, 200, 50, 0].entries()) assertNear(doc.history.top[i]!.bytesPerSecond, [rate], doc.history.top[i]!.name);
  assert.deepEqual(doc.history.top[3]!.bytesPerSecond, [0], 'an idle interface is exactly 0');
  assert.equal(doc.history.top[2]!.pod, 'cart-0');
  assert.deepEqual(doc.history.times, [TRUST.lastCollection]);
  assert.deepEqual(doc.history.totals.ingressBytesPerSecond, [1000]);
  assert.equal(doc.history.capacity, 201);
  assert.equal(doc.history.windowMs, 15 * 60_000);
});

test("the document: each interface's kernel drops and errors per direction; none when the source read none", () => {
  const faults = {
    rxDropped: 3n,
    txDropped: 4n,
    rxErrors: 5n,
    txErrors: 6n,
    rxMissedErrors: 0n,
    rxFifoErrors: 0n,
    rxOverErrors: 0n,
    rxNohandler: 0n,
  };
  const doc = buildOverviewDocument({
    samples: [{ ...sample(2, 'eth0'), faults }, sample(3, 'x0')],
    trust: TRUST,
    history: new RateHistory({ intervalMs: 5000 }),
    nowMs: TRUST.startedAt,
  });
  assert.deepEqual(doc.interfaces[0]!.drops, { ingress: 3, egress: 4 });
  assert.deepEqual(doc.interfaces[0]!.errors, { ingress: 5, egress: 6 });
  assert.equal('drops' in doc.interfaces[1]!, false);
  assert.equal('errors' in doc.interfaces[1]!, false);
});

test('JSON embedded in HTML: no < survives (no </script>, no <!--), and it parses to the same value', () => {
  const hostile = '</script><img src=x onerror=alert(1)>&\u2028';
  const text = htmlSafeJson({ name: hostile });
  assert.ok(!text.includes('<'));
  assert.deepEqual(JSON.parse(text), { name: hostile });

  const h = new RateHistory({ intervalMs: 5000 });
  const samples = [withRate(7, hostile, 1)];
  h.record(1000, samples);
  const snap = buildOverviewSnapshot({ samples, trust: TRUST, history: h, nowMs: 2000 });
  assert.ok(!snap.json.toString().includes('<'));
  assert.deepEqual(gunzipSync(snap.gzip), snap.json);
  assert.equal((JSON.parse(snap.json.toString()) as OverviewDocument).interfaces[0]!.name, hostile);
});

test('the document: the drops chart history is aligned with the points; the trust carries the drop share as given', () => {
  const history = new RateHistory({ intervalMs: 1000, capacity: 3 });
  const drops = new DropRateHistory(history.capacity);
  for (let i = 1; i <= 4; i++) {
    assert.equal(history.record(i * 1000, [withRate(2, 'eth0', 10)]), true);
    drops.record(i * 1000, [{ reason: 'no_socket', packets: i * 10 }]);
  }
  const dropShare = { windowMs: 300_000, limit: 0.01, minDrops: 100, since: 1000, over: [] };
  const doc = buildOverviewDocument({ samples: [], trust: { ...TRUST, dropShare }, history, dropHistory: drops, nowMs: 5000 });
  assert.deepEqual(doc.history.times, [2000, 3000, 4000]);
  assert.deepEqual(doc.history.drops, [{ reason: 'no_socket', perSecond: [10, 10, 10] }]);
  assert.deepEqual(doc.trust.dropShare, dropShare);
  // Without the ebpf source there is no drop history at all.
  assert.equal(buildOverviewDocument({ samples: [], trust: TRUST, history, nowMs: 5000 }).history.drops, undefined);
});
