/**
 * The socket meter in the real kernel: a cgroup_skb pair at the cgroup2 root
 * counting per socket cgroup. Processes in a cgroup of the test's own send and
 * receive UDP between two namespaces; the meter's rows for that cgroup equal
 * what their sockets sent and received (packets, and L3 bytes); loopback adds
 * nothing; a SIGKILLed holder without a pin path leaves nothing attached;
 * with a pin path counts stay exact across SIGKILL and SIGTERM, and cleanup
 * removes links and pins; no cgroup2 mount is a clear error. The slot fast
 * path: a cgroup counted in the hash, then in its claimed slot, totals exactly;
 * one whose slot another cgroup holds counts exactly in the hash; a forgotten
 * cgroup's slot is released with its final counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, existsSync, openSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openSocketMeter, BPF_CGROUP_INET_EGRESS, BPF_CGROUP_INET_INGRESS } from '../../src/bpf/socket-meter/socket-meter.js';
import { findCgroup2Root } from '../../src/bpf/socket-meter/cgroup-root.js';
import { EbpfManager } from '../../src/bpf/ebpf-manager.js';
import { libbpf } from '../../src/sys/libbpf.js';
import type { SocketCounterRow } from '../../src/source/socket-counter-source.js';
import { Netns, twoHosts, uniqueTag, vethBetween } from '../support/netns.js';
import { installRedirectPeer } from '../support/redirect-peer.js';
import { Agent } from '../support/ebpf-agent-driver.js';
import { quietIpv6 } from '../support/traffic.js';
import { privateBpffs } from '../support/bpffs.js';
import { fixturePath } from '../support/repo-paths.js';
import { LEAST_PRIVILEGE, runnable } from '../support/netprobe-process.js';
import { testCgroup, udpReceive, udpSend } from '../support/socket-traffic.js';
import { ComponentPins } from '../../src/bpf/component-pins.js';
import { mapFromFd } from '../../src/bpf/pinned-objects.js';
import type { BpfMap } from '../../src/bpf/bpf-map.js';
import { SOCKET_METER_PINS } from '../../src/bpf/socket-meter/socket-meter-pins.js';
import { encodeArrayKey } from '../../src/bpf/abi.js';
import { encodeOwnedSlot } from '../../src/bpf/owned-slots.js';
import {
  encodeCgroupKey,
  MAP_CGROUPS,
  MAP_SLOTS,
  SM_SLOTS,
  smSlotIndex,
  SM_SLOT_OWNER,
  SM_SLOT_OWNER_OFFSET,
  sumSlotCounts,
  sumSocketCounts,
} from '../../src/bpf/socket-meter/abi.js';

const ROOT = findCgroup2Root();
const AGENT = fixturePath('socket-meter-agent.ts');

function counts(
  rows: SocketCounterRow[],
  id: bigint,
): { ingress: { packets: bigint; bytes: bigint }; egress: { packets: bigint; bytes: bigint } } {
  const pick = (d: 'ingress' | 'egress'): { packets: bigint; bytes: bigint } => {
    const r = rows.find((x) => x.cgroupId === id && x.direction === d);
    return { packets: r?.packets ?? 0n, bytes: r?.bytes ?? 0n };
  };
  return { ingress: pick('ingress'), egress: pick('egress') };
}

/** Program ids attached directly at the cgroup2 root, per hook. */
function rootProgramIds(): number[] {
  const fd = openSync(ROOT, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    return [BPF_CGROUP_INET_INGRESS, BPF_CGROUP_INET_EGRESS].flatMap((t) => libbpf().progQuery(fd, t, 256).ids);
  } finally {
    closeSync(fd);
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface AgentProcess {
  pid: number;
  ready: { event: string; programIds?: { ingress: number; egress: number }; code?: string; message?: string };
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

async function startAgent(args: string[], wrap: readonly string[] = []): Promise<AgentProcess> {
  const [cmd, argv] = runnable(AGENT, args, wrap);
  const full = [...wrap, cmd, ...argv];
  const child = spawn(full[0] ?? cmd, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const line = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve)),
    exited.then((c) => {
      throw new Error(`agent exited ${c} before a line: ${stderr}`);
    }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`agent silent for 60 s: ${stderr}`)), 60_000).unref()),
  ]);
  return {
    pid: child.pid ?? -1,
    ready: JSON.parse(line) as AgentProcess['ready'],
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid ?? -1, signal);
      return exited;
    },
  };
}

async function lab(
  t: import('node:test').TestContext,
): Promise<Awaited<ReturnType<typeof twoHosts>> & { cg: ReturnType<typeof testCgroup> }> {
  const hosts = await twoHosts('npsm');
  t.after(() => hosts.cleanup());
  const cg = testCgroup(ROOT);
  t.after(() => cg.remove());
  return { ...hosts, cg };
}

test('UDP over IPv4 and IPv6: the cgroup counts exactly what its sockets sent and received (L3 bytes)', async (t) => {
  const { left, right, link, cg } = await lab(t);
  await left.ip(['addr', 'add', 'fd00:213::1/64', 'dev', link.a, 'nodad']);
  await right.ip(['addr', 'add', 'fd00:213::2/64', 'dev', link.b, 'nodad']);
  const meter = await openSocketMeter({});
  t.after(() => meter.close());
  assert.equal(meter.cgroupRoot, ROOT);

  const cases = [
    { family: 4, local: link.addrA, remote: link.addrB, header: 28, n: 300, size: 200 },
    { family: 6, local: 'fd00:213::1', remote: 'fd00:213::2', header: 48, n: 250, size: 1000 },
  ];
  let want = { ingress: { packets: 0n, bytes: 0n }, egress: { packets: 0n, bytes: 0n } };
  for (const c of cases) {
    // Received: a socket in the cgroup (left), the sender outside it (right).
    const rx = udpReceive(left, cg, c.local, 40_000 + c.family, c.n);
    await rx.ready;
    await udpSend(right, undefined, c.local, 40_000 + c.family, c.n, c.size);
    const got = await rx.received;
    assert.equal(got, c.n, `IPv${c.family}: every datagram reached the socket`);
    // Sent: a socket in the cgroup to the right namespace (nobody listens there: the meter counts what the socket sent).
    await udpSend(left, cg, c.remote, 41_000, c.n, c.size);
    want = {
      ingress: { packets: want.ingress.packets + BigInt(got), bytes: want.ingress.bytes + BigInt(got * (c.header + c.size)) },
      egress: { packets: want.egress.packets + BigInt(c.n), bytes: want.egress.bytes + BigInt(c.n * (c.header + c.size)) },
    };
    const expected = want;
    await until(`IPv${c.family} counts of cgroup ${cg.id}`, () => {
      const seen = counts(meter.readSocketCounters(), cg.id);
      return JSON.stringify(seen, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) ===
        JSON.stringify(expected, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
        ? true
        : undefined;
    }).catch(() => assert.deepEqual(counts(meter.readSocketCounters(), cg.id), expected));
  }
  // forget() reads and deletes in one step: datagrams sent after the last read (late packets) are in what it returns.
  const read = counts(meter.readSocketCounters(), cg.id);
  assert.deepEqual(read, want);
  await udpSend(left, cg, link.addrB, 41_000, 30, 100);
  const finals = meter.forget([cg.id, 0n]);
  assert.deepEqual(finals.get(cg.id), {
    ingress: read.ingress,
    egress: { packets: read.egress.packets + 30n, bytes: read.egress.bytes + 30n * (28n + 100n) },
  });
  assert.equal(finals.has(0n), false, 'the overflow entry (cgroup 0) always stays');
  assert.equal(meter.forget([cg.id]).get(cg.id), 'absent');
  const rows = meter.readSocketCounters();
  assert.equal(rows.filter((r) => r.cgroupId === cg.id).length, 0);
  assert.equal(rows.filter((r) => r.cgroupId === 0n).length, 2);
  assert.equal(meter.readSourceStats().socket_meter_map_full_packets, 0n);
});

test('loopback traffic of a process in the cgroup adds nothing', async (t) => {
  const { left, cg } = await lab(t);
  const meter = await openSocketMeter({});
  t.after(() => meter.close());
  const rx = udpReceive(left, cg, '127.0.0.1', 42_000, 200);
  await rx.ready;
  await udpSend(left, cg, '127.0.0.1', 42_000, 200, 100);
  assert.equal(await rx.received, 200);
  const rows = meter.readSocketCounters().filter((r) => r.cgroupId === cg.id);
  assert.deepEqual(
    rows.filter((r) => r.packets !== 0n || r.bytes !== 0n),
    [],
    'lo is ifindex 1 on both hooks',
  );
});

test('a SIGKILLed holder without a pin path leaves no program of its own at the cgroup2 root', async () => {
  const agent = await startAgent([]);
  assert.equal(agent.ready.event, 'ready', JSON.stringify(agent.ready));
  const ids = agent.ready.programIds;
  assert.ok(ids);
  const attached = rootProgramIds();
  assert.ok(attached.includes(ids.ingress) && attached.includes(ids.egress), `attached at ${ROOT}: ${attached.join(',')}`);
  await agent.kill('SIGKILL');
  await until('the links to go with the process', () => {
    const now = rootProgramIds();
    return now.includes(ids.ingress) || now.includes(ids.egress) ? undefined : true;
  });
});

test('with a pin path: exact across SIGKILL and SIGTERM restarts; --ebpf.cleanup removes links and pins', async (t) => {
  const { right, link, left, cg } = await lab(t);
  const bpffs = await privateBpffs();
  t.after(() => bpffs.cleanup());
  const pinPath = `${bpffs.dir}/netprobe`;
  const send = (n: number): Promise<void> => udpSend(left, cg, link.addrB, 43_000, n, 64);
  void right;

  const first = await startAgent(['--pin-path', pinPath]);
  assert.equal(first.ready.event, 'ready', JSON.stringify(first.ready));
  const ids = first.ready.programIds;
  assert.ok(ids);
  t.after(() => first.kill('SIGKILL'));
  await send(100);
  await first.kill('SIGKILL');
  await send(40); // while nobody holds the meter: the pinned links keep counting
  const second = await startAgent(['--pin-path', pinPath]);
  assert.deepEqual(second.ready.programIds, ids, 'adopted, not loaded again');
  await send(25);
  assert.equal(await second.kill('SIGTERM'), 0);
  await send(10);

  const meter = await openSocketMeter({ pinPath });
  const total = counts(meter.readSocketCounters(), cg.id).egress;
  assert.deepEqual(total, { packets: 175n, bytes: 175n * (28n + 64n) });
  meter.carryOver?.write(Buffer.from('kept'));
  await meter.close();
  const again = await openSocketMeter({ pinPath });
  assert.equal(Buffer.from(again.carryOver?.read() ?? []).toString(), 'kept', 'the carry-over record is kept with the pins');
  await again.close();
  assert.ok(rootProgramIds().includes(ids.egress), 'still attached after close() with a pin path');

  const { removed } = await EbpfManager.removePinned({ pinPath, stateDir: bpffs.dir + '-state' });
  assert.equal(removed.length, 1);
  assert.ok(!existsSync(pinPath) || readdirSync(pinPath).length === 0, 'no pins left');
  await until('the unpinned links to detach', () => {
    const now = rootProgramIds();
    return now.includes(ids.ingress) || now.includes(ids.egress) ? undefined : true;
  });
});

test('exactly CAP_BPF + CAP_NET_ADMIN suffice; without a cgroup2 mount the error names it', async () => {
  const least = await startAgent([], LEAST_PRIVILEGE);
  assert.equal(least.ready.event, 'ready', JSON.stringify(least.ready));
  await least.kill('SIGTERM');

  // A private mount namespace without the cgroup2 mount (the machine's mounts are untouched).
  const [cmd, argv] = runnable(AGENT, []);
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `umount -l "$0" && exec "$@"`, ROOT, cmd, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
  const out = JSON.parse(line) as { event: string; code: string; message: string };
  assert.equal(out.event, 'error');
  assert.equal(out.code, 'NP_ERR_NO_CGROUP2');
  assert.match(out.message, /cgroup2/);
});

test('Cilium-style redirect past the host veth: the pod cgroup counts what its socket received; the host veth carried none of it', async (t) => {
  const node = await Netns.create('npsmn');
  t.after(() => node.delete());
  const outside = await Netns.create('npsmo');
  t.after(() => outside.delete());
  const pod = await Netns.create('npsmp');
  t.after(() => pod.delete());
  await quietIpv6(node, outside, pod);
  const uplink = await vethBetween(outside, node);
  const hostVeth = `hv${uniqueTag()}`;
  const subnet = `10.214.${1 + (process.pid % 250)}`;
  await node.ip(['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name]);
  await node.ip(['addr', 'add', `${subnet}.1/24`, 'dev', hostVeth]);
  await node.ip(['link', 'set', hostVeth, 'up']);
  await pod.ip(['addr', 'add', `${subnet}.2/24`, 'dev', 'eth0']);
  await pod.ip(['link', 'set', 'eth0', 'up']);
  await pod.ip(['route', 'add', 'default', 'via', `${subnet}.1`]);
  await node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await outside.ip(['route', 'add', `${subnet}.0/24`, 'via', uplink.addrB]);
  const cg = testCgroup(ROOT);
  t.after(() => cg.remove());
  const meter = await openSocketMeter({});
  t.after(() => meter.close());
  // netprobe's TC counters in the node namespace, then the redirect attached in front of them.
  const agent = Agent.start(node, []);
  t.after(() => agent.stop());
  await agent.ready();
  const redirect = await installRedirectPeer(node, { uplink: uplink.b, podAddr: `${subnet}.2`, hostVeth });
  t.after(() => redirect.stop());
  const uplinkIndex = await node.ifindex(uplink.b);
  const preceding = (await agent.request('preceding', 'preceding')).rows as Array<{
    ifindex: number;
    direction: string;
    position: number;
    progId: number;
    progName: string;
  }>;
  assert.deepEqual(
    preceding.map((r) => [r.ifindex, r.direction, r.position, r.progName]),
    [[uplinkIndex, 'ingress', 0, 'redirect_peer']],
    'the redirect runs before netprobe on the uplink ingress, nowhere else',
  );
  assert.ok(preceding[0] && preceding[0].progId > 0);

  const before = await node.linkStats(hostVeth);
  const rx = udpReceive(pod, cg, `${subnet}.2`, 44_000, 700);
  await rx.ready;
  await udpSend(outside, undefined, `${subnet}.2`, 44_000, 700, 300);
  const received = await rx.received;
  assert.equal(received, 700, 'every datagram reached the pod socket through the redirect');
  const after = await node.linkStats(hostVeth);
  assert.equal(after.tx.packets - before.tx.packets, 0, 'the host veth never carried them');
  assert.deepEqual(counts(meter.readSocketCounters(), cg.id).ingress, { packets: BigInt(received), bytes: BigInt(received * (28 + 300)) });
});

test('slots: counted in the hash, then in the claimed slot, exact in sum; a colliding cgroup counts exactly in the hash; forget releases the slot with its finals', async (t) => {
  const { link, left, cg } = await lab(t);
  const bpffs = await privateBpffs();
  t.after(() => bpffs.cleanup());
  const pinPath = `${bpffs.dir}/netprobe`;
  const wire = (n: bigint): { packets: bigint; bytes: bigint } => ({ packets: n, bytes: n * (28n + 64n) });
  const send = (n: number): Promise<void> => udpSend(left, cg, link.addrB, 45_000, n, 64);

  let meter = await openSocketMeter({ pinPath });
  t.after(() => meter.close());
  t.after(() => EbpfManager.removePinned({ pinPath, stateDir: bpffs.dir + '-state' }));
  // The test's own view of the pinned maps, to see where the kernel counted.
  const pins = ComponentPins.open(SOCKET_METER_PINS, meter.pinDir ?? '');
  const open = (name: string): BpfMap => {
    const m = mapFromFd(pins.get('maps', name));
    assert.ok(m, name);
    t.after(() => libbpf().close(m.fd));
    return m;
  };
  const slots = open(MAP_SLOTS);
  const hash = open(MAP_CGROUPS);
  const index = encodeArrayKey(smSlotIndex(cg.id));
  const inHash = (): bigint => {
    const v = hash.lookup(encodeCgroupKey(cg.id));
    return v ? sumSocketCounts(v, 0, hash.cpus).egressPackets : 0n;
  };
  const inSlot = (): { owner: bigint; egress: bigint } => {
    const v = slots.lookup(index);
    assert.ok(v);
    return { owner: v.readBigUInt64LE(SM_SLOT_OWNER_OFFSET), egress: sumSlotCounts(v, 0, slots.cpus).egressPackets };
  };

  // Another cgroup id on the same slot (no real cgroup: the program only compares ids), claimed in the map
  // itself; the adopting meter takes the owners from there.
  const other = cg.id ^ BigInt(SM_SLOTS);
  slots.update(index, encodeOwnedSlot(encodeCgroupKey(other), SM_SLOT_OWNER, slots.valueStride, slots.cpus));
  await meter.close();
  meter = await openSocketMeter({ pinPath });
  assert.ok(meter.slotOwners().includes(other), 'adoption reads the owners from sm_slots');

  await send(100);
  assert.deepEqual(counts(meter.readSocketCounters(), cg.id).egress, wire(100n));
  assert.deepEqual(inSlot(), { owner: other, egress: 0n }, "the slot stays the other cgroup's");
  assert.equal(inHash(), 100n, 'the colliding cgroup counts in the hash');
  await send(20);
  assert.deepEqual(counts(meter.readSocketCounters(), cg.id).egress, wire(120n));
  assert.equal(inHash(), 120n);

  // The other cgroup is gone: its slot is released (its finals returned), and the next read claims it for ours.
  const gone = meter.forget([other]).get(other);
  assert.deepEqual(gone, { ingress: { packets: 0n, bytes: 0n }, egress: { packets: 0n, bytes: 0n } });
  assert.deepEqual(inSlot(), { owner: 0n, egress: 0n }, 'released: all zero');
  assert.deepEqual(counts(meter.readSocketCounters(), cg.id).egress, wire(120n));
  assert.deepEqual(inSlot(), { owner: cg.id, egress: 0n }, 'claimed after a read saw the cgroup in the hash');

  await send(50);
  assert.deepEqual(inSlot(), { owner: cg.id, egress: 50n }, 'after the claim: counted in the slot');
  assert.equal(inHash(), 120n, 'the hash keeps what it counted before the claim');
  assert.deepEqual(counts(meter.readSocketCounters(), cg.id).egress, wire(170n));

  // Across an adoption the slot stays the cgroup's and counting continues there.
  await meter.close();
  meter = await openSocketMeter({ pinPath });
  assert.ok(meter.slotOwners().includes(cg.id));
  await send(7);
  assert.deepEqual(counts(meter.readSocketCounters(), cg.id).egress, wire(177n));

  // forget: hash entry and slot in one result, late packets included; the slot is free again.
  await send(30);
  const finals = meter.forget([cg.id]).get(cg.id);
  assert.deepEqual(finals, { ingress: { packets: 0n, bytes: 0n }, egress: wire(207n) });
  assert.deepEqual(inSlot(), { owner: 0n, egress: 0n });
  assert.equal(inHash(), 0n);
  assert.ok(!meter.slotOwners().includes(cg.id));
  assert.equal(meter.readSocketCounters().filter((r) => r.cgroupId === cg.id).length, 0);
  assert.equal(meter.forget([cg.id]).get(cg.id), 'absent');
});
