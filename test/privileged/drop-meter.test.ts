/**
 * The drop meter in the real kernel: each drop provoked for real in
 * namespaces the test creates, counted exactly against the kernel's own count
 * (nstat, the nftables rule's counter, tc -s qdisc, /proc/net/udp). The meter
 * counts drops in every namespace of the machine (other tests run beside
 * this one), so every assertion reads the rows of the test's own namespace.
 * Also: reason names equal the kernel's tracefs list, a drop storm read
 * continuously stays exact with no recursion misses, pins are adopted across
 * a SIGKILL and removed by cleanup, and without CAP_PERFMON the opener fails
 * clearly while the capability drop after attach leaves reading working. The
 * slot fast path (dm_slots) is exact before, across and after a claim, for a
 * colliding key, and on take and forget; every program variant verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DROP_METER_OBJECT_PATH, openDropMeter, type DropMeter } from '../../src/bpf/drop-meter/drop-meter.js';
import { DM_SLOT_OWNER, DROP_KEY_SIZE, encodeDropKey, PROG_BY_ARGS, slotIndexOfKey } from '../../src/bpf/drop-meter/abi.js';
import { BpfObject } from '../../src/bpf/bpf-object.js';
import { encodeArrayKey, sumPerCpuU64, sumU64Column } from '../../src/bpf/abi.js';
import type { BpfMap } from '../../src/bpf/bpf-map.js';
import { mapFromFd } from '../../src/bpf/pinned-objects.js';
import { removePinnedState } from '../../src/bpf/pin-cleanup.js';
import { libbpf } from '../../src/sys/libbpf.js';
import { silentLogger } from '../../src/log/logger.js';
import type { DropCounterRow } from '../../src/source/drop-counter-source.js';
import { Netns, vethBetween, type VethPair } from '../support/netns.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';
import { waitFor } from '../support/wait-for.js';
import { privateBpffs } from '../support/bpffs.js';
import { compileFixtureProgram, fixturePath } from '../support/bpf-compile.js';
import { Agent } from '../support/ebpf-agent-driver.js';

const run = promisify(execFile);
const AGENT = fixturePath('drop-meter-agent.ts');

function inode(ns: Netns): number {
  return statSync(`/run/netns/${ns.name}`).ino;
}

/** Sum of the packets of `ns`'s rows that `pick` accepts. */
function dropsIn(meter: DropMeter, ns: Netns, pick: (r: DropCounterRow) => boolean): bigint {
  const ino = inode(ns);
  return meter
    .readDropCounters()
    .filter((r) => r.netnsInode === ino && pick(r))
    .reduce((s, r) => s + r.packets, 0n);
}

async function nstat(ns: Netns, counter: string): Promise<bigint> {
  const out = await ns.exec('nstat', ['-az', counter]);
  const m = new RegExp(`^${counter}\\s+(\\d+)`, 'm').exec(out);
  assert.ok(m?.[1], `nstat ${counter} in ${ns.name}: ${out}`);
  return BigInt(m[1]);
}

/** Reads the meter and the kernel's count until they agree (or a generous deadline passes) and returns both. */
async function settle(meterCount: () => bigint, kernelCount: () => Promise<bigint>): Promise<{ meter: bigint; kernel: bigint }> {
  return waitFor(
    async () => ({ kernel: await kernelCount(), meter: meterCount() }),
    (v) => v.meter === v.kernel && v.kernel > 0n,
    { timeoutMs: 60_000 },
  );
}

async function pair(t: { after(fn: () => Promise<void>): void }): Promise<{ a: Netns; b: Netns; link: VethPair }> {
  const a = await Netns.create('npdm');
  t.after(() => a.delete());
  const b = await Netns.create('npdm');
  t.after(() => b.delete());
  const link = await vethBetween(a, b);
  await quietIpv6(a, b);
  await staticNeighbours(a, b, link);
  return { a, b, link };
}

test('N datagrams to a closed port: N no_socket on lo of that namespace, equal to its UdpNoPorts', async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  const ns = await Netns.create('npdm');
  t.after(() => ns.delete());
  await sendUdp(ns, '127.0.0.1', 60);
  const { meter: counted, kernel } = await settle(
    () => dropsIn(meter, ns, (r) => r.reason === 'no_socket'),
    () => nstat(ns, 'UdpNoPorts'),
  );
  assert.equal(kernel, 60n);
  assert.equal(counted, kernel);
  const rows = meter.readDropCounters().filter((r) => r.netnsInode === inode(ns) && r.reason === 'no_socket');
  assert.deepEqual(
    rows.map((r) => ({ ifindex: r.ifindex, interfaceName: r.interfaceName, socketCgroupId: r.socketCgroupId })),
    [{ ifindex: 1, interfaceName: 'lo', socketCgroupId: 0n }],
  );
  assert.equal(meter.reasonsKnown, true);
  assert.equal(meter.hostNetnsInode, statSync('/proc/self/ns/net').ino);
});

test('an nftables rule dropping N packets: N netfilter_drop, equal to the rule counter', async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  const ns = await Netns.create('npdm');
  t.after(() => ns.delete());
  // A table of the test's own, inside the test's namespace (deleted with it).
  await ns.exec('nft', ['add table inet npdm']);
  await ns.exec('nft', ['add chain inet npdm out { type filter hook output priority 0 ; }']);
  await ns.exec('nft', ['add rule inet npdm out udp dport 9 counter drop']);
  await sendUdp(ns, '127.0.0.1', 40);
  const ruleCounter = async (): Promise<bigint> => {
    const json = JSON.parse(await ns.exec('nft', ['-j', 'list', 'table', 'inet', 'npdm'])) as {
      nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }>;
    };
    const c = json.nftables.flatMap((x) => x.rule?.expr ?? []).find((e) => e.counter)?.counter;
    return BigInt(c?.packets ?? 0);
  };
  const { meter: counted, kernel } = await settle(() => dropsIn(meter, ns, (r) => r.reason === 'netfilter_drop'), ruleCounter);
  assert.equal(kernel, 40n);
  assert.equal(counted, kernel);
});

test('a tc program returning TC_ACT_SHOT: N tc_ingress and M tc_egress on those interfaces', async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  const { a, b, link } = await pair(t);
  const dir = mkdtempSync(join(tmpdir(), 'np-dm-shot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const obj = compileFixtureProgram('drop-shot.bpf.c', dir);
  const ifindexB = await b.ifindex(link.b);
  const ifindexA = await a.ifindex(link.a);

  await b.exec('tc', ['qdisc', 'add', 'dev', link.b, 'clsact']);
  await b.exec('tc', ['filter', 'add', 'dev', link.b, 'ingress', 'bpf', 'da', 'obj', obj, 'sec', 'tc']);
  await sendUdp(a, link.addrB, 30);
  const ingress = await waitFor(
    () => dropsIn(meter, b, (r) => r.reason === 'tc_ingress' && r.ifindex === ifindexB && r.interfaceName === link.b),
    (n) => n >= 30n,
  );
  assert.equal(ingress, 30n);
  assert.equal(
    dropsIn(meter, b, (r) => r.reason === 'tc_ingress'),
    30n,
    'every tc_ingress drop is on the interface',
  );

  await a.exec('tc', ['qdisc', 'add', 'dev', link.a, 'clsact']);
  await a.exec('tc', ['filter', 'add', 'dev', link.a, 'egress', 'bpf', 'da', 'obj', obj, 'sec', 'tc']);
  await sendUdp(a, link.addrB, 25);
  const egress = await waitFor(
    () => dropsIn(meter, a, (r) => r.reason === 'tc_egress' && r.ifindex === ifindexA && r.interfaceName === link.a),
    (n) => n >= 25n,
  );
  assert.equal(egress, 25n);
  // Nothing reached b's ingress program once a's egress dropped them all.
  assert.equal(
    dropsIn(meter, b, (r) => r.reason === 'tc_ingress'),
    30n,
  );
});

test('a tbf qdisc overflowing under a burst: qdisc drops equal tc -s qdisc', async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  const { a, link } = await pair(t);
  await a.exec('tc', ['qdisc', 'add', 'dev', link.a, 'root', 'tbf', 'rate', '100kbit', 'burst', '2kb', 'limit', '3kb']);
  await sendUdp(a, link.addrB, 400, 500);
  const qdiscDrops = async (): Promise<bigint> => {
    const [q] = (
      JSON.parse(await a.exec('tc', ['-s', '-j', 'qdisc', 'show', 'dev', link.a])) as Array<{ kind: string; drops: number }>
    ).filter((x) => x.kind === 'tbf');
    return BigInt(q?.drops ?? 0);
  };
  const { meter: counted, kernel } = await settle(() => dropsIn(meter, a, (r) => r.reason.startsWith('qdisc_')), qdiscDrops);
  assert.ok(kernel > 0n, 'the burst overflowed the tbf');
  assert.equal(counted, kernel);
  const ifindexA = await a.ifindex(link.a);
  assert.equal(
    dropsIn(meter, a, (r) => r.reason.startsWith('qdisc_') && r.ifindex === ifindexA && r.interfaceName === link.a),
    kernel,
    'qdisc drops are on the qdisc interface',
  );
});

test('a UDP socket whose receive buffer fills: socket_rcvbuff equal to /proc/net/udp drops', async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  const ns = await Netns.create('npdm');
  t.after(() => ns.delete());
  // A receiver with a tiny buffer that never reads.
  const receiver = spawn('ip', [
    'netns',
    'exec',
    ns.name,
    'python3',
    '-c',
    'import socket,sys,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1024)\ns.bind(("127.0.0.1",5000))\nprint("ready",flush=True)\ntime.sleep(600)',
  ]);
  t.after(() => {
    receiver.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    receiver.stdout.once('data', () => resolve());
    receiver.once('exit', () => reject(new Error('receiver exited')));
  });
  const script = `const s=require('node:dgram').createSocket('udp4');const b=Buffer.alloc(300,1);let n=200;s.on('error',()=>{});const next=()=>{if(n--<=0)return setTimeout(()=>s.close(),50);s.send(b,5000,'127.0.0.1',()=>setImmediate(next));};next();`;
  await ns.exec(process.execPath, ['-e', script], 60_000);
  const udpDrops = async (): Promise<bigint> => {
    const lines = (await ns.exec('cat', ['/proc/net/udp'])).trim().split('\n').slice(1);
    const line = lines.find((l) => l.trim().split(/\s+/)[1] === '0100007F:1388');
    return BigInt(line?.trim().split(/\s+/).at(-1) ?? 0);
  };
  const { meter: counted, kernel } = await settle(() => dropsIn(meter, ns, (r) => r.reason === 'socket_rcvbuff'), udpDrops);
  assert.ok(kernel > 0n);
  assert.equal(counted, kernel);
});

test("every reason name equals the kernel's own list (tracefs events/skb/kfree_skb/format)", async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  let format: string;
  const mounted = '/sys/kernel/tracing/events/skb/kfree_skb/format';
  if (existsSync(mounted)) format = (await run('cat', [mounted])).stdout;
  else {
    // A private tracefs in a mount namespace of the test's own: the host's mounts never change.
    const dir = mkdtempSync(join(tmpdir(), 'np-dm-tracefs-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    format = (
      await run('unshare', [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tracefs none ${dir} && cat ${dir}/events/skb/kfree_skb/format`,
      ])
    ).stdout;
  }
  const listed = [...format.matchAll(/\{ (\d+), "([A-Z0-9_]+)" \}/g)]
    .filter((m) => m[2] !== 'MAX')
    .map((m): [number, string] => [Number(m[1]), (m[2] ?? '').toLowerCase()]);
  assert.ok(listed.length > 10, 'the format file lists the reasons');
  assert.deepEqual([...meter.kernel.reasons.core], listed);
  for (const [code, name] of listed) assert.equal(meter.kernel.reasons.nameOf(code), name);
});

test('a drop storm read continuously: counts exact, no failed read, recursion_misses 0', async (t) => {
  const meter = await openDropMeter();
  t.after(() => meter.close());
  const ns = await Netns.create('npdm');
  t.after(() => ns.delete());
  let reads = 0;
  let failure: unknown;
  const reader = setInterval(() => {
    try {
      meter.readDropCounters();
      reads++;
    } catch (e) {
      failure = e;
    }
  }, 20);
  t.after(() => clearInterval(reader));
  await ns.exec(
    'python3',
    [
      '-c',
      'import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor i in range(50000):\n  try: s.sendto(b"x"*64,("127.0.0.1",9))\n  except OSError: pass',
    ],
    120_000,
  );
  const { meter: counted, kernel } = await settle(
    () => dropsIn(meter, ns, (r) => r.reason === 'no_socket'),
    () => nstat(ns, 'UdpNoPorts'),
  );
  clearInterval(reader);
  assert.equal(failure, undefined);
  assert.ok(reads > 0);
  assert.ok(kernel > 1000n, `the storm dropped ${kernel}`);
  assert.equal(counted, kernel);
  assert.equal(meter.readSourceStats().recursion_misses, 0n);
  assert.equal(meter.readSourceStats().map_full, 0n);
});

test('pinned: adopted exactly across a SIGKILL, cleanup detaches and removes the pins', async (t) => {
  const bpffs = await privateBpffs();
  t.after(() => bpffs.cleanup());
  const pinPath = join(bpffs.dir, 'np');
  const ns = await Netns.create('npdm');
  t.after(() => ns.delete());
  const holder = await Netns.create('npdm');
  t.after(() => holder.delete());
  const agent = Agent.start(holder, ['--pin-path', pinPath], { script: AGENT });
  t.after(() => {
    agent.child.kill('SIGKILL');
  });
  const ready = await agent.next(['ready']);
  assert.equal(ready.event, 'ready', JSON.stringify(ready) + agent.log);
  await sendUdp(ns, '127.0.0.1', 20);
  await waitFor(
    () => nstat(ns, 'UdpNoPorts'),
    (n) => n === 20n,
  );
  agent.child.kill('SIGKILL');
  await agent.exited;
  // Nobody holds the meter now: the pinned link keeps counting.
  await sendUdp(ns, '127.0.0.1', 15);
  const meter = await openDropMeter({ pinPath });
  t.after(() => meter.close());
  assert.equal(meter.programId, ready.programId, 'the pinned program was adopted, not loaded again');
  const { meter: counted, kernel } = await settle(
    () => dropsIn(meter, ns, (r) => r.reason === 'no_socket'),
    () => nstat(ns, 'UdpNoPorts'),
  );
  assert.equal(kernel, 35n);
  assert.equal(counted, 35n);
  assert.ok(meter.carryOver, 'a carry-over record is kept with the pins');
  await meter.close();
  const stateDir = mkdtempSync(join(tmpdir(), 'np-dm-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const { removed, left } = await removePinnedState({ pinPath, stateDir, logger: silentLogger() });
  assert.deepEqual(left, []);
  assert.equal(removed.length, 1);
  assert.ok(!existsSync(pinPath) || readdirSync(pinPath).length === 0);
  // Unpinned and unheld: the program is gone from the kernel.
  const gone = await waitFor(
    () => {
      const fd = libbpf().progGetFdById(meter.programId);
      if (fd >= 0) libbpf().close(fd);
      return fd < 0;
    },
    (g) => g,
  );
  assert.ok(gone, 'the drop program is still loaded after cleanup');
});

test('without CAP_PERFMON: NP_ERR_NO_PERFMON; with it, the capability drop after attach leaves reading working', async (t) => {
  const holder = await Netns.create('npdm');
  t.after(() => holder.delete());
  // Root limited to exact capability sets (the bounding set decides what an exec'd root gets).
  const limited = (caps: string): string[] => ['setpriv', '--inh-caps=-all', `--bounding-set=-all,${caps}`];
  const without = Agent.start(holder, [], { script: AGENT, wrapper: limited('+bpf,+net_admin') });
  t.after(() => {
    without.child.kill('SIGKILL');
  });
  const refused = await without.next(['ready']);
  assert.equal(refused.event, 'error', JSON.stringify(refused));
  assert.equal(refused.code, 'NP_ERR_NO_PERFMON');
  assert.match(String(refused.message), /CAP_PERFMON/);

  const withIt = Agent.start(holder, ['--keep', 'bpf,net_admin'], { script: AGENT, wrapper: limited('+bpf,+net_admin,+perfmon') });
  t.after(() => {
    withIt.child.kill('SIGKILL');
  });
  const ok = await withIt.next(['ready']);
  assert.equal(ok.event, 'ready', JSON.stringify(ok) + withIt.log);
  withIt.child.kill('SIGTERM');
  assert.equal(await withIt.exited, 0);
});

test('the slot fast path: a key counted in the hash, then in its claimed slot, stays exact; a colliding key stays exact in the hash; take and forget release the slot', async (t) => {
  const bpffs = await privateBpffs();
  t.after(() => bpffs.cleanup());
  // Pinned, so the test reads the kernel maps themselves through the pins. Fresh: nothing is claimed until the first read.
  const meter = await openDropMeter({ pinPath: join(bpffs.dir, 'np') });
  t.after(() => meter.close());
  const raw = (name: string): BpfMap => {
    const fd = libbpf().objGet(join(meter.pinDir ?? '', 'maps', name));
    assert.ok(fd >= 0, `maps/${name}`);
    t.after(() => libbpf().close(fd));
    const map = mapFromFd(fd);
    assert.ok(map);
    return map;
  };
  const drops = raw('dm_drops');
  const slots = raw('dm_slots');
  const inHash = (key: Buffer): bigint | undefined => {
    const v = drops.lookup(key);
    return v && sumPerCpuU64(v, 0, drops.cpus);
  };
  const slot = (index: number): { owner: Buffer; packets: bigint } => {
    const v = slots.lookup(encodeArrayKey(index));
    assert.ok(v);
    return {
      owner: Buffer.from(v.subarray(DM_SLOT_OWNER.offset, DM_SLOT_OWNER.offset + DM_SLOT_OWNER.size)),
      packets: sumU64Column(v, 0, slots.cpus, slots.valueStride),
    };
  };
  const noSocket = [...meter.kernel.reasons.core].find(([, name]) => name === 'no_socket')?.[0];
  assert.ok(noSocket !== undefined);

  // b's lo and its veth end of ifindex 513 share a slot: (513 - 1) * 2654435761 is 0 modulo DM_SLOTS.
  let a: Netns;
  let b: Netns;
  let link: VethPair;
  let index: number;
  let loKey: Buffer;
  for (let attempt = 0; ; attempt++) {
    const na = await Netns.create('npdm');
    t.after(() => na.delete());
    const nb = await Netns.create('npdm');
    t.after(() => nb.delete());
    [a, b] = [na, nb];
    link = await vethBetween(a, b, { indexB: 513 });
    await quietIpv6(a, b);
    await staticNeighbours(a, b, link);
    loKey = encodeDropKey({ netnsInode: inode(b), ifindex: 1, reason: noSocket, cgroupId: 0n, interfaceName: 'lo' });
    index = slotIndexOfKey(loKey);
    // Another key of the machine may own or compete for this slot (at most a few in 512): then new namespaces, a new slot.
    const all = drops.lookupAll();
    const rivals = Array.from({ length: all.count }, (_, i) => all.keys.subarray(i * DROP_KEY_SIZE, (i + 1) * DROP_KEY_SIZE)).filter(
      (k) => slotIndexOfKey(k) === index,
    );
    if (index !== 0 && slot(index).owner.equals(Buffer.alloc(DROP_KEY_SIZE)) && rivals.length === 0) break;
    assert.ok(attempt < 5, 'a free slot for a fresh namespace');
  }
  assert.equal(await b.ifindex(link.b), 513);
  const vethKey = encodeDropKey({ netnsInode: inode(b), ifindex: 513, reason: noSocket, cgroupId: 0n, interfaceName: link.b });
  assert.equal(slotIndexOfKey(vethKey), index);
  const rowOf = (key: Buffer): DropCounterRow | undefined => meter.readDropCounters().find((r) => r.entry && key.equals(r.entry));

  // 1. In the hash only (no read yet, so no claim).
  await sendUdp(b, '127.0.0.1', 20);
  await waitFor(
    () => nstat(b, 'UdpNoPorts'),
    (n) => n === 20n,
  );
  assert.equal(inHash(loKey), 20n);
  assert.equal(slot(index).packets, 0n);
  // 2. The read claims the slot (count 0); later drops count there, the entry stays at 20.
  assert.equal(rowOf(loKey)?.packets, 20n);
  assert.deepEqual(slot(index), { owner: loKey, packets: 0n });
  await sendUdp(b, '127.0.0.1', 30);
  const lo = await settle(
    () => rowOf(loKey)?.packets ?? 0n,
    () => nstat(b, 'UdpNoPorts'),
  );
  assert.equal(lo.kernel, 50n);
  assert.equal(lo.meter, 50n);
  assert.equal(inHash(loKey), 20n);
  assert.deepEqual(slot(index), { owner: loKey, packets: 30n });

  // 3. The veth key collides with the claimed slot: counted in the hash, exactly.
  await sendUdp(a, link.addrB, 25);
  const all = await settle(
    () => dropsIn(meter, b, (r) => r.reason === 'no_socket'),
    () => nstat(b, 'UdpNoPorts'),
  );
  assert.equal(all.kernel, 75n);
  assert.equal(all.meter, 75n);
  assert.equal(rowOf(vethKey)?.packets, 25n);
  assert.equal(inHash(vethKey), 25n);
  assert.deepEqual(slot(index), { owner: loKey, packets: 30n });

  // 4. Taken: each final returned (entry + slot), the slot freed, the entries gone.
  const loRow = rowOf(loKey);
  const vethRow = rowOf(vethKey);
  assert.ok(loRow && vethRow);
  assert.deepEqual(meter.takeEntries([loRow, vethRow]), [50n, 25n]);
  assert.deepEqual(slot(index), { owner: Buffer.alloc(DROP_KEY_SIZE), packets: 0n });
  assert.equal(inHash(loKey), undefined);
  assert.equal(inHash(vethKey), undefined);

  // 5. Counted again, claimed again, then forgotten with its namespace: the slot is freed, the entry deleted.
  await sendUdp(b, '127.0.0.1', 10);
  await waitFor(
    () => nstat(b, 'UdpNoPorts'),
    (n) => n === 85n,
  );
  assert.equal(rowOf(loKey)?.packets, 10n);
  assert.deepEqual(slot(index), { owner: loKey, packets: 0n });
  await sendUdp(b, '127.0.0.1', 5);
  const again = await settle(
    () => rowOf(loKey)?.packets ?? 0n,
    async () => (await nstat(b, 'UdpNoPorts')) - 75n,
  );
  assert.equal(again.meter, 15n);
  assert.deepEqual(slot(index), { owner: loKey, packets: 5n });
  meter.forgetNamespaces([inode(b)]);
  assert.deepEqual(slot(index), { owner: Buffer.alloc(DROP_KEY_SIZE), packets: 0n });
  assert.equal(inHash(loKey), undefined);
  assert.equal(
    dropsIn(meter, b, () => true),
    0n,
  );
});

test("every program variant (2, 3 and 4 arguments) passes this kernel's verifier", () => {
  // The loader loads only the one that fits; the others are for older kernels, whose tracepoint has fewer arguments.
  for (const want of Object.values(PROG_BY_ARGS)) {
    const object = BpfObject.open(DROP_METER_OBJECT_PATH, { logger: silentLogger() });
    try {
      for (const name of Object.values(PROG_BY_ARGS)) object.setAutoload(name, name === want);
      object.load();
      assert.ok(object.programFd(want) >= 0, want);
    } finally {
      object.close();
    }
  }
});
