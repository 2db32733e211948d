/**
 * The trust panel's drop rule (src/collector/drop-share.ts) and the drops
 * chart's history (src/collector/drop-rate-history.ts): the threshold and
 * the floor, the 5-minute window against snapshots, keys appearing,
 * vanishing and resetting, pods' packets from their interfaces; rates whose
 * sum over the steps gives back the drops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DROP_SHARE_LIMIT,
  DROP_SHARE_MIN_DROPS,
  DROP_SHARE_STEP_MS,
  DROP_SHARE_WINDOW_MS,
  DropShareWindow,
  dropShareCounts,
  exceeds,
  type DropShareCount,
} from '../../src/collector/drop-share.js';
import { DropRateHistory } from '../../src/collector/drop-rate-history.js';
import type { InterfaceSample } from '../../src/collector/interface-sample.js';
import type { LinkFaults } from '../../src/net/link-message.js';
import { sample } from '../support/exposition-input.js';

const T0 = 1_700_000_000_000;

const pod = (name: string, drops: number, packets: number): DropShareCount => ({ kind: 'pod', name, ifindex: 0, drops, packets });
const itf = (ifindex: number, name: string, drops: number, packets: number): DropShareCount => ({
  kind: 'interface',
  name,
  ifindex,
  drops,
  packets,
});

test('the rule: more than 1 % of drops + packets, and at least 100 drops', () => {
  assert.equal(DROP_SHARE_LIMIT, 0.01);
  assert.equal(DROP_SHARE_MIN_DROPS, 100);
  assert.equal(DROP_SHARE_WINDOW_MS, 300_000);
  assert.equal(exceeds(100, 9_899), true, '100 of 9,999: 1.0001 %');
  assert.equal(exceeds(100, 9_900), false, '100 of 10,000: exactly 1 % does not pass it');
  assert.equal(exceeds(99, 0), false, '99 drops of 99: below the floor');
  assert.equal(exceeds(1, 0), false, 'one drop on an idle pod');
  assert.equal(exceeds(500, 500), true);
  assert.equal(exceeds(0, 0), false);
});

test('the window: drops and packets since the snapshot 5 minutes back; the exporter start before that', () => {
  const w = new DropShareWindow();
  assert.deepEqual(w.over(), []);
  assert.equal(w.since(), null);
  w.record(T0, [pod('shop/web', 1_000, 50_000), itf(7, 'veth1', 0, 10)]);
  assert.deepEqual(w.over(), [], 'nothing new since the first collection');
  assert.equal(w.since(), T0);
  // 150 more drops against 850 more packets within the window: 15 %.
  w.record(T0 + 5_000, [pod('shop/web', 1_150, 50_850), itf(7, 'veth1', 0, 20)]);
  assert.deepEqual(w.over(), [{ kind: 'pod', name: 'shop/web', drops: 150, packets: 850, share: 0.15 }]);
  // Every 5 s for 10 minutes with no new drops: once the 150 are older than the window, the pod is clear again.
  let t = T0 + 5_000;
  let packets = 50_850;
  let clearedAt: number | undefined;
  while (t < T0 + 10 * 60_000) {
    t += 5_000;
    packets += 10;
    w.record(t, [pod('shop/web', 1_150, packets), itf(7, 'veth1', 0, 20)]);
    const over = w.over();
    if (over.length === 0 && clearedAt === undefined) clearedAt = t;
    if (clearedAt === undefined) assert.equal(over[0]!.drops, 150, `at +${(t - T0) / 1000} s the 150 drops are within the window`);
  }
  assert.ok(clearedAt !== undefined, 'cleared');
  // The drops came at +5 s; snapshots are 15 s apart, so they leave the window between +5 min 5 s and +5 min 20 s.
  assert.ok(clearedAt - T0 > DROP_SHARE_WINDOW_MS + 5_000 - 1, `cleared at +${(clearedAt - T0) / 1000} s`);
  assert.ok(clearedAt - T0 <= DROP_SHARE_WINDOW_MS + 5_000 + DROP_SHARE_STEP_MS, `cleared at +${(clearedAt - T0) / 1000} s`);
  const since = w.since()!;
  assert.ok(
    t - since >= DROP_SHARE_WINDOW_MS && t - since < DROP_SHARE_WINDOW_MS + DROP_SHARE_STEP_MS,
    'the window is 5 min + less than a step',
  );
});

test('a key that appears later starts its window at its first counts; one that vanishes is forgotten; a reset counts whole', () => {
  const w = new DropShareWindow();
  w.record(T0, [itf(3, 'eth0', 0, 0)]);
  // veth9 appears with counts it had before netprobe saw it: they are not in the window.
  w.record(T0 + 20_000, [itf(3, 'eth0', 0, 0), itf(9, 'veth9', 5_000, 100)]);
  assert.deepEqual(w.over(), []);
  w.record(T0 + 40_000, [itf(3, 'eth0', 0, 0), itf(9, 'veth9', 5_200, 200)]);
  assert.deepEqual(w.over(), [{ kind: 'interface', name: 'veth9', drops: 200, packets: 100, share: 2 / 3 }]);
  // Gone: forgotten; back (same ifindex and name) with counters from 0, taken from there.
  w.record(T0 + 60_000, [itf(3, 'eth0', 0, 0)]);
  assert.equal(w.keyCount, 1);
  assert.deepEqual(w.over(), []);
  // eth0's counters went below their baseline (made again): all of them are in the window.
  const w2 = new DropShareWindow();
  w2.record(T0, [itf(3, 'eth0', 1_000, 100_000)]);
  w2.record(T0 + 5_000, [itf(3, 'eth0', 300, 700)]);
  assert.deepEqual(w2.over(), [{ kind: 'interface', name: 'eth0', drops: 300, packets: 700, share: 0.3 }]);
});

test('below the limit, below the floor, and several above it: largest share first', () => {
  const w = new DropShareWindow();
  w.record(T0, [pod('a/busy', 0, 0), pod('a/idle', 0, 0), itf(4, 'vethA', 0, 0), itf(5, 'vethB', 0, 0)]);
  w.record(T0 + 5_000, [
    pod('a/busy', 150, 20_000), // 0.74 %: below the limit
    pod('a/idle', 99, 0), // 100 %, but below the floor
    itf(4, 'vethA', 120, 880), // 12 %
    itf(5, 'vethB', 400, 400), // 50 %
  ]);
  assert.deepEqual(
    w.over().map((o) => [o.kind, o.name, o.drops, o.packets]),
    [
      ['interface', 'vethB', 400, 400],
      ['interface', 'vethA', 120, 880],
    ],
  );
});

test("counts: each interface with the kernel's drop counters; each pod with interfaces, its drops from the overview, its packets both ways", () => {
  const faults = (rx: bigint, tx: bigint): LinkFaults => ({
    rxDropped: rx,
    txDropped: tx,
    rxErrors: 0n,
    txErrors: 0n,
    rxMissedErrors: 0n,
    rxFifoErrors: 0n,
    rxOverErrors: 0n,
    rxNohandler: 0n,
  });
  const samples: InterfaceSample[] = [
    sample(2, 'eth0', { faults: faults(3n, 4n) }),
    sample(7, 'veth-a', { namespace: 'shop', pod: 'web', podUid: 'u1', faults: faults(1n, 0n) }),
    sample(8, 'veth-b', { namespace: 'shop', pod: 'web', podUid: 'u1' }),
    sample(9, 'veth-c', { namespace: 'shop', pod: 'db', podUid: 'u2' }),
    sample(10, 'veth-d', { namespace: '', pod: '', podUid: 'u3' }),
  ];
  const counts = dropShareCounts(samples, [
    { namespace: 'shop', pod: 'web', packets: 42 },
    { namespace: 'kube-system', pod: 'host-net', packets: 7 },
  ]);
  // sample(): 10 packets in, 4 out.
  assert.deepEqual(counts, [
    { kind: 'interface', name: 'eth0', ifindex: 2, drops: 7, packets: 14 },
    { kind: 'interface', name: 'veth-a', ifindex: 7, drops: 1, packets: 14 },
    { kind: 'pod', name: 'shop/web', ifindex: 0, drops: 42, packets: 28 },
    { kind: 'pod', name: 'shop/db', ifindex: 0, drops: 0, packets: 14 },
  ]);
});

test('drops chart history: per reason drops/s between points; summed over the steps they give back the drops', () => {
  const h = new DropRateHistory(4);
  h.record(T0, [
    { reason: 'no_socket', packets: 100 },
    { reason: 'not_specified', packets: 7 },
  ]);
  h.record(T0 + 500, [
    { reason: 'no_socket', packets: 350 },
    { reason: 'not_specified', packets: 9 },
  ]);
  h.record(T0 + 2_500, [
    { reason: 'no_socket', packets: 350 },
    { reason: 'not_specified', packets: 9 },
    { reason: 'netfilter_drop', packets: 40 },
  ]);
  assert.deepEqual(h.series(), [
    { reason: 'no_socket', perSecond: [null, 500, 0] },
    { reason: 'netfilter_drop', perSecond: [null, null, 20] },
    { reason: 'not_specified', perSecond: [null, 4, 0] },
  ]);
  // A total that went down (a departed pod's series retired) is 0, not negative; a vanished reason goes; the ring wraps at 4.
  h.record(T0 + 3_500, [{ reason: 'no_socket', packets: 300 }]);
  h.record(T0 + 4_500, [{ reason: 'no_socket', packets: 310 }]);
  assert.equal(h.length, 4);
  assert.deepEqual(h.series(), [{ reason: 'no_socket', perSecond: [500, 0, 0, 10] }]);
});

test('the window at scale: rows grow with the keys and shrink when most vanish, each key keeping its own window', () => {
  const w = new DropShareWindow();
  const counts = (n: number, t: number): DropShareCount[] =>
    Array.from({ length: n }, (_, i) => itf(i + 1, `veth${i}`, i % 7 === 0 ? 100 * t : 0, 1_000 * t + i));
  for (let t = 0; t < 4; t++) w.record(T0 + t * DROP_SHARE_STEP_MS, counts(2_000, t));
  assert.equal(w.keyCount, 2_000);
  assert.ok(w.rowCapacity >= 2_000 && w.rowCapacity <= 2_250, `${w.rowCapacity} rows for 2,000 keys (an eighth spare)`);
  // 100 drops against 1,000 packets per step for every seventh: 300 of 3,300 at the fourth step; the others none.
  const over = w.over();
  assert.equal(over.length, Math.ceil(2_000 / 7));
  assert.deepEqual(
    over.find((o) => o.name === 'veth1400'),
    { kind: 'interface', name: 'veth1400', drops: 300, packets: 3_000, share: 300 / 3_300 },
  );
  // All but 21 vanish: the matrices shrink, the survivors keep their windows (not refilled as new keys).
  w.record(T0 + 4 * DROP_SHARE_STEP_MS, counts(21, 4));
  assert.equal(w.keyCount, 21);
  assert.ok(w.rowCapacity <= 128, `${w.rowCapacity} rows for 21 keys`);
  assert.deepEqual(
    w.over().map((o) => [o.name, o.drops, o.packets]),
    [0, 14, 7].map((i) => [`veth${i}`, 400, 4_000]),
  );
  // And grow again; the survivors still keep theirs.
  w.record(T0 + 5 * DROP_SHARE_STEP_MS, counts(3_000, 5));
  assert.equal(w.keyCount, 3_000);
  assert.deepEqual(
    w.over().find((o) => o.name === 'veth7'),
    { kind: 'interface', name: 'veth7', drops: 500, packets: 5_000, share: 500 / 5_500 },
  );
});
