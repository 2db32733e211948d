/**
 * Where netprobe's TC counters and the kernel's own device statistics
 * (`ip -s link`) differ, measured with real traffic against the real CLI
 * (eBPF source) — the relations docs/metrics.md states ("Differences from
 * `ip -s link`"). In namespace B: a bridge with a veth port, a vxlan device
 * over it, a macvlan on another veth, and lo; namespace A sends UDP to the
 * bridge, through the vxlan and to the macvlan, and iperf3 runs TCP over B's lo. Scrapes go over a separate veth pair, so
 * they touch none of the measured devices. Asserted, per device and
 * direction, on deltas taken when everything is quiet:
 * - veth (bridge port) and macvlan: TC = kernel, packets and bytes, both directions;
 * - bridge: ingress bytes = rx_bytes + 14 × packets (the bridge counts frames
 *   without their Ethernet header on receive); egress = tx exactly;
 * - vxlan: bytes = kernel bytes + 14 × packets, both directions;
 * - lo, ingress: packets = rx_packets, bytes = rx_bytes + 14 × packets;
 * - lo, egress under TCP: packets (GSO skbs) < tx_packets, and
 *   netprobe_tc_segments_total = tx_packets + the extra segments of the few
 *   GSO skbs lo passes on whole (seen at lo's ingress as segments > packets);
 *   bytes = tx_bytes + 14 × packets − 52 × (tx_packets − packets) (each
 *   segment made after the hook repeats the IPv4 and TCP headers, 20 + 32
 *   bytes with timestamps).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns, vethBetween } from '../support/netns.js';
import { fetchInNetns } from '../support/netns-http.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { sampleValue } from '../support/exposition-parse.js';
import { iperf, quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';

const DEVICES = ['vb', 'mv0', 'br0', 'vx0', 'lo'] as const;
type Device = (typeof DEVICES)[number];
const DIRECTIONS = ['ingress', 'egress'] as const;
type Counts = { packets: bigint; bytes: bigint; segments: bigint };
/** Per device: ours (TC, from /metrics) and the kernel's (ingress = rx, egress = tx). */
type Reading = Record<Device, { ours: Record<'ingress' | 'egress', Counts>; kernel: Record<'ingress' | 'egress', Counts> }>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));

test('TC counters against ip -s link on a bridge, a vxlan and lo, with real traffic', { timeout: 150_000 }, async (t) => {
  const a = await Netns.create('npdiffA');
  const b = await Netns.create('npdiffB');
  t.after(async () => {
    await a.delete();
    await b.delete();
  });
  await quietIpv6(a, b);
  const subnet = 1 + (process.pid % 250);
  const [underA, underB, vxA, vxB] = [`10.215.${subnet}.1`, `10.215.${subnet}.2`, `10.216.${subnet}.1`, `10.216.${subnet}.2`];

  // A:va — B:vb, a port of B:br0 (which holds the address).
  await a.ip(['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
  await a.ip(['addr', 'add', `${underA}/24`, 'dev', 'va']);
  await a.ip(['link', 'set', 'va', 'up']);
  await b.ip(['link', 'add', 'br0', 'type', 'bridge']);
  await b.ip(['link', 'set', 'vb', 'master', 'br0']);
  await b.ip(['link', 'set', 'vb', 'up']);
  await b.ip(['addr', 'add', `${underB}/24`, 'dev', 'br0']);
  await b.ip(['link', 'set', 'br0', 'up']);
  // vxlan 42 between them over that underlay.
  for (const [ns, local, remote, dev, addr] of [
    [a, underA, underB, 'va', vxA],
    [b, underB, underA, 'br0', vxB],
  ] as const) {
    await ns.ip(['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', local, 'remote', remote, 'dstport', '4789', 'dev', dev]);
    await ns.ip(['addr', 'add', `${addr}/24`, 'dev', 'vx0']);
    await ns.ip(['link', 'set', 'vx0', 'up']);
  }
  // No ARP on the measured devices: the only packets are the test's.
  await staticNeighbours(a, b, { a: 'va', b: 'br0', addrA: underA, addrB: underB });
  await staticNeighbours(a, b, { a: 'vx0', b: 'vx0', addrA: vxA, addrB: vxB });
  // A:wa — B:wb, with macvlan B:mv0 (bridge mode) on wb holding the address.
  const [macA, macB] = [`10.217.${subnet}.1`, `10.217.${subnet}.2`];
  await a.ip(['link', 'add', 'wa', 'type', 'veth', 'peer', 'name', 'wb', 'netns', b.name]);
  await a.ip(['addr', 'add', `${macA}/24`, 'dev', 'wa']);
  await a.ip(['link', 'set', 'wa', 'up']);
  await b.ip(['link', 'set', 'wb', 'up']);
  await b.ip(['link', 'add', 'mv0', 'link', 'wb', 'type', 'macvlan', 'mode', 'bridge']);
  await b.ip(['addr', 'add', `${macB}/24`, 'dev', 'mv0']);
  await b.ip(['link', 'set', 'mv0', 'up']);
  await staticNeighbours(a, b, { a: 'wa', b: 'mv0', addrA: macA, addrB: macB });
  // The scrape path: its own veth pair.
  const mgmt = await vethBetween(a, b);

  const np = await startNetprobe(b, [`--web.listen-address=${mgmt.addrB}:0`, '--source=ebpf', '--collector.interval=500ms']);
  t.after(() => np.stop('SIGKILL'));
  const url = `http://${mgmt.addrB}:${np.port}/metrics`;

  const kernel = async (): Promise<Record<Device, Record<'ingress' | 'egress', Counts>>> => {
    const out = {} as Record<Device, Record<'ingress' | 'egress', Counts>>;
    for (const d of DEVICES) {
      const s = await b.linkStats(d);
      // The kernel keeps no segment count: segments = packets.
      out[d] = {
        ingress: { packets: BigInt(s.rx.packets), bytes: BigInt(s.rx.bytes), segments: BigInt(s.rx.packets) },
        egress: { packets: BigInt(s.tx.packets), bytes: BigInt(s.tx.bytes), segments: BigInt(s.tx.packets) },
      };
    }
    return out;
  };
  const ours = async (): Promise<Record<Device, Record<'ingress' | 'egress', Counts>>> => {
    const r = await fetchInNetns(a, url);
    assert.equal(r.status, 200);
    const text = r.body.toString();
    const value = (name: string, d: Device, direction: string): bigint => {
      const v = sampleValue(text, name, { interface: d, direction });
      assert.notEqual(v, undefined, `${name}{interface="${d}",direction="${direction}"} missing`);
      return BigInt(v!);
    };
    const out = {} as Record<Device, Record<'ingress' | 'egress', Counts>>;
    for (const d of DEVICES) {
      const per = (direction: 'ingress' | 'egress'): Counts => ({
        packets: value('netprobe_tc_packets_total', d, direction),
        bytes: value('netprobe_tc_bytes_total', d, direction),
        segments: value('netprobe_tc_segments_total', d, direction),
      });
      out[d] = { ingress: per('ingress'), egress: per('egress') };
    }
    return out;
  };
  /** Both sides when nothing moved: the kernel unchanged and two scrapes a collection apart equal. */
  const settled = async (): Promise<Reading> => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const k1 = await kernel();
      const m1 = await ours().catch(() => undefined);
      await sleep(1200);
      const m2 = await ours().catch(() => undefined);
      const k2 = await kernel();
      if (m1 && m2 && json(k1) === json(k2) && json(m1) === json(m2)) {
        const reading = {} as Reading;
        for (const d of DEVICES) reading[d] = { ours: m2[d], kernel: k2[d] };
        return reading;
      }
    }
    throw new Error('counters never settled');
  };

  const before = await settled();
  await sendUdp(a, underB, 200, 200); // to the bridge's address
  await sendUdp(a, vxB, 200, 300); // through the vxlan
  await sendUdp(a, macB, 100, 400); // to the macvlan
  await iperf(b, b, '127.0.0.1', [{ seconds: 2 }]); // TCP over lo
  const after = await settled();

  const delta = (d: Device, side: 'ours' | 'kernel', direction: 'ingress' | 'egress'): Counts => {
    const [x, y] = [before[d][side][direction], after[d][side][direction]];
    return { packets: y.packets - x.packets, bytes: y.bytes - x.bytes, segments: y.segments - x.segments };
  };
  for (const d of DEVICES)
    for (const dir of DIRECTIONS)
      t.diagnostic(`${d} ${dir}: netprobe ${json(delta(d, 'ours', dir))}, kernel ${json(delta(d, 'kernel', dir))}`);

  // Real traffic on every device measured.
  for (const d of DEVICES) assert.ok(delta(d, 'kernel', 'ingress').packets >= 100n, `${d}: traffic arrived`);
  assert.ok(delta('vx0', 'kernel', 'egress').packets > 0n && delta('br0', 'kernel', 'egress').packets > 0n, 'ICMP answers left');

  // veth and macvlan: exact in both directions.
  for (const d of ['vb', 'mv0'] as const)
    for (const dir of DIRECTIONS) {
      const [o, k] = [delta(d, 'ours', dir), delta(d, 'kernel', dir)];
      assert.deepEqual([o.packets, o.bytes], [k.packets, k.bytes], `${d} ${dir}`);
    }
  // bridge: 14 bytes a packet more on receive; transmit exact.
  {
    const [o, k] = [delta('br0', 'ours', 'ingress'), delta('br0', 'kernel', 'ingress')];
    assert.equal(o.packets, k.packets, 'br0 ingress packets');
    assert.equal(o.bytes, k.bytes + 14n * o.packets, 'br0 ingress bytes = rx_bytes + 14 × packets');
    const [oe, ke] = [delta('br0', 'ours', 'egress'), delta('br0', 'kernel', 'egress')];
    assert.deepEqual([oe.packets, oe.bytes], [ke.packets, ke.bytes], 'br0 egress = tx');
  }
  // vxlan: 14 bytes a packet more, both directions.
  for (const dir of DIRECTIONS) {
    const [o, k] = [delta('vx0', 'ours', dir), delta('vx0', 'kernel', dir)];
    assert.equal(o.packets, k.packets, `vx0 ${dir} packets`);
    assert.equal(o.bytes, k.bytes + 14n * o.packets, `vx0 ${dir} bytes = kernel bytes + 14 × packets`);
  }
  // lo, ingress: the segments arrive one by one; 14 bytes a packet more.
  {
    const [o, k] = [delta('lo', 'ours', 'ingress'), delta('lo', 'kernel', 'ingress')];
    assert.equal(o.packets, k.packets, 'lo ingress packets = rx_packets');
    assert.equal(o.bytes, k.bytes + 14n * o.packets, 'lo ingress bytes = rx_bytes + 14 × packets');
  }
  // lo, egress: GSO skbs at the hook, (mostly) segmented after it. What lo transmits it
  // receives, so its ingress shows any GSO skb it passed on whole (segments > packets there).
  {
    const [o, k] = [delta('lo', 'ours', 'egress'), delta('lo', 'kernel', 'egress')];
    const inbound = delta('lo', 'ours', 'ingress');
    const whole = inbound.segments - inbound.packets;
    t.diagnostic(
      `lo: ${o.packets} skbs at TC egress, ${o.segments} segments, tx_packets ${k.packets}, ${whole} extra segments in GSO skbs lo passed on whole`,
    );
    assert.ok(o.packets < k.packets, `lo egress: ${o.packets} skbs at TC < ${k.packets} tx_packets`);
    assert.equal(o.segments, inbound.segments, 'lo: the same segments leave and arrive');
    assert.equal(o.segments, k.packets + whole, 'lo egress: netprobe_tc_segments_total = tx_packets + segments lo passed on whole');
    assert.ok(whole * 1000n <= k.packets, `lo: GSO skbs passed on whole are rare (${whole} of ${k.packets})`);
    // Each segment made after the hook repeats the IPv4 and TCP headers (20 + 32 bytes with timestamps).
    assert.equal(o.bytes, k.bytes + 14n * o.packets - 52n * (k.packets - o.packets), 'lo egress bytes');
  }
  assert.equal(await np.stop('SIGTERM'), 0);
});
