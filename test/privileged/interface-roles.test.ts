/**
 * Interface roles and node totals on a node made of real devices: in a test
 * "node" namespace, a veth to an "internet" namespace carries the default
 * route (a kind node's uplink is such a veth), a second one waits, real CNI
 * plugins make a bridge pod and a ptp pod, and a vxlan, a macvlan and lo sit
 * beside them. Each interface's kind and role equal what was made; after a
 * pod talks to the internet, pod to pod and the node to the internet, the
 * node totals (the JSON's `totals`, and /metrics joined with
 * netprobe_interface_info{role="uplink"}) equal the uplink's own kernel
 * statistics exactly and leave the pod veths and the bridge out; the
 * --collector.uplinks override works (with the netdev source, which must give
 * the same roles); and moving the default route moves the uplink.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, uniqueTag, vethBetween, type VethPair } from '../support/netns.js';
import { PodNode } from '../support/cni-pod.js';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { fetchInNetns } from '../support/netns-http.js';
import { labelSets } from '../support/exposition-parse.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';

interface Totals {
  ingress: { bytes: number; packets: number };
  egress: { bytes: number; packets: number };
}
interface Overview {
  totals: Totals;
  uplinks: Array<{ name: string; ifindex: number }>;
  interfaces: Array<{ name: string; ifindex: number; kind?: string; role?: string }>;
}

async function get(ns: Netns, np: NetprobeProcess, path: string): Promise<string> {
  const res = await fetchInNetns(ns, `http://127.0.0.1:${np.port}${path}`);
  assert.equal(res.status, 200, `${path}: HTTP ${res.status}`);
  return res.body.toString('utf8');
}

/** Waits (generously) until `read` gives a value `ok` accepts; fails with the last value. */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what}: never reached; last ${JSON.stringify(last).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Each interface's {kind, role} by name, from netprobe_interface_info. */
function rolesIn(metrics: string): Record<string, { ifindex: string; kind: string; role: string }> {
  const out: Record<string, { ifindex: string; kind: string; role: string }> = {};
  for (const l of labelSets(metrics, 'netprobe_interface_info')) {
    assert.deepEqual(Object.keys(l).sort(), ['ifindex', 'interface', 'kind', 'role'], 'exactly these labels');
    out[l.interface!] = { ifindex: l.ifindex!, kind: l.kind!, role: l.role! };
  }
  return out;
}

/**
 * `sum by (direction) (netprobe_tc_{bytes,packets}_total * on(ifindex, interface) group_left(role)
 * netprobe_interface_info{role="uplink"})`, evaluated on one exposition: the join matches on
 * ifindex and interface only, so extra labels (namespace, pod) do not get in the way.
 */
function uplinkSum(metrics: string): Totals {
  const uplinks = labelSets(metrics, 'netprobe_interface_info').filter((l) => l.role === 'uplink');
  const sum = (family: string, direction: string): number => {
    let total = 0;
    for (const line of metrics.split('\n')) {
      if (!line.startsWith(`${family}{`)) continue;
      const labels = labelSets(line, family)[0]!;
      if (labels.direction !== direction) continue;
      if (uplinks.some((u) => u.ifindex === labels.ifindex && u.interface === labels.interface)) total += Number(line.split(' ').pop());
    }
    return total;
  };
  return {
    ingress: { bytes: sum('netprobe_tc_bytes_total', 'ingress'), packets: sum('netprobe_tc_packets_total', 'ingress') },
    egress: { bytes: sum('netprobe_tc_bytes_total', 'egress'), packets: sum('netprobe_tc_packets_total', 'egress') },
  };
}

/** The kernel's statistics of an interface as node totals: rx is ingress, tx is egress. */
async function kernelTotals(ns: Netns, ifname: string): Promise<Totals> {
  const s = await ns.linkStats(ifname);
  return { ingress: { bytes: s.rx.bytes, packets: s.rx.packets }, egress: { bytes: s.tx.bytes, packets: s.tx.packets } };
}

/** The JSON's totals, with only the fields compared. */
function jsonTotals(doc: Overview): Totals {
  const pick = (d: Totals['ingress']): Totals['ingress'] => ({ bytes: d.bytes, packets: d.packets });
  return { ingress: pick(doc.totals.ingress), egress: pick(doc.totals.egress) };
}

test('interface roles, node totals over the uplinks, the uplinks override, a moved default route', { timeout: 240_000 }, async (t) => {
  const node = await PodNode.create();
  t.after(() => node.cleanup());
  const internet = await Netns.create('npinet');
  t.after(() => internet.delete());
  await quietIpv6(internet);
  const s1 = 1 + Math.floor(Math.random() * 120);
  const uplink: VethPair = await vethBetween(node.ns, internet, { subnet: s1 });
  const spare: VethPair = await vethBetween(node.ns, internet, { subnet: s1 + 121 });
  await staticNeighbours(node.ns, internet, uplink);
  await staticNeighbours(node.ns, internet, spare);
  await node.ns.ip(['route', 'add', 'default', 'via', uplink.addrB, 'dev', uplink.a]);
  await node.ns.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);

  const web = await node.addPod({ namespace: 'team-a', name: 'web-0', shape: 'bridge' });
  const db = await node.addPod({ namespace: 'team-b', name: 'db-0', shape: 'ptp' });
  for (const pod of [web, db]) {
    await node.quietNeighbours(pod);
    // host-local gives the pods no default route (no `routes` in the IPAM config): add the one a CNI would.
    await pod.exec('ip', ['route', 'replace', 'default', 'via', pod.gateway, 'dev', 'eth0']);
    // The internet answers the pods through the node (no masquerading).
    await internet.ip(['route', 'replace', `${pod.ip.split('.').slice(0, 2).join('.')}.0.0/16`, 'via', uplink.addrA]);
  }
  const [bridge] = (JSON.parse(await node.ns.ip(['-j', 'link', 'show', 'type', 'bridge'])) as Array<{ ifname: string }>).map(
    (l) => l.ifname,
  );
  assert.ok(bridge, 'the bridge CNI plugin made a bridge');
  const tag = uniqueTag();
  const vxlan = `npvx${tag}`;
  const macvlan = `npmv${tag}`;
  await node.ns.ip(['link', 'add', vxlan, 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', uplink.addrA, 'dev', uplink.a]);
  await node.ns.ip(['link', 'add', macvlan, 'link', uplink.a, 'type', 'macvlan', 'mode', 'bridge']);
  for (const dev of [vxlan, macvlan]) await node.ns.ip(['link', 'set', dev, 'up']);
  const before = await kernelTotals(node.ns, uplink.a);
  assert.deepEqual(before, { ingress: { bytes: 0, packets: 0 }, egress: { bytes: 0, packets: 0 } }, 'nothing crossed the uplink yet');

  // eBPF, with pod labels (extra labels the join must not trip over); and netdev naming the spare link the uplink.
  const np = await startNetprobe(node.ns, [
    '--source=ebpf',
    '--collector.interval=1s',
    '--collector.pods',
    `--kubernetes.pod-logs-dir=${node.logsDir}`,
    `--kubernetes.cgroup-root=${node.cgroupRoot}`,
  ]);
  t.after(() => np.stop('SIGKILL'));
  const nd = await startNetprobe(node.ns, ['--source=netdev', '--collector.interval=1s', `--collector.uplinks=${spare.a}`]);
  t.after(() => nd.stop('SIGKILL'));

  const expected: Record<string, { kind: string; role: string }> = {
    lo: { kind: 'device', role: 'loopback' },
    [uplink.a]: { kind: 'veth', role: 'uplink' },
    [spare.a]: { kind: 'veth', role: 'pod' }, // a veth whose peer is in another namespace
    [bridge]: { kind: 'bridge', role: 'bridge' },
    [vxlan]: { kind: 'vxlan', role: 'tunnel' },
    [macvlan]: { kind: 'macvlan', role: 'other' },
    [web.hostVeth]: { kind: 'veth', role: 'pod' },
    [db.hostVeth]: { kind: 'veth', role: 'pod' },
  };
  await t.test('each interface has the kind it was made as and its role', async () => {
    const roles = await until(
      'every interface has its role',
      async () => rolesIn(await get(node.ns, np, '/metrics')),
      (r) => Object.keys(expected).every((n) => r[n] !== undefined),
    );
    for (const [name, want] of Object.entries(expected)) {
      assert.deepEqual({ kind: roles[name]!.kind, role: roles[name]!.role }, want, name);
      assert.equal(roles[name]!.ifindex, String(await node.ns.ifindex(name)), `${name}: ifindex`);
    }
    assert.deepEqual(Object.keys(roles).sort(), Object.keys(expected).sort(), 'no other interface in the node');
    const netdev = rolesIn(await get(node.ns, nd, '/metrics'));
    assert.deepEqual(
      Object.fromEntries(Object.entries(netdev).map(([n, r]) => [n, r.role])),
      { ...Object.fromEntries(Object.entries(expected).map(([n, r]) => [n, r.role])), [uplink.a]: 'pod', [spare.a]: 'uplink' },
      'the netdev source: the same roles, with the uplink named by --collector.uplinks',
    );
  });

  await t.test('node totals are what crossed the uplink, exactly; pod veths and the bridge are left out', async () => {
    await sendUdp(web, uplink.addrB, 150, 400); // pod -> internet: host veth, bridge, uplink
    await sendUdp(db, uplink.addrB, 120, 300); // pod -> internet through a ptp veth
    await sendUdp(web, db.ip, 200, 500); // pod -> pod: two veths and the bridge, never the uplink
    await sendUdp(node.ns, uplink.addrB, 80, 200); // the node itself -> internet
    await sendUdp(node.ns, spare.addrB, 60, 250); // over the spare link: not an uplink while the default route is elsewhere
    const kernel = await kernelTotals(node.ns, uplink.a);
    assert.ok(kernel.egress.packets >= 150 + 120 + 80, `the uplink carried the traffic: ${JSON.stringify(kernel)}`);
    const doc = await until(
      'JSON totals equal the uplink kernel statistics',
      async () => JSON.parse(await get(node.ns, np, '/api/v1/overview')) as Overview,
      (d) => JSON.stringify(jsonTotals(d)) === JSON.stringify(kernel),
    );
    assert.deepEqual(doc.uplinks, [{ name: uplink.a, ifindex: await node.ns.ifindex(uplink.a) }]);
    const metrics = await until(
      '/metrics joined with the uplink role equals the uplink kernel statistics',
      () => get(node.ns, np, '/metrics'),
      (m) => JSON.stringify(uplinkSum(m)) === JSON.stringify(kernel),
    );
    assert.ok(
      labelSets(metrics, 'netprobe_tc_bytes_total').some((l) => l.pod === 'web-0'),
      'pod labels are there (and did not break the join)',
    );
    // The naive sum over every interface counts the pods' packets again: what the pods sent is on
    // their host veths (and, routed out, on the bridge and the uplink too). Summed over both
    // directions, so rate-limited ICMP answers and neighbour-queue drops cannot change the verdict.
    const pods = (await kernelTotals(node.ns, web.hostVeth)).ingress.packets + (await kernelTotals(node.ns, db.hostVeth)).ingress.packets;
    assert.ok(pods >= 150 + 120 + 200, 'the pod veths carried the pods traffic');
    const uplinkBoth = kernel.egress.packets + kernel.ingress.packets;
    const naiveSum = (m: string): number => {
      const lines = m.split('\n').filter((x) => x.startsWith('netprobe_tc_packets_total{'));
      return lines.reduce((n, line) => n + Number(line.split(' ').pop()), 0);
    };
    const naiveMetrics = await until(
      'the naive sum holds the uplink and the pod veths again',
      () => get(node.ns, np, '/metrics'),
      (m) => naiveSum(m) >= uplinkBoth + pods,
    );
    assert.ok(
      naiveSum(naiveMetrics) > uplinkBoth + 300,
      `the naive sum ${naiveSum(naiveMetrics)} double-counts; the uplink's is ${uplinkBoth}`,
    );

    // The override (netdev source: its counters are the kernel's): totals are the spare link's.
    const spareKernel = await kernelTotals(node.ns, spare.a);
    assert.ok(spareKernel.egress.packets >= 60);
    const ndDoc = await until(
      'netdev + --collector.uplinks: totals equal the named uplink kernel statistics',
      async () => JSON.parse(await get(node.ns, nd, '/api/v1/overview')) as Overview,
      (d) => JSON.stringify(jsonTotals(d)) === JSON.stringify(spareKernel),
    );
    assert.deepEqual(
      ndDoc.uplinks.map((u) => u.name),
      [spare.a],
    );
  });

  await t.test('a default route moved to another device moves the uplink role', async () => {
    await node.ns.ip(['route', 'replace', 'default', 'via', spare.addrB, 'dev', spare.a]);
    const roles = await until(
      'the spare link becomes the uplink',
      async () => rolesIn(await get(node.ns, np, '/metrics')),
      (r) => r[spare.a]?.role === 'uplink' && r[uplink.a]?.role !== 'uplink',
    );
    assert.equal(roles[uplink.a]!.role, 'pod', 'the old uplink is a veth with its peer elsewhere again');
    const doc = JSON.parse(await get(node.ns, np, '/api/v1/overview')) as Overview;
    assert.deepEqual(
      doc.interfaces.filter((i) => i.role === 'uplink').map((i) => i.name),
      [spare.a],
    );
    // An IPv6-less node with no default route at all: no uplink, and totals say 0 rather than a wrong sum.
    await node.ns.ip(['route', 'del', 'default']);
    const none = await until(
      'no default route: no uplink',
      async () => JSON.parse(await get(node.ns, np, '/api/v1/overview')) as Overview,
      (d) => d.uplinks.length === 0,
    );
    assert.equal(none.totals.egress.packets, 0);
  });
});
