/**
 * The collector's pure pod state: pod labels joined to interfaces, labels
 * that never flip, departed-retention of vanished interfaces, and namespace
 * totals that keep a departed pod's final counts and never decrease.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  advanceCollection,
  carriedState,
  restoredState,
  type CollectionRules,
  type CollectionState,
  type PodLookup,
} from '../../src/collector/collection-state.js';
import type { NamespaceTotals, PodLabels } from '../../src/collector/interface-sample.js';
import type { CounterRow } from '../../src/source/counter-source.js';

const RULES: CollectionRules = { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: false, departedRetentionMs: 3_000 };

function rows(ifindex: number, name: string, inPackets: bigint, outPackets = inPackets): CounterRow[] {
  return [
    { ifindex, name, direction: 'ingress', packets: inPackets, bytes: inPackets * 100n, segments: inPackets },
    { ifindex, name, direction: 'egress', packets: outPackets, bytes: outPackets * 100n, segments: outPackets },
  ];
}

function pods(map: Record<string, PodLabels>): PodLookup {
  return (ifindex, name) => map[`${ifindex}/${name}`];
}

const web = (n: number): PodLabels => ({ uid: `00000000-0000-0000-0000-00000000000${n}`, namespace: 'team-a', name: `web-${n}` });

function total(namespaces: NamespaceTotals[], namespace: string): bigint {
  const t = namespaces.find((n) => n.namespace === namespace);
  return t ? t.ingress.packets + t.egress.packets : 0n;
}

test('pod labels join the samples; interfaces that serve no pod carry none', () => {
  const step = advanceCollection(undefined, [...rows(2, 'eth0', 5n), ...rows(7, 'veth7', 3n)], 0, RULES, pods({ '7/veth7': web(1) }));
  const [eth0, veth] = step.samples;
  assert.equal(eth0!.pod, undefined);
  assert.equal(eth0!.namespace, undefined);
  assert.deepEqual([veth!.namespace, veth!.pod, veth!.podUid], ['team-a', 'web-1', web(1).uid]);
  assert.deepEqual(step.namespaces, [{ namespace: 'team-a', ingress: { packets: 3n, bytes: 300n }, egress: { packets: 3n, bytes: 300n } }]);
});

test('without a pod lookup the output is as in 0.1: no namespaces, no pod fields', () => {
  const step = advanceCollection(undefined, rows(7, 'veth7', 3n), 0, { ...RULES, departedRetentionMs: 0 });
  assert.deepEqual(step.namespaces, []);
  assert.equal('pod' in step.samples[0]!, false);
});

test('a known pod name never flips or disappears while the interface lives; a UID alone gains its names', () => {
  let lookup: PodLabels | undefined = { uid: web(1).uid, namespace: '', name: '' };
  const podOf: PodLookup = () => lookup;
  let step = advanceCollection(undefined, rows(7, 'veth7', 1n), 0, RULES, podOf);
  assert.deepEqual([step.samples[0]!.namespace, step.samples[0]!.pod], ['', '']);
  assert.equal(total(step.namespaces, ''), 0n, 'no namespace total without a namespace');
  lookup = web(1);
  step = advanceCollection(step.state, rows(7, 'veth7', 2n), 1000, RULES, podOf);
  assert.equal(step.samples[0]!.pod, 'web-1');
  lookup = undefined;
  step = advanceCollection(step.state, rows(7, 'veth7', 3n), 2000, RULES, podOf);
  assert.equal(step.samples[0]!.pod, 'web-1', 'kept when the lookup forgets it');
  lookup = web(2);
  step = advanceCollection(step.state, rows(7, 'veth7', 4n), 3000, RULES, podOf);
  assert.equal(step.samples[0]!.pod, 'web-1', 'never replaced by another pod');
});

test('a vanished interface keeps its final values for the retention, then goes; its counts stay in the namespace total', () => {
  const podOf = pods({ '7/veth7': web(1), '8/veth8': web(2) });
  let step = advanceCollection(undefined, [...rows(7, 'veth7', 10n), ...rows(8, 'veth8', 5n)], 0, RULES, podOf);
  assert.equal(total(step.namespaces, 'team-a'), 30n);
  step = advanceCollection(step.state, rows(8, 'veth8', 6n), 1000, RULES, podOf);
  const gone = step.samples.find((s) => s.name === 'veth7')!;
  assert.equal(gone.departed, true);
  assert.equal(gone.pod, 'web-1');
  assert.equal(gone.ingress.packets, 10n);
  assert.equal(gone.ingress.packetsPerSecond, 0);
  assert.equal(total(step.namespaces, 'team-a'), 32n);
  step = advanceCollection(step.state, rows(8, 'veth8', 6n), 3_900, RULES, podOf);
  assert.ok(
    step.samples.some((s) => s.name === 'veth7'),
    'still within 3 s of departing',
  );
  step = advanceCollection(step.state, rows(8, 'veth8', 7n), 4_000, RULES, podOf);
  assert.deepEqual(
    step.samples.map((s) => s.name),
    ['veth8'],
  );
  assert.equal(total(step.namespaces, 'team-a'), 34n, 'departed counts stay after the series is gone');
  step = advanceCollection(step.state, [], 5_000, RULES, podOf);
  assert.equal(total(step.namespaces, 'team-a'), 34n, 'all pods gone: the total stays');
});

test('a reused ifindex never carries the old pod name, and the totals never decrease', () => {
  let map: Record<string, PodLabels> = { '7/vethaaaa': web(1) };
  const podOf: PodLookup = (i, n) => map[`${i}/${n}`];
  let state: CollectionState | undefined;
  let last = 0n;
  const step = (r: CounterRow[], at: number): ReturnType<typeof advanceCollection> => {
    const s = advanceCollection(state, r, at, RULES, podOf);
    state = s.state;
    const t = total(s.namespaces, 'team-a');
    assert.ok(t >= last, `team-a total went from ${last} to ${t}`);
    last = t;
    return s;
  };
  step(rows(7, 'vethaaaa', 50n), 0);
  map = { '7/vethbbbb': web(2) };
  const s = step(rows(7, 'vethbbbb', 1n), 1000);
  const byName = new Map(s.samples.map((x) => [x.name, x]));
  assert.equal(byName.get('vethbbbb')!.pod, 'web-2');
  assert.equal(byName.get('vethaaaa')!.pod, 'web-1');
  assert.equal(byName.get('vethaaaa')!.departed, true);
  assert.equal(total(s.namespaces, 'team-a'), 102n);
  // The same name and ifindex re-created (counters restart): what was counted before stays.
  step(rows(7, 'vethbbbb', 40n), 2000);
  const restarted = step(rows(7, 'vethbbbb', 2n), 3000);
  assert.equal(total(restarted.namespaces, 'team-a'), 100n + 80n + 4n);
});

test('an interface that comes back under the same identity with continuing counters is not counted twice', () => {
  const podOf = pods({ '7/veth7': web(1) });
  let s = advanceCollection(undefined, rows(7, 'veth7', 10n), 0, RULES, podOf);
  s = advanceCollection(s.state, [], 1000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 20n);
  s = advanceCollection(s.state, rows(7, 'veth7', 12n), 2000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 24n);
  assert.equal(s.samples.length, 1);
});

test('a renamed pod veth is relabelled: the old name stops, the new continues, the namespace total does not double', () => {
  // The resolver forgets a renamed link until its next scan: right after the rename it knows no pod.
  let map: Record<string, PodLabels> = { '7/veth7': web(1), '8/veth8': web(2) };
  const podOf: PodLookup = (i, n) => map[`${i}/${n}`];
  let s = advanceCollection(undefined, [...rows(7, 'veth7', 10n), ...rows(8, 'veth8', 5n)], 0, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 30n);
  map = { '8/veth8': web(2) };
  s = advanceCollection(s.state, [...rows(7, 'web1-eth', 12n), ...rows(8, 'veth8', 5n)], 1000, RULES, podOf);
  assert.deepEqual(
    s.samples.map((x) => [x.name, x.pod, x.departed ?? false]),
    [
      ['web1-eth', 'web-1', false],
      ['veth8', 'web-2', false],
    ],
    'no series under the old name, not even as departed',
  );
  assert.equal(total(s.namespaces, 'team-a'), 24n + 10n, 'the live counters, once');
  assert.equal(s.samples[0]!.ingress.packetsPerSecond, 2);
  map = { '7/web1-eth': web(1), '8/veth8': web(2) };
  s = advanceCollection(s.state, [...rows(7, 'web1-eth', 15n), ...rows(8, 'veth8', 5n)], 2000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 30n + 10n);
  // Gone later: its finals, once.
  s = advanceCollection(s.state, rows(8, 'veth8', 5n), 3000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 40n);
  s = advanceCollection(s.state, rows(8, 'veth8', 5n), 9000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 40n);
});

test('a new interface on a freed ifindex is not a rename: counters that restart, or another pod, make it new', () => {
  const podOf = pods({ '7/veth7': web(1), '7/vethnew': web(2) });
  let s = advanceCollection(undefined, rows(7, 'veth7', 10n), 0, RULES, podOf);
  // Counters continued (the new one was busy) but the lookup already names another pod.
  s = advanceCollection(s.state, rows(7, 'vethnew', 11n), 1000, RULES, podOf);
  assert.deepEqual(
    s.samples.map((x) => [x.name, x.pod, x.departed ?? false, x.ingress.packetsPerSecond]),
    [
      ['veth7', 'web-1', true, 0],
      ['vethnew', 'web-2', false, 0],
    ],
  );
  assert.equal(total(s.namespaces, 'team-a'), 20n + 22n);
  // No pod known yet, one direction restarted: new as well (rename never lowers a counter).
  const plain = pods({});
  let t = advanceCollection(undefined, rows(9, 'a', 10n, 10n), 0, RULES, plain);
  t = advanceCollection(t.state, rows(9, 'b', 30n, 3n), 1000, RULES, plain);
  assert.deepEqual(
    t.samples.map((x) => [x.name, x.departed ?? false, x.ingress.packetsPerSecond]),
    [
      ['a', true, 0],
      ['b', false, 0],
    ],
  );
});

test("a deleted interface's finals and its ifindex's new interface in one read: the finals go to the total once", () => {
  const podOf = pods({ '7/veth7': web(1), '7/vethnew': web(2) });
  let s = advanceCollection(undefined, rows(7, 'veth7', 10n), 0, RULES, podOf);
  s = advanceCollection(s.state, [...rows(7, 'vethnew', 1n), ...rows(7, 'veth7', 13n)], 1000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 26n + 2n);
  const old = s.samples.find((x) => x.name === 'veth7')!;
  assert.deepEqual([old.departed, old.ingress.packets], [true, 13n]);
  s = advanceCollection(s.state, rows(7, 'vethnew', 4n), 2000, RULES, podOf);
  assert.equal(total(s.namespaces, 'team-a'), 26n + 8n);
});

test('a pod veth renamed while the exporter was down continues from the carried state under its new name', () => {
  const podOf = pods({ '7/veth7': web(1) });
  const s = advanceCollection(undefined, rows(7, 'veth7', 10n), 0, RULES, podOf);
  const restored = restoredState(carriedState(s.state), 5000);
  const after = advanceCollection(restored, rows(7, 'renamed7', 14n), 5010, RULES, () => undefined);
  assert.deepEqual(
    after.samples.map((x) => [x.name, x.pod, x.departed ?? false]),
    [['renamed7', 'web-1', false]],
  );
  assert.equal(total(after.namespaces, 'team-a'), 28n);
});
