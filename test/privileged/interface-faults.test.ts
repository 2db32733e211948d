/**
 * The kernel's drop and error counters per interface, provoked for real in
 * namespaces of the test's own and compared with the kernel's own counts
 * (/sys/class/net/<if>/statistics, read apart from the netlink dump netprobe
 * uses), with the ebpf and the netdev source:
 * - tx_dropped: raw frames sent out of a veth whose peer is down;
 * - rx_dropped: frames of an ethertype no protocol handles, received by a veth;
 * - rx_errors: VXLAN packets marked congestion-experienced around a packet
 *   that is not ECN-capable (the VXLAN device drops them as frame errors);
 * - tx_errors: datagrams into a VXLAN device whose remote has no route (an
 *   `unreachable` route of this namespace: nothing leaves it).
 * The receive details (missed, FIFO, over, no handler) are compared too; no
 * virtual device of this kernel counts them (rx_nohandler needs a bond or
 * team port, not built here), so they are 0 on both sides.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, uniqueTag, vethBetween } from '../support/netns.js';
import { quietIpv6, sendUdp } from '../support/traffic.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';
import { readSysfsFaults, sendRawFrames, sendVxlanCongestionMarked, type SysfsFaults } from '../support/link-faults.js';

const N = 25;
const VXLAN_PORT = 4789;
const VNI = 42;

function collections(s: Scrape): number {
  const line = s.lines.find((l) => l.startsWith('netprobe_collection_total '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/** netprobe's eight values of one interface in one scrape, under the kernel's field names. */
function exported(s: Scrape, ifname: string, ifindex: number): Record<keyof SysfsFaults, number | undefined> {
  const labels = { interface: ifname, ifindex: String(ifindex) };
  const v = (name: string, extra: Record<string, string> = {}): number | undefined => valueIn(s.lines, name, { ...labels, ...extra });
  return {
    rx_dropped: v('netprobe_interface_drops_total', { direction: 'ingress' }),
    tx_dropped: v('netprobe_interface_drops_total', { direction: 'egress' }),
    rx_errors: v('netprobe_interface_errors_total', { direction: 'ingress' }),
    tx_errors: v('netprobe_interface_errors_total', { direction: 'egress' }),
    rx_missed_errors: v('netprobe_interface_receive_missed_total'),
    rx_fifo_errors: v('netprobe_interface_receive_fifo_errors_total'),
    rx_over_errors: v('netprobe_interface_receive_over_errors_total'),
    rx_nohandler: v('netprobe_interface_receive_nohandler_total'),
  };
}

for (const source of ['ebpf', 'netdev'] as const) {
  test(`${source} source: interface drops and errors provoked for real equal the kernel's own counts`, { timeout: 180_000 }, async (t) => {
    const node = await Netns.create('npif');
    t.after(() => node.delete());
    const far = await Netns.create('npig');
    t.after(() => far.delete());
    await quietIpv6(node, far); // only the test's own packets
    const tag = uniqueTag();
    const names = { peerDown: `npd${tag}`, receiver: `npr${tag}`, vxlanIn: `npx${tag}`, vxlanOut: `npw${tag}` };

    // A veth whose peer stays down: what it sends is dropped (tx_dropped).
    await node.ip(['link', 'add', names.peerDown, 'type', 'veth', 'peer', 'name', `npe${tag}`]);
    await node.ip(['link', 'set', names.peerDown, 'up']);
    // A veth pair, both up: frames of an unknown ethertype are dropped by the receiver (rx_dropped).
    await node.ip(['link', 'add', names.receiver, 'type', 'veth', 'peer', 'name', `nps${tag}`]);
    await node.ip(['link', 'set', names.receiver, 'up']);
    await node.ip(['link', 'set', `nps${tag}`, 'up']);
    // A VXLAN device over a veth to the far namespace, which sends it congestion-marked packets (rx_errors).
    const underlay = await vethBetween(node, far);
    await node.ip([
      'link',
      'add',
      names.vxlanIn,
      'type',
      'vxlan',
      'id',
      String(VNI),
      'local',
      underlay.addrA,
      'dstport',
      String(VXLAN_PORT),
      'dev',
      underlay.a,
    ]);
    await node.ip(['link', 'set', names.vxlanIn, 'up']);
    // A VXLAN device whose remote this namespace cannot route to (tx_errors); a static neighbour: no ARP, exactly N.
    await node.ip(['route', 'add', 'unreachable', '192.0.2.1/32']);
    await node.ip([
      'link',
      'add',
      names.vxlanOut,
      'type',
      'vxlan',
      'id',
      String(VNI + 1),
      'remote',
      '192.0.2.1',
      'dstport',
      String(VXLAN_PORT + 1),
    ]);
    await node.ip(['addr', 'add', '10.214.1.1/30', 'dev', names.vxlanOut]);
    await node.ip(['link', 'set', names.vxlanOut, 'up']);
    await node.ip(['neigh', 'replace', '10.214.1.2', 'lladdr', '02:00:00:00:00:09', 'dev', names.vxlanOut, 'nud', 'permanent']);

    const np = await startNetprobe(node, [`--source=${source}`, '--collector.interval=500ms']);
    t.after(() => np.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node, `http://127.0.0.1:${np.port}/metrics`, {
      intervalMs: 300,
      keep: /^netprobe_(interface_|collection_total)/,
    });
    t.after(() => scraper.stop());
    const ifindex = new Map<string, number>();
    for (const name of Object.values(names)) ifindex.set(name, await node.ifindex(name));
    await scraper.until(
      (s) => (exported(s, names.vxlanOut, ifindex.get(names.vxlanOut)!).tx_errors !== undefined ? true : undefined),
      30_000,
      'faults exported',
    );

    await sendRawFrames(node, names.peerDown, N);
    await sendRawFrames(node, `nps${tag}`, N);
    await sendVxlanCongestionMarked(far, underlay.addrA, VXLAN_PORT, VNI, N);
    await sendUdp(node, '10.214.1.2', N);

    // Settled: the kernel read twice with no change between, around a scrape of a collection that
    // began after the first read (two collections after one scraped since) — that scrape must hold
    // exactly what the kernel counted.
    let compared = false;
    const deadline = Date.now() + 90_000;
    while (!compared && Date.now() < deadline) {
      const before = new Map<string, SysfsFaults>();
      for (const name of Object.values(names)) before.set(name, await readSysfsFaults(node, name));
      const seen = collections(await scraper.fresh());
      const s = await scraper.until((x) => (collections(x) >= seen + 2 ? x : undefined), 45_000, `collection ${seen + 2}`);
      const after = new Map<string, SysfsFaults>();
      for (const name of Object.values(names)) after.set(name, await readSysfsFaults(node, name));
      if (JSON.stringify([...before]) !== JSON.stringify([...after])) continue; // still counting: read again
      for (const [name, kernel] of after) assert.deepEqual(exported(s, name, ifindex.get(name)!), kernel, `${name} (${source} source)`);
      const k = (name: string): SysfsFaults => after.get(name)!;
      assert.ok(k(names.peerDown).tx_dropped >= N, `tx_dropped provoked: ${JSON.stringify(k(names.peerDown))}`);
      assert.ok(k(names.receiver).rx_dropped >= N, `rx_dropped provoked: ${JSON.stringify(k(names.receiver))}`);
      assert.equal(k(names.vxlanIn).rx_errors, N, `rx_errors provoked: ${JSON.stringify(k(names.vxlanIn))}`);
      assert.equal(k(names.vxlanOut).tx_errors, N, `tx_errors provoked: ${JSON.stringify(k(names.vxlanOut))}`);
      compared = true;
    }
    assert.ok(compared, 'the kernel counters stood still long enough to compare');
  });
}
