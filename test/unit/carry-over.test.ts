/**
 * What an exporter restart continues from: the pod interfaces and namespace
 * bases carried as bytes, restored so that every namespace total goes on
 * without going backwards — also for a pod that went while netprobe was down
 * and before the pod resolver has looked at anything.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import {
  advanceCollection,
  carriedState,
  restoredState,
  type CarriedState,
  type CollectionRules,
  type PodLookup,
} from '../../src/collector/collection-state.js';
import { decodeCarriedState, encodeCarriedState, MAX_ENTRIES, MAX_INFLATED_BYTES } from '../../src/collector/carry-over-record.js';
import { CARRY_VALUE_SIZE } from '../../src/bpf/carry-over-map.js';
import type { NamespaceTotals, PodLabels } from '../../src/collector/interface-sample.js';
import type { CounterRow } from '../../src/source/counter-source.js';

const RULES: CollectionRules = { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: false, departedRetentionMs: 3_000 };

function rows(ifindex: number, name: string, packets: bigint): CounterRow[] {
  return [
    { ifindex, name, direction: 'ingress', packets, bytes: packets * 100n, segments: packets },
    { ifindex, name, direction: 'egress', packets: 2n * packets, bytes: packets * 200n, segments: 2n * packets },
  ];
}

const pod = (name: string, namespace = 'team-a'): PodLabels => ({ uid: `uid-${name}`, namespace, name });

function total(namespaces: NamespaceTotals[], namespace: string): bigint {
  const t = namespaces.find((n) => n.namespace === namespace);
  return t ? t.ingress.bytes + t.egress.bytes : 0n;
}

/** A run with two pods in team-a (one departed already) and one in team-b. */
function firstRun(): ReturnType<typeof advanceCollection> {
  const podOf: PodLookup = (ifindex) => ({ 7: pod('web-1'), 8: pod('web-2'), 9: pod('db-1', 'team-b'), 10: pod('old') })[ifindex];
  let step = advanceCollection(
    undefined,
    [...rows(2, 'eth0', 50n), ...rows(7, 'veth7', 10n), ...rows(8, 'veth8', 5n), ...rows(10, 'veth10', 4n)],
    0,
    RULES,
    podOf,
  );
  step = advanceCollection(
    step.state,
    [...rows(2, 'eth0', 60n), ...rows(7, 'veth7', 12n), ...rows(8, 'veth8', 6n), ...rows(9, 'veth9', 3n)],
    1000,
    RULES,
    podOf,
  );
  return step;
}

test('the carried state holds the pod interfaces (not the others) and the namespace bases; its bytes decode to it', () => {
  const step = firstRun();
  const carried = carriedState(step.state);
  assert.deepEqual(
    carried.interfaces.map((i) => [i.ifindex, i.name, i.pod.name, i.ingress.packets, i.egress.segments]),
    [
      [7, 'veth7', 'web-1', 12n, 24n],
      [8, 'veth8', 'web-2', 6n, 12n],
      [9, 'veth9', 'db-1', 3n, 6n],
    ],
  );
  assert.deepEqual(carried.namespaces, [
    { namespace: 'team-a', ingress: { packets: 4n, bytes: 400n }, egress: { packets: 8n, bytes: 800n } },
  ]);
  assert.deepEqual(decodeCarriedState(encodeCarriedState(carried)), carried);
});

test('after a restart every namespace total continues: a pod gone meanwhile keeps its finals, labels hold before any lookup', () => {
  const before = firstRun();
  const restored = restoredState(decodeCarriedState(encodeCarriedState(carriedState(before.state))), 50_000);
  // veth8 went while netprobe was down; veth7 and veth9 counted on (pinned counters); nothing resolved yet.
  const nothingKnown: PodLookup = () => undefined;
  const after = advanceCollection(
    restored,
    [...rows(2, 'eth0', 70n), ...rows(7, 'veth7', 15n), ...rows(9, 'veth9', 3n)],
    50_010,
    RULES,
    nothingKnown,
  );
  for (const namespace of ['team-a', 'team-b'])
    assert.ok(total(after.namespaces, namespace) >= total(before.namespaces, namespace), namespace);
  // team-a: old (4 → 1200 bytes) + web-2's finals (6 → 1800) + web-1 now (15 → 4500).
  assert.equal(total(after.namespaces, 'team-a'), 1200n + 1800n + 4500n);
  assert.equal(total(after.namespaces, 'team-b'), 900n);
  const veth7 = after.samples.find((s) => s.name === 'veth7')!;
  assert.deepEqual([veth7.namespace, veth7.pod], ['team-a', 'web-1']);
  assert.equal(veth7.ingress.bytesPerSecond, 0, 'no rate across the restart');
  const veth8 = after.samples.find((s) => s.name === 'veth8')!;
  assert.equal(veth8.departed, true, 'the pod gone while netprobe was down shows its finals for the retention');
  const next = advanceCollection(
    after.state,
    [...rows(2, 'eth0', 80n), ...rows(7, 'veth7', 17n), ...rows(9, 'veth9', 3n)],
    51_010,
    RULES,
    nothingKnown,
  );
  assert.equal(next.samples.find((s) => s.name === 'veth7')!.ingress.packetsPerSecond, 2, 'rates resume at the next collection');
});

test('an interface re-created under the same ifindex and name while down: what it counted before stays in the total', () => {
  const before = firstRun();
  const restored = restoredState(carriedState(before.state), 0);
  const after = advanceCollection(restored, [...rows(7, 'veth7', 1n), ...rows(9, 'veth9', 3n)], 10, RULES, () => undefined);
  assert.ok(total(after.namespaces, 'team-a') >= total(before.namespaces, 'team-a'));
});

test('bytes that are not a record of this version are refused with a reason', () => {
  assert.throws(() => decodeCarriedState(Buffer.from('garbage')), /not a carry-over record/);
  assert.throws(
    () => decodeCarriedState(deflateRawSync(JSON.stringify({ v: 2, interfaces: [], namespaces: [] }))),
    /version 2; this version reads 1/,
  );
  assert.throws(
    () =>
      decodeCarriedState(
        deflateRawSync(JSON.stringify({ v: 1, interfaces: [[0, 'x', '', '', '', ['1', '1', '1'], ['1', '1', '1']]], namespaces: [] })),
      ),
    /bad ifindex 0/,
  );
  assert.throws(
    () => decodeCarriedState(deflateRawSync(JSON.stringify({ v: 1, interfaces: [], namespaces: [['a', ['x', '1'], ['1', '1']]] }))),
    /expected a count/,
  );
});

/** A record of this version with `interfaces`/`namespaces` as given, deflated as the exporter writes it. */
function record(interfaces: unknown[], namespaces: unknown[] = []): Buffer {
  return deflateRawSync(JSON.stringify({ v: 1, interfaces, namespaces }));
}
const IFACE = (over: Partial<Record<number, unknown>> = {}): unknown[] =>
  Object.assign([7, 'veth7', 'uid-web-1', 'team-a', 'web-1', ['1', '2', '3'], ['4', '5', '6']], over);

test('a deflate bomb is refused without inflating it to the end', () => {
  // A valid record once fully inflated (JSON allows the whitespace): 64 MiB from about 64 KiB.
  const bomb = deflateRawSync(
    Buffer.concat([Buffer.from('{"v":1,"interfaces":[],'), Buffer.alloc(64 * 1024 * 1024, ' '), Buffer.from('"namespaces":[]}')]),
    {
      level: 9,
    },
  );
  assert.ok(bomb.length < 70 * 1024, `${bomb.length} bytes`);
  assert.throws(() => decodeCarriedState(bomb), new RegExp(`inflates to more than ${MAX_INFLATED_BYTES} bytes`));
});

test('counters must be u64 decimals: negative, fractional and oversized values are refused', () => {
  for (const bad of ['-5', '1.5', '1e3', '', ' 1', '18446744073709551616', '123456789012345678901'])
    assert.throws(() => decodeCarriedState(record([IFACE({ 5: [bad, '1', '1'] })])), /expected a count/, bad);
  for (const bad of ['-1', '18446744073709551616'])
    assert.throws(() => decodeCarriedState(record([], [['team-a', ['1', bad], ['1', '1']]])), /expected a count/, bad);
  assert.equal(
    decodeCarriedState(record([IFACE({ 5: ['18446744073709551615', '0', '0'] })])).interfaces[0]!.ingress.packets,
    (1n << 64n) - 1n,
  );
});

test('ifindexes, names and counts out of range are refused with a reason', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [record([IFACE({ 0: 2 ** 31 })]), /bad ifindex 2147483648/],
    [record([IFACE({ 0: 1.5 })]), /bad ifindex 1.5/],
    [record([IFACE({ 0: '7' })]), /bad ifindex "7"/],
    [record([IFACE(), IFACE()]), /ifindex 7 twice/],
    [record([IFACE({ 1: 'a-very-long-interface-name' })]), /bad interface name/],
    [record([IFACE({ 1: '' })]), /bad interface name/],
    [record([IFACE({ 1: 'eth\n0' })]), /bad interface name/],
    [record([IFACE({ 2: 'x'.repeat(65) })]), /bad pod UID/],
    [record([IFACE({ 3: 'Team A' })]), /bad namespace/],
    [record([IFACE({ 4: 'p'.repeat(254) })]), /bad pod name/],
    [
      record(
        [],
        [
          ['team-a', ['1', '1'], ['1', '1']],
          ['team-a', ['1', '1'], ['1', '1']],
        ],
      ),
      /namespace "team-a" empty or twice/,
    ],
    [record([], [['', ['1', '1'], ['1', '1']]]), /namespace "" empty or twice/],
    [record(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => IFACE({ 0: i + 1, 2: 'u' }))), /4097 interfaces; at most 4096/],
    [deflateRawSync('[1,2]'), /version undefined/],
  ];
  for (const [bytes, reason] of cases) assert.throws(() => decodeCarriedState(bytes), reason);
});

test('a full record (700 pod interfaces with real UIDs and large counters) round-trips and fits the pinned map', () => {
  const carried: CarriedState = {
    interfaces: Array.from({ length: 700 }, (_, i) => ({
      ifindex: 100_000 + i,
      name: `cali${randomBytes(6).toString('hex').slice(0, 11)}`,
      pod: { uid: randomUUID(), namespace: `team-${i % 40}`, name: `web-5d78c9869d-${randomBytes(3).toString('hex')}` },
      ingress: { packets: BigInt(i) * 123_456_789n, bytes: (1n << 63n) + BigInt(i), segments: BigInt(i) * 987_654_321n },
      egress: { packets: 1n, bytes: 2n, segments: 3n },
    })),
    namespaces: Array.from({ length: 40 }, (_, i) => ({
      namespace: `team-${i}`,
      ingress: { packets: BigInt(i), bytes: 10n ** 18n },
      egress: { packets: 0n, bytes: 0n },
    })),
  };
  const bytes = encodeCarriedState(carried);
  assert.ok(bytes.length <= CARRY_VALUE_SIZE - 4, `${bytes.length} bytes`);
  assert.deepEqual(decodeCarriedState(bytes), carried);
});
