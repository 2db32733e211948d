/**
 * The pod-side view's pure rules (src/collector/socket-state.ts,
 * blind-spots.ts, socket-carry-over-record.ts) with a cgroup tree in memory.
 */
import { deflateRawSync } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  advanceSocketCollection,
  podBucketKey,
  type CgroupPlace,
  type SocketCgroupLookup,
  type SocketRules,
  type SocketState,
} from '../../src/collector/socket-state.js';
import { advanceBlindSpots, carriedBlindSpots, restoredBlindSpots } from '../../src/collector/blind-spots.js';
import { decodeSocketState, encodeSocketState } from '../../src/collector/socket-carry-over-record.js';
import { carriedSocketState, restoredSocketState } from '../../src/collector/socket-state.js';
import type { SocketCounterRow } from '../../src/source/socket-counter-source.js';
import type { InterfaceSample } from '../../src/collector/interface-sample.js';

const UID_A = '11111111-2222-3333-4444-555555555555';
const POD_A = `/kubepods.slice/kubepods-pod${UID_A.replace(/-/g, '_')}.slice`;
const CID_1 = '1'.repeat(64);
const CID_2 = '2'.repeat(64);

/** A cgroup tree in memory: path → id, with the names the log directories give. */
class Tree implements SocketCgroupLookup {
  readonly dirs = new Map<string, bigint>();
  readonly names = new Map<string, { namespace: string; pod: string }>();
  readonly containers = new Map<string, string>();
  located = 0;
  newCollection(): void {}
  locate(ids: readonly bigint[]): Map<bigint, string> {
    this.located++;
    const out = new Map<bigint, string>();
    for (const [path, id] of this.dirs) if (ids.includes(id)) out.set(id, path);
    return out;
  }
  exists(id: bigint, path: string): boolean {
    return this.dirs.get(path) === id;
  }
  dirExists(path: string): boolean {
    return this.dirs.has(path);
  }
  describe(path: string): CgroupPlace {
    if (!path.startsWith('/kubepods.slice/')) return { kind: 'node' };
    const uid = UID_A;
    const n = this.names.get(uid);
    const cid = /([0-9a-f]{64})\.scope$/.exec(path)?.[1];
    return { kind: 'pod', uid, namespace: n?.namespace ?? '', pod: n?.pod ?? '', container: (cid && this.containers.get(cid)) || '' };
  }
}

function rows(...r: Array<[bigint, number, number]>): SocketCounterRow[] {
  return r.flatMap(([cgroupId, inn, out]) => [
    { cgroupId, direction: 'ingress' as const, packets: BigInt(inn), bytes: BigInt(inn * 100) },
    { cgroupId, direction: 'egress' as const, packets: BigInt(out), bytes: BigInt(out * 100) },
  ]);
}

const RULES: SocketRules = { containers: false, departedRetentionMs: 10_000, namesGraceMs: 5_000 };

function podTree(): Tree {
  const t = new Tree();
  t.dirs.set(POD_A, 10n);
  t.dirs.set(`${POD_A}/cri-containerd-${CID_1}.scope`, 11n);
  t.dirs.set(`${POD_A}/cri-containerd-${CID_2}.scope`, 12n);
  t.dirs.set('/system.slice/sshd.service', 20n);
  t.names.set(UID_A, { namespace: 'shop', pod: 'web' });
  t.containers.set(CID_1, 'app');
  t.containers.set(CID_2, 'sidecar');
  return t;
}

test('pods, the node, an unmapped cgroup and the map-full key each land in one place', () => {
  const t = podTree();
  const step = advanceSocketCollection(undefined, rows([11n, 5, 3], [12n, 1, 2], [20n, 7, 7], [99n, 4, 4], [0n, 2, 1]), 0, RULES, t);
  assert.deepEqual(
    step.pods.map((p) => [p.namespace, p.pod, p.container, p.ingress.packets, p.egress.packets]),
    [['shop', 'web', '', 6n, 5n]],
  );
  const u = Object.fromEntries(step.unattributed.map((x) => [x.reason, [x.ingress.packets, x.egress.packets]]));
  assert.deepEqual(u, { map_full: [2n, 1n], node: [7n, 7n], unmapped: [4n, 4n], unnamed_pod: [0n, 0n] });
  assert.deepEqual(step.forget, [99n], 'the unmapped entry is taken and forgotten');
  assert.deepEqual(
    step.namespaces.map((n) => [n.namespace, n.ingress.packets]),
    [['shop', 6n]],
  );
});

test('containers: one series per container, none at pod level', () => {
  const t = podTree();
  const step = advanceSocketCollection(undefined, rows([11n, 5, 3], [12n, 1, 2]), 0, { ...RULES, containers: true }, t);
  assert.deepEqual(
    step.pods.map((p) => [p.container, p.ingress.packets, p.egress.packets]),
    [
      ['app', 5n, 3n],
      ['sidecar', 1n, 2n],
    ],
  );
});

test('a container that goes keeps its finals; the pod departs after its retention; the namespace never goes back', () => {
  const t = podTree();
  let s: SocketState = advanceSocketCollection(undefined, rows([11n, 5, 3], [12n, 1, 2]), 0, RULES, t).state;
  t.dirs.delete(`${POD_A}/cri-containerd-${CID_2}.scope`);
  let step = advanceSocketCollection(s, rows([11n, 6, 3], [12n, 4, 2]), 1000, RULES, t);
  assert.deepEqual(step.forget, [12n]);
  assert.equal(step.pods[0]!.ingress.packets, 10n);
  s = step.state;
  // The entry is forgotten; a late packet re-creates it: only that is added.
  step = advanceSocketCollection(s, rows([11n, 6, 3], [12n, 1, 0]), 2000, RULES, t);
  assert.equal(step.pods[0]!.ingress.packets, 11n);
  s = step.state;
  t.dirs.delete(`${POD_A}/cri-containerd-${CID_1}.scope`);
  t.dirs.delete(POD_A);
  step = advanceSocketCollection(s, rows([11n, 6, 3]), 3000, RULES, t);
  assert.equal(step.pods[0]!.departed, true);
  assert.equal(step.namespaces[0]!.ingress.packets, 11n);
  step = advanceSocketCollection(step.state, [], 3000 + RULES.departedRetentionMs, RULES, t);
  assert.deepEqual(step.pods, []);
  assert.deepEqual(
    step.namespaces.map((n) => [n.namespace, n.ingress.packets, n.egress.packets]),
    [['shop', 11n, 5n]],
  );
});

test('forget: what an entry counted between the read and its deletion (late packets) joins its bucket', () => {
  const t = podTree();
  const s0 = advanceSocketCollection(undefined, rows([11n, 5, 3], [12n, 1, 2]), 0, RULES, t).state;
  t.dirs.delete(`${POD_A}/cri-containerd-${CID_2}.scope`);
  // Read at (4, 2); when deleted the entry held 3 more received and 1 more sent packets.
  const asked: bigint[][] = [];
  const atDeletion = new Map([[12n, { ingress: { packets: 7n, bytes: 700n }, egress: { packets: 3n, bytes: 300n } }]]);
  let step = advanceSocketCollection(s0, rows([11n, 6, 3], [12n, 4, 2]), 1000, RULES, t, (ids) => {
    asked.push([...ids]);
    return atDeletion;
  });
  assert.deepEqual(asked, [[12n]], 'one call with the finished entries');
  assert.deepEqual(step.forget, [12n]);
  const pod = step.pods[0]!;
  assert.deepEqual(
    [pod.ingress, pod.egress],
    [
      { packets: 13n, bytes: 1300n },
      { packets: 6n, bytes: 600n },
    ],
  );
  assert.equal(step.namespaces[0]!.ingress.packets, 13n);
  // After the deletion a new entry of that id holds only packets later still: all of it is added (5 is more than was read before).
  step = advanceSocketCollection(step.state, rows([11n, 6, 3], [12n, 5, 0]), 2000, RULES, t, () => new Map([[12n, 'absent']]));
  assert.equal(step.pods[0]!.ingress.packets, 18n);
});

test('forget: an entry that could not be deleted is read again and only what it adds is counted; an absent one adds nothing', () => {
  const t = podTree();
  const s0 = advanceSocketCollection(undefined, rows([11n, 5, 3], [12n, 1, 2]), 0, RULES, t).state;
  t.dirs.delete(`${POD_A}/cri-containerd-${CID_2}.scope`);
  let step = advanceSocketCollection(s0, rows([11n, 6, 3], [12n, 4, 2]), 1000, RULES, t, () => new Map());
  assert.equal(step.pods[0]!.ingress.packets, 10n);
  step = advanceSocketCollection(step.state, rows([11n, 6, 3], [12n, 5, 2]), 2000, RULES, t, () => new Map([[12n, 'absent']]));
  assert.equal(step.pods[0]!.ingress.packets, 11n, 'the one packet it added since');
  step = advanceSocketCollection(step.state, rows([11n, 6, 3]), 3000, RULES, t, () => new Map());
  assert.equal(step.pods[0]!.ingress.packets, 11n);
});

test('a pod cgroup waits for its names, then counts without them as unnamed_pod', () => {
  const t = podTree();
  t.names.clear();
  let step = advanceSocketCollection(undefined, rows([11n, 5, 3]), 0, RULES, t);
  assert.deepEqual(step.pods, []);
  step = advanceSocketCollection(step.state, rows([11n, 6, 3]), RULES.namesGraceMs, RULES, t);
  assert.equal(step.unattributed.find((u) => u.reason === 'unnamed_pod')!.ingress.packets, 6n);
  // Named in time instead: counted in full in the pod.
  const t2 = podTree();
  t2.names.clear();
  step = advanceSocketCollection(undefined, rows([11n, 5, 3]), 0, RULES, t2);
  t2.names.set(UID_A, { namespace: 'shop', pod: 'web' });
  step = advanceSocketCollection(step.state, rows([11n, 6, 3]), 1000, RULES, t2);
  assert.equal(step.pods[0]!.ingress.packets, 6n);
});

test('the tree is walked only for cgroups not placed yet', () => {
  const t = podTree();
  const s = advanceSocketCollection(undefined, rows([11n, 5, 3], [20n, 1, 1]), 0, RULES, t).state;
  const step = advanceSocketCollection(s, rows([11n, 6, 3], [20n, 2, 2]), 1000, RULES, t);
  assert.equal(t.located, 1);
  assert.equal(step.unattributed.find((u) => u.reason === 'node')!.ingress.packets, 2n);
});

test('carried across a restart (through the record): a cgroup gone meanwhile keeps its pod, totals continue', () => {
  const t = podTree();
  const first = advanceSocketCollection(undefined, rows([11n, 5, 3], [0n, 1, 1]), 0, RULES, t);
  const bytes = encodeSocketState(carriedSocketState(first.state, undefined));
  const carried = decodeSocketState(bytes, podBucketKey);
  const restored = restoredSocketState(carried, 0, RULES);
  t.dirs.delete(`${POD_A}/cri-containerd-${CID_1}.scope`);
  const step = advanceSocketCollection(restored.state, rows([11n, 9, 3], [0n, 2, 1]), 500, RULES, t);
  assert.equal(step.pods[0]!.ingress.packets, 9n, 'downtime traffic of a cgroup gone meanwhile stays with its pod');
  assert.equal(step.unattributed.find((u) => u.reason === 'map_full')!.ingress.packets, 2n);
  assert.equal(step.unattributed.find((u) => u.reason === 'unmapped')!.ingress.packets, 0n);
});

function veth(podUid: string | undefined, egressSegments: number, ifindex = 5): InterfaceSample {
  const d = (n: number) => ({ packets: BigInt(n), bytes: 0n, segments: BigInt(n), packetsPerSecond: 0, bytesPerSecond: 0 });
  return {
    ifindex,
    name: `veth${ifindex}`,
    active: true,
    ingress: d(0),
    egress: d(egressSegments),
    ...(podUid ? { podUid, namespace: 'shop', pod: 'web' } : {}),
  };
}

test('blind spots: a redirect past the veth is counted; a routed pod and a hostNetwork pod are never flagged', () => {
  const t = podTree();
  const pods = (inn: number) => advanceSocketCollection(undefined, rows([11n, inn, 0]), 0, RULES, t).pods;
  let b = advanceBlindSpots(undefined, pods(10), [veth(UID_A, 12)]);
  b = advanceBlindSpots(b.state, pods(20), [veth(UID_A, 23)]); // routed: the veth carried more (ARP, ICMP), or one in flight
  b = advanceBlindSpots(b.state, pods(31), [veth(UID_A, 33)]); // the packet in flight at the last read reached its socket
  b = advanceBlindSpots(b.state, pods(41), [veth(UID_A, 43)]);
  assert.deepEqual(
    b.samples.map((s) => s.packets),
    [0n],
  );
  b = advanceBlindSpots(b.state, pods(741), [veth(UID_A, 43)]); // redirected: 700 past the veth
  assert.deepEqual(
    b.samples.map((s) => [s.namespace, s.pod, s.packets]),
    [['shop', 'web', 700n]],
  );
  b = advanceBlindSpots(b.state, pods(750), [veth(UID_A, 5, 6)]); // a new veth: no comparison across it
  assert.equal(b.samples[0]!.packets, 700n);
  const host = advanceBlindSpots(undefined, pods(10), []);
  assert.deepEqual(advanceBlindSpots(host.state, pods(500), []).samples, [], 'a hostNetwork pod has no veth view to be blind');
});

test('blind spots: packets in flight when a comparison begins are not blind; the series appears when it begins; a redirect still counts exactly', () => {
  const t = podTree();
  const pods = (inn: number) => advanceSocketCollection(undefined, rows([11n, inn, 0]), 0, RULES, t).pods;
  // Under load, packets pass veth and socket between the socket read and the veth read of a collection.
  let b = advanceBlindSpots(undefined, pods(2), [veth(UID_A, 4)]);
  assert.deepEqual(b.samples, [], 'no series before a comparison has begun');
  b = advanceBlindSpots(b.state, pods(5), [veth(UID_A, 10)]); // begins: 5 in flight
  assert.deepEqual(
    b.samples.map((s) => s.packets),
    [0n],
  );
  b = advanceBlindSpots(b.state, pods(10), [veth(UID_A, 10)]); // they reached the socket
  b = advanceBlindSpots(b.state, pods(10), [veth(UID_A, 10)]);
  assert.deepEqual(
    b.samples.map((s) => s.packets),
    [0n],
    'a routed pod is not flagged',
  );
  b = advanceBlindSpots(b.state, pods(710), [veth(UID_A, 10)]); // redirected past the veth
  b = advanceBlindSpots(b.state, pods(720), [veth(UID_A, 20)]); // routed again
  assert.deepEqual(
    b.samples.map((s) => s.packets),
    [700n],
    'the redirect counts exactly',
  );
});

test('a hostNetwork pod gets no blind series after a restart either (only pods with a veth carry their blind totals)', () => {
  const t = podTree();
  const pods = (inn: number) => advanceSocketCollection(undefined, rows([11n, inn, 0]), 0, RULES, t).pods;
  const host = advanceBlindSpots(undefined, pods(10), []);
  const restored = restoredBlindSpots(carriedBlindSpots(host.state));
  assert.deepEqual(advanceBlindSpots(restored, pods(500), []).samples, [], 'no 0 series for a pod without a veth');
  // A pod with a veth keeps its total across the restart.
  let b = advanceBlindSpots(undefined, pods(10), [veth(UID_A, 12)]);
  b = advanceBlindSpots(b.state, pods(10), [veth(UID_A, 12)]); // the comparison begins
  b = advanceBlindSpots(b.state, pods(710), [veth(UID_A, 12)]);
  const again = advanceBlindSpots(restoredBlindSpots(carriedBlindSpots(b.state)), pods(720), []);
  assert.deepEqual(
    again.samples.map((x) => x.packets),
    [700n],
  );
});

test('a bad pod socket carry-over record is refused with a reason: a deflate bomb, a negative or oversized count, an oversized list', () => {
  const bomb = deflateRawSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
  assert.throws(() => decodeSocketState(bomb, podBucketKey), /not a pod socket carry-over record/);
  const record = (c: unknown[]): Uint8Array => deflateRawSync(JSON.stringify({ v: 1, b: [], c, n: [], x: [] }));
  const cgroup = (n: string): unknown[] => ['11', '/kubepods.slice/x', -1, [n, '0', '0', '0']];
  assert.throws(() => decodeSocketState(record([cgroup('-5')]), podBucketKey), /expected a count/);
  assert.throws(() => decodeSocketState(record([cgroup('18446744073709551616')]), podBucketKey), /expected a count/);
  assert.equal(
    decodeSocketState(record([cgroup('18446744073709551615')]), podBucketKey).cgroups[0]!.counts.ingress.packets,
    (1n << 64n) - 1n,
  );
  assert.throws(() => decodeSocketState(record(Array.from({ length: 16_385 }, () => cgroup('1'))), podBucketKey), /at most 16384/);
});
