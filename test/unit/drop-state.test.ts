/**
 * Drops by reason, the pure rules (src/collector/drop-state.ts and
 * drop-carry-over-record.ts) with fake rows and a node in memory:
 * attribution, the series cap, namespace totals that never go backwards,
 * departures, forgetting, and the carry-over record.
 */
import { deflateRawSync } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  advanceDropCollection,
  carriedDropState,
  restoredDropState,
  type DropPod,
  type DropPodLookup,
  type DropRow,
  type DropRules,
  type DropState,
  type DropStep,
} from '../../src/collector/drop-state.js';
import { decodeDropState, encodeDropState } from '../../src/collector/drop-carry-over-record.js';
import { renderExposition } from '../../src/exposition/exposition.js';
import type { ExpositionInput } from '../../src/exposition/exposition.js';

const HOST = 4026531840;
const NS_A = 4026532001;
const NS_B = 4026532002;
const OTHER = 4026532999;
const POD_A: DropPod = { uid: 'uid-a', namespace: 'shop', pod: 'web-0' };
const POD_B: DropPod = { uid: 'uid-b', namespace: 'shop', pod: 'web-1' };
const HOSTNET: DropPod = { uid: 'uid-h', namespace: 'kube-system', pod: 'agent' };
const HOSTNET_CGROUP = 777n;

/** The node in memory: which namespaces and cgroups are whose, what lives. */
class Node implements DropPodLookup {
  readonly netns = new Map<number, DropPod>();
  readonly cgroups = new Map<bigint, DropPod>();
  readonly deadNetns = new Set<number>();
  readonly deadPods = new Set<string>();
  newCollection(): void {}
  podOfNetns(inode: number): DropPod | undefined {
    return this.netns.get(inode);
  }
  netnsAlive(inode: number): boolean {
    return !this.deadNetns.has(inode);
  }
  podOfCgroup(id: bigint): DropPod | undefined {
    return this.cgroups.get(id);
  }
  podAlive(uid: string): boolean {
    return !this.deadPods.has(uid);
  }
}

const RULES: DropRules = { hostNetnsInode: HOST, departedRetentionMs: 60_000, podGraceMs: 30_000, maxSeries: 100 };

function row(netnsInode: number, interfaceName: string, reason: string, packets: bigint, socketCgroupId = 0n): DropRow {
  return { netnsInode, ifindex: interfaceName ? 2 : 0, interfaceName, reason, socketCgroupId, packets };
}

function node(): Node {
  const n = new Node();
  n.netns.set(NS_A, POD_A);
  n.netns.set(NS_B, POD_B);
  n.cgroups.set(HOSTNET_CGROUP, HOSTNET);
  return n;
}

const series = (step: DropStep): string[] =>
  step.drops.map((d) => `${d.namespace}/${d.pod} ${d.interface} ${d.reason} ${d.packets}${d.departed ? ' departed' : ''}`);
const nsTotals = (step: DropStep): string[] => step.namespaces.map((n) => `${n.namespace} ${n.reason} ${n.packets}`);

test('each drop goes to the pod of its namespace, a hostNetwork pod by its socket, or to no pod', () => {
  const step = advanceDropCollection(
    undefined,
    [
      row(NS_A, 'eth0', 'no_socket', 5n),
      row(NS_A, 'eth0', 'netfilter_drop', 2n),
      row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP),
      row(HOST, 'eth0', 'no_socket', 4n),
      row(HOST, 'eth0', 'no_socket', 6n, 999n), // a node process's socket
      row(0, '', 'overflow', 1n),
    ],
    0,
    RULES,
    node(),
  );
  assert.deepEqual(series(step), [
    '/  overflow 1',
    '/ eth0 no_socket 10',
    'kube-system/agent eth0 no_socket 3',
    'shop/web-0 eth0 netfilter_drop 2',
    'shop/web-0 eth0 no_socket 5',
  ]);
  assert.deepEqual(nsTotals(step), ['kube-system no_socket 3', 'shop netfilter_drop 2', 'shop no_socket 5']);
  assert.deepEqual(step.forget, []);
});

test('a namespace no pod is known for waits for its pod, then counts with empty pod labels', () => {
  const n = node();
  let step = advanceDropCollection(undefined, [row(OTHER, 'veth9', 'no_socket', 4n)], 0, RULES, n);
  assert.deepEqual(series(step), []);
  step = advanceDropCollection(step.state, [row(OTHER, 'veth9', 'no_socket', 5n)], 10_000, RULES, n);
  assert.deepEqual(series(step), []);
  // Its pod shows up within the grace: every drop is the pod's.
  n.netns.set(OTHER, { uid: 'uid-c', namespace: 'late', pod: 'starter' });
  const found = advanceDropCollection(step.state, [row(OTHER, 'eth0', 'no_socket', 5n)], 20_000, RULES, n);
  assert.deepEqual(series(found), ['late/starter eth0 no_socket 5']);
  // Without a pod, after the grace: no pod labels (and never moved again).
  const m = node();
  let s2 = advanceDropCollection(undefined, [row(OTHER, 'veth9', 'no_socket', 4n)], 0, RULES, m);
  s2 = advanceDropCollection(s2.state, [row(OTHER, 'veth9', 'no_socket', 7n)], 30_000, RULES, m);
  assert.deepEqual(series(s2), ['/ veth9 no_socket 7']);
  m.netns.set(OTHER, POD_A);
  s2 = advanceDropCollection(s2.state, [row(OTHER, 'veth9', 'no_socket', 8n)], 35_000, RULES, m);
  assert.deepEqual(series(s2), ['/ veth9 no_socket 8']);
});

test('a pod whose namespace is gone keeps its finals, is forgotten in the kernel, departs, and stays in its namespace total', () => {
  const n = node();
  let step = advanceDropCollection(undefined, [row(NS_A, 'eth0', 'no_socket', 5n), row(NS_B, 'eth0', 'no_socket', 1n)], 0, RULES, n);
  assert.deepEqual(nsTotals(step), ['shop no_socket 6']);
  step = advanceDropCollection(step.state, [row(NS_A, 'eth0', 'no_socket', 9n), row(NS_B, 'eth0', 'no_socket', 1n)], 5_000, RULES, n);
  n.deadNetns.add(NS_A);
  n.deadPods.add(POD_A.uid);
  step = advanceDropCollection(step.state, [row(NS_A, 'eth0', 'no_socket', 9n), row(NS_B, 'eth0', 'no_socket', 1n)], 10_000, RULES, n);
  assert.deepEqual(step.forget, [NS_A]);
  assert.deepEqual(series(step), ['shop/web-0 eth0 no_socket 9 departed', 'shop/web-1 eth0 no_socket 1']);
  // The meter forgot the entries: they are no longer read; a late drop comes back from 0.
  step = advanceDropCollection(step.state, [row(NS_B, 'eth0', 'no_socket', 1n), row(NS_A, 'eth0', 'no_socket', 2n)], 20_000, RULES, n);
  assert.deepEqual(series(step), ['shop/web-0 eth0 no_socket 11 departed', 'shop/web-1 eth0 no_socket 1']);
  assert.deepEqual(step.forget, [NS_A]);
  assert.deepEqual(nsTotals(step), ['shop no_socket 12']);
  // After the retention the series goes; the namespace total does not go backwards.
  step = advanceDropCollection(step.state, [row(NS_B, 'eth0', 'no_socket', 3n)], 80_000, RULES, n);
  assert.deepEqual(series(step), ['shop/web-1 eth0 no_socket 3']);
  assert.deepEqual(nsTotals(step), ['shop no_socket 14']);
});

test('a departed hostNetwork pod does not hand its counts to the node when its series goes', () => {
  const n = node();
  let step = advanceDropCollection(undefined, [row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP)], 0, RULES, n);
  n.deadPods.add(HOSTNET.uid);
  n.cgroups.delete(HOSTNET_CGROUP);
  step = advanceDropCollection(step.state, [row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP)], 1_000, RULES, n);
  assert.deepEqual(series(step), ['kube-system/agent eth0 no_socket 3 departed']);
  step = advanceDropCollection(step.state, [row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP)], 70_000, RULES, n);
  step = advanceDropCollection(step.state, [row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP)], 75_000, RULES, n);
  assert.deepEqual(series(step), []);
  assert.deepEqual(nsTotals(step), ['kube-system no_socket 3']);
});

test('a kernel entry that restarts (forgotten elsewhere, or the meter reloaded) keeps what it had counted', () => {
  const n = node();
  let step = advanceDropCollection(undefined, [row(NS_A, 'eth0', 'no_socket', 5n)], 0, RULES, n);
  step = advanceDropCollection(step.state, [row(NS_A, 'eth0', 'no_socket', 2n)], 1_000, RULES, n);
  assert.deepEqual(series(step), ['shop/web-0 eth0 no_socket 7']);
  step = advanceDropCollection(step.state, [], 2_000, RULES, n);
  assert.deepEqual(series(step), ['shop/web-0 eth0 no_socket 7']);
});

test('the series cap: further keys count as overflow and in their namespace total; freed slots are reused', () => {
  const n = node();
  const rules = { ...RULES, maxSeries: 2 };
  let step = advanceDropCollection(
    undefined,
    [
      row(NS_A, 'eth0', 'no_socket', 1n),
      row(NS_A, 'eth0', 'netfilter_drop', 2n),
      row(NS_A, 'eth0', 'tc_ingress', 4n),
      row(NS_B, 'eth0', 'tc_ingress', 8n),
    ],
    0,
    rules,
    n,
  );
  assert.equal(step.drops.length, 2);
  assert.equal(step.overflowPackets, 12n);
  assert.deepEqual(nsTotals(step), ['shop netfilter_drop 2', 'shop no_socket 1', 'shop tc_ingress 12']);
  // Pod A leaves: after its retention its slots are free for new keys.
  n.deadNetns.add(NS_A);
  n.deadPods.add(POD_A.uid);
  step = advanceDropCollection(step.state, [row(NS_B, 'eth0', 'tc_ingress', 8n)], 1_000, rules, n);
  step = advanceDropCollection(step.state, [row(NS_B, 'eth0', 'tc_ingress', 8n)], 70_000, rules, n);
  assert.equal(step.overflowPackets, 12n, 'the overflow count never goes backwards');
  step = advanceDropCollection(step.state, [row(NS_B, 'eth0', 'tc_ingress', 9n), row(NS_B, 'eth0', 'no_socket', 1n)], 75_000, rules, n);
  assert.deepEqual(series(step), ['shop/web-1 eth0 no_socket 1']);
  assert.equal(step.overflowPackets, 13n);
  assert.deepEqual(nsTotals(step), ['shop netfilter_drop 2', 'shop no_socket 2', 'shop tc_ingress 13']);
});

test('namespace totals never go backwards over a random life of pods', () => {
  const n = node();
  let state: DropState | undefined;
  const counts = new Map<number, bigint>([
    [NS_A, 0n],
    [NS_B, 0n],
  ]);
  let last = new Map<string, bigint>();
  let seed = 7;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let nextNs = 4026533000;
  for (let t = 0; t < 200; t++) {
    for (const ns of counts.keys()) counts.set(ns, counts.get(ns)! + BigInt(Math.floor(rand() * 5)));
    if (rand() < 0.1) {
      // A pod goes; another comes with a fresh namespace.
      const [ns] = [...counts.keys()];
      const pod = n.netns.get(ns!)!;
      n.deadNetns.add(ns!);
      n.deadPods.add(pod.uid);
      counts.delete(ns!);
      const fresh = nextNs++;
      n.netns.set(fresh, { uid: `uid-${fresh}`, namespace: rand() < 0.5 ? 'shop' : 'db', pod: `p-${fresh}` });
      counts.set(fresh, 0n);
    }
    const rows = [...counts].map(([ns, c]) => row(ns, 'eth0', rand() < 0.5 ? 'no_socket' : 'no_socket', c));
    const step = advanceDropCollection(state, rows, t * 5_000, RULES, n);
    state = step.state;
    const now = new Map(step.namespaces.map((x) => [`${x.namespace} ${x.reason}`, x.packets]));
    for (const [k, v] of last) assert.ok((now.get(k) ?? -1n) >= v, `${k} went from ${v} to ${now.get(k)}`);
    last = now;
    if (t % 17 === 0) state = restoredDropState(decodeDropState(encodeDropState(carriedDropState(state))), t * 5_000);
  }
});

test('the carry-over record: a restarted exporter continues every series where it stopped', () => {
  const n = node();
  let step = advanceDropCollection(
    undefined,
    [row(NS_A, 'eth0', 'no_socket', 5n), row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP), row(HOST, 'eth0', 'qdisc_drop', 1n)],
    0,
    { ...RULES, maxSeries: 2 },
    n,
  );
  const before = series(step);
  const bytes = encodeDropState(carriedDropState(step.state));
  const restored = restoredDropState(decodeDropState(bytes), 0);
  step = advanceDropCollection(
    restored,
    [row(NS_A, 'eth0', 'no_socket', 5n), row(HOST, 'eth0', 'no_socket', 3n, HOSTNET_CGROUP), row(HOST, 'eth0', 'qdisc_drop', 1n)],
    5_000,
    { ...RULES, maxSeries: 2 },
    new Node(), // nothing known after the restart: the carried placement holds
  );
  assert.deepEqual(series(step), before);
  assert.equal(step.overflowPackets, 1n);
});

test('a carry-over record that is not one of ours is refused with a reason', () => {
  assert.throws(() => decodeDropState(Buffer.from('garbage')), /not a drop carry-over record/);
  assert.throws(() => decodeDropState(deflateRawSync(JSON.stringify({ v: 99 }))), /version 99/);
  const bad = { v: 1, b: [['u', 'n', 'p', 'eth0', 'r', 0, '1']], k: [[1, 2, 'eth0', 'r', '0', 5, '1']], n: [], o: '0' };
  assert.throws(() => decodeDropState(deflateRawSync(JSON.stringify(bad))), /bad bucket 5/);
  const neg = { ...bad, k: [[1, 2, 'eth0', 'r', '0', 0, '-1']] };
  assert.throws(() => decodeDropState(deflateRawSync(JSON.stringify(neg))), /expected a count/);
  const huge = deflateRawSync(' '.repeat(5 * 1024 * 1024));
  assert.throws(() => decodeDropState(huge), /not a drop carry-over record/);
});

test('the families: drops by reason, namespace totals and the meter health; without the meter the gauge says 0', () => {
  const step = advanceDropCollection(undefined, [row(NS_A, 'eth0', 'no_socket', 5n), row(HOST, 'eth1', 'no_socket', 3n)], 0, RULES, node());
  const base: ExpositionInput = {
    samples: [],
    up: true,
    collections: 1,
    lastSuccessSeconds: 1,
    source: 'ebpf',
    attachMode: 'tcx',
    attachedInterfaces: 0,
    collectionDurationSeconds: 0,
    collectionErrors: 0,
    sourceStats: {},
    version: 'test',
    processFamilies: [],
  };
  const text = renderExposition({
    ...base,
    drops: { active: true, drops: step.drops, namespaces: step.namespaces, overflowPackets: 0n, recursionMisses: 0n, mapFull: 0n },
  }).text.toString();
  assert.match(text, /^netprobe_drop_counting_active 1$/m);
  assert.match(text, /^netprobe_drops_total\{interface="eth0",namespace="shop",pod="web-0",reason="no_socket"\} 5$/m);
  assert.match(text, /^netprobe_drops_total\{interface="eth1",namespace="",pod="",reason="no_socket"\} 3$/m);
  assert.match(text, /^netprobe_namespace_drops_total\{namespace="shop",reason="no_socket"\} 5$/m);
  assert.match(text, /^netprobe_drop_recursion_misses_total 0$/m);
  assert.match(text, /^netprobe_drops_overflow_total 0$/m);
  const off = renderExposition({
    ...base,
    drops: { active: false, drops: [], namespaces: [], overflowPackets: 0n, recursionMisses: 0n, mapFull: 0n },
  }).text.toString();
  assert.match(off, /^netprobe_drop_counting_active 0$/m);
  assert.match(off, /^# TYPE netprobe_drops_total counter$/m);
  assert.doesNotMatch(off, /^netprobe_drop_recursion_misses_total /m);
});

test('a node device that is gone: its entries are taken with the drops counted up to the delete, its series departs after the retention; made again, it continues', () => {
  const n = node();
  const veth = (packets: bigint, ifindex = 7): DropRow => ({ ...row(HOST, 'veth7', 'tc_egress', packets), ifindex });
  const lo = (packets: bigint): DropRow => ({ ...row(HOST, 'lo', 'socket_rcvbuff', packets, HOSTNET_CGROUP), ifindex: 1 });
  const foreign = (packets: bigint): DropRow => ({ ...row(OTHER, 'eth9', 'no_socket', packets), ifindex: 7 });
  const taken: Array<readonly DropRow[]> = [];
  const take = (finals: Array<bigint | undefined>) => (rows: readonly DropRow[]) => {
    taken.push([...rows]);
    return finals;
  };
  let step = advanceDropCollection(undefined, [veth(10n), lo(3n), foreign(2n)], 0, RULES, n, { devices: new Set([1, 7]), take: take([]) });
  assert.equal(taken.length, 0, 'nothing taken while the device lives');
  // (The other namespace's key waits for a pod until the grace ends.)
  assert.deepEqual(series(step), ['/ veth7 tc_egress 10', 'kube-system/agent lo socket_rcvbuff 3']);

  // veth7 is gone; the kernel entry held one more drop when it was taken (after the read).
  step = advanceDropCollection(step.state, [veth(12n), lo(3n), foreign(2n)], 1_000, RULES, n, { devices: new Set([1]), take: take([13n]) });
  assert.deepEqual(
    taken.map((rows) => rows.map((r) => r.interfaceName)),
    [['veth7']],
    "only the gone device's entry of the node's namespace is taken (not another namespace's on the same ifindex)",
  );
  assert.deepEqual(series(step), ['/ veth7 tc_egress 13 departed', 'kube-system/agent lo socket_rcvbuff 3']);

  // Within the retention: kept, nothing more is taken.
  step = advanceDropCollection(step.state, [lo(3n), foreign(2n)], 30_000, RULES, n, { devices: new Set([1]), take: take([]) });
  assert.equal(taken.length, 1);
  assert.deepEqual(series(step), ['/ eth9 no_socket 2', '/ veth7 tc_egress 13 departed', 'kube-system/agent lo socket_rcvbuff 3']);
  // Made again under the same name and ifindex: its new entry starts from 0 and the series continues.
  step = advanceDropCollection(step.state, [veth(4n), lo(3n), foreign(2n)], 40_000, RULES, n, { devices: new Set([1, 7]), take: take([]) });
  assert.deepEqual(series(step), ['/ eth9 no_socket 2', '/ veth7 tc_egress 17', 'kube-system/agent lo socket_rcvbuff 3']);
  // Gone again, and this time the entry had vanished before the take: its last reading is its final.
  step = advanceDropCollection(step.state, [veth(5n), lo(3n), foreign(2n)], 50_000, RULES, n, {
    devices: new Set([1]),
    take: take([undefined]),
  });
  assert.deepEqual(series(step), ['/ eth9 no_socket 2', '/ veth7 tc_egress 18 departed', 'kube-system/agent lo socket_rcvbuff 3']);
  // Past the retention: gone.
  step = advanceDropCollection(step.state, [lo(3n), foreign(2n)], 50_000 + RULES.departedRetentionMs, RULES, n, {
    devices: new Set([1]),
    take: take([]),
  });
  assert.deepEqual(series(step), ['/ eth9 no_socket 2', 'kube-system/agent lo socket_rcvbuff 3']);
  assert.equal(step.state.buckets.size, 2);
  assert.deepEqual(step.forget, [], "the node's namespace is never forgotten whole");
});

test('without the node devices (no role watcher) nothing of the node namespace is retired', () => {
  const n = node();
  const veth = (packets: bigint): DropRow => ({ ...row(HOST, 'veth7', 'tc_egress', packets), ifindex: 7 });
  const take = (): Array<bigint | undefined> => assert.fail('nothing may be taken');
  let step = advanceDropCollection(undefined, [veth(10n)], 0, RULES, n, { take });
  step = advanceDropCollection(step.state, [veth(11n)], 1_000, RULES, n, { devices: undefined, take });
  step = advanceDropCollection(step.state, [veth(11n)], 2 * RULES.departedRetentionMs, RULES, n, { take });
  assert.deepEqual(series(step), ['/ veth7 tc_egress 11']);
});
