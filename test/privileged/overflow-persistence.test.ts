/**
 * Persistence past ifindex 1024: the overflow hash survives restarts and an
 * upgrade exactly. In a namespace of the test's own, 64 veth interfaces are
 * made at ifindexes 2..65, then ~500 veth pairs are created and deleted
 * (`ip -batch`) to drive the namespace's ifindex counter past 1024, then 64
 * more are made at 1026..1089: each collides with a live interface's slot
 * (ifindex mod 1024), so 64 interfaces (128 entries) live in np_overflow.
 * The real CLI runs with a pin path on a private bpffs while paced UDP
 * crosses every one of the 128 interfaces in both directions; it is stopped
 * with SIGTERM, then SIGKILL, then replaced by the ABI-variant object (an
 * upgrade), each time while traffic flows and after some interfaces (slot and
 * hash alike) were deleted while it was down. After each step every
 * interface's counters equal the kernel's statistics exactly (deltas from a
 * quiet baseline), and the kernel maps (dumped with bpftool, not netprobe's
 * own reader) hold entries for exactly the live interfaces: none left behind
 * by a deleted one, none missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { privateBpffs } from '../support/bpffs.js';
import { ip, Netns } from '../support/netns.js';
import { fetchIn } from '../support/netns-http.js';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { listTree } from '../support/persistence-lab.js';
import { fixturePath, REPO } from '../support/repo-paths.js';
import { quietIpv6 } from '../support/traffic.js';

const run = promisify(execFile);
const NP_SLOTS = 1024;
/** Interfaces at low ifindexes, and as many again past 1024 colliding with them. */
const PER_SIDE = 64;
/** Whatever the machine's speed, a state the test waits for must come within this. */
const DEADLINE_MS = 60_000;

interface Counted {
  k: number;
  name: string;
  ifindex: number;
}
const FIELDS = ['rxPackets', 'txPackets', 'rxBytes', 'txBytes'] as const;
type Totals = Map<string, Record<(typeof FIELDS)[number], bigint>>;

const hex = (n: number): string => n.toString(16).padStart(2, '0');
/** Interface k: npo<k> here (10.215.<k>.1), npp<k> in the peer namespace (.2); fixed MACs, static neighbours. */
const nameOf = (k: number): string => `npo${k}`;
const macOf = (k: number, end: 1 | 2): string => `02:4e:50:${hex(k >> 8)}:${hex(k & 255)}:0${end}`;
const addrOf = (k: number, end: 1 | 2): string => `10.215.${k}.${end}`;

/** Paced UDP from `ns` to each address in turn (port 9: answered by ICMP, so both directions carry packets) until stopped. */
function startSpray(ns: Netns, addrs: string[]): { stop(): Promise<void> } {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const addrs = ${JSON.stringify(addrs)};
    const buf = Buffer.alloc(100, 120);
    let stop = false, i = 0;
    process.on('SIGTERM', () => { stop = true; });
    s.on('error', () => {});
    const tick = () => { if (stop) return s.close(() => process.exit(0)); let n = 3; const next = () => { if (n-- <= 0) return setTimeout(tick, 1); s.send(buf, 9, addrs[i++ % addrs.length], next); }; next(); };
    tick();`;
  const proc: ChildProcess = ns.spawn(process.execPath, ['-e', script]);
  return {
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await once(proc, 'exit');
      clearTimeout(timer);
    },
  };
}

/** The kernel's statistics of every interface in `ns`, by name. */
async function kernelTotals(ns: Netns): Promise<Totals> {
  const links = JSON.parse(await ns.ip(['-j', '-s', 'link', 'show'], 30_000)) as Array<{
    ifname: string;
    stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } };
  }>;
  return new Map(
    links.map((l) => [
      l.ifname,
      {
        rxPackets: BigInt(l.stats64.rx.packets),
        rxBytes: BigInt(l.stats64.rx.bytes),
        txPackets: BigInt(l.stats64.tx.packets),
        txBytes: BigInt(l.stats64.tx.bytes),
      },
    ]),
  );
}

/** netprobe's counters of every exported interface (ingress = rx, egress = tx), plus its overflow count and collections. */
async function scrape(ns: Netns, port: number): Promise<{ totals: Totals; overflow: number; collections: number }> {
  const { status, body } = await fetchIn(ns, port, '/metrics');
  assert.equal(status, 200);
  const totals: Totals = new Map();
  for (const m of body.matchAll(
    /^netprobe_tc_(packets|bytes)_total\{direction="(\w+)",ifindex="\d+",interface="([^"]+)"[^}]*\} (\d+)$/gm,
  )) {
    const t = totals.get(m[3]!) ?? { rxPackets: 0n, rxBytes: 0n, txPackets: 0n, txBytes: 0n };
    const packets = m[1] === 'packets';
    const field = m[2] === 'ingress' ? (packets ? 'rxPackets' : 'rxBytes') : packets ? 'txPackets' : 'txBytes';
    t[field] = BigInt(m[4]!);
    totals.set(m[3]!, t);
  }
  const one = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(body)?.[1] ?? NaN);
  return { totals, overflow: one('netprobe_interfaces_overflow'), collections: one('netprobe_collection_total') };
}

/** Slot owners and overflow keys of the pinned maps, read by bpftool (raw bytes: CPU 0's slot owner; key = ifindex, direction). */
async function pinnedEntries(pinPath: string): Promise<{ slots: Set<number>; overflow: Map<number, number[]> }> {
  const dirs = listTree(pinPath).filter((p) => /^netprobe-bpf-[0-9a-f]+$/.test(p));
  assert.equal(dirs.length, 1, `one pin directory: ${dirs.join(', ')}`);
  const dump = async (map: string): Promise<Array<{ key: string[]; values: Array<{ value: string[] }> }>> => {
    const { stdout } = await run('bpftool', ['-j', 'map', 'dump', 'pinned', join(pinPath, dirs[0]!, 'maps', map)], {
      maxBuffer: 256 << 20,
    });
    return JSON.parse(stdout) as Array<{ key: string[]; values: Array<{ value: string[] }> }>;
  };
  const u32 = (bytes: string[], at: number): number => Buffer.from(bytes.slice(at, at + 4).map((b) => parseInt(b, 16))).readUInt32LE(0);
  const slots = new Set((await dump('np_slots')).map((e) => u32(e.values[0]!.value, 0)).filter((owner) => owner !== 0));
  const overflow = new Map<number, number[]>();
  for (const e of await dump('np_overflow')) {
    const ifindex = u32(e.key, 0);
    overflow.set(ifindex, [...(overflow.get(ifindex) ?? []), u32(e.key, 4)].sort());
  }
  return { slots, overflow };
}

/** Polls `check` (which returns what is still wrong, [] when the state is reached) until it holds or the deadline passes. */
async function until(what: string, check: () => Promise<string[]>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const wrong = await check();
    if (wrong.length === 0) return;
    if (Date.now() > deadline) assert.fail(`${what}: ${wrong.length} wrong:\n${wrong.slice(0, 40).join('\n')}`);
    await sleep(300);
  }
}

test(
  'past ifindex 1024 with 64 interfaces in the overflow hash: SIGTERM and SIGKILL restarts and an upgrade under traffic stay exact; gone interfaces leave no entry',
  { timeout: 420_000 },
  async (t) => {
    const here = await Netns.create('npovh');
    const peer = await Netns.create('npovp');
    const bpffs = await privateBpffs();
    const pinPath = join(bpffs.dir, 'netprobe');
    const work = mkdtempSync(join(tmpdir(), 'np-overflow-'));
    const started: NetprobeProcess[] = [];
    const sprays: Array<{ stop(): Promise<void> }> = [];
    t.after(async () => {
      for (const s of sprays) await s.stop();
      for (const p of started) await p.stop('SIGKILL');
      await here.delete();
      await peer.delete();
      await bpffs.cleanup();
      rmSync(work, { recursive: true, force: true });
    });
    const batch = async (ns: Netns, name: string, lines: string[]): Promise<void> => {
      const file = join(work, name);
      writeFileSync(file, lines.join('\n') + '\n');
      await ip(['-n', ns.name, '-batch', file], 180_000);
    };
    const variant = join(work, 'netprobe-abi-variant.bpf.o');
    await run(join(REPO, 'bpf/build.sh'), [variant, fixturePath('netprobe-abi-variant.bpf.c')]);
    await quietIpv6(here, peer);

    const create = async (ks: number[], name: string): Promise<void> => {
      await batch(
        here,
        `${name}-here`,
        ks.flatMap((k) => [
          `link add ${nameOf(k)} address ${macOf(k, 1)} type veth peer name npp${k} address ${macOf(k, 2)} netns ${peer.name}`,
          `addr add ${addrOf(k, 1)}/30 dev ${nameOf(k)}`,
          `link set ${nameOf(k)} up`,
          `neigh replace ${addrOf(k, 2)} lladdr ${macOf(k, 2)} dev ${nameOf(k)} nud permanent`,
        ]),
      );
      await batch(
        peer,
        `${name}-peer`,
        ks.flatMap((k) => [
          `addr add ${addrOf(k, 2)}/30 dev npp${k}`,
          `link set npp${k} up`,
          `neigh replace ${addrOf(k, 1)} lladdr ${macOf(k, 1)} dev npp${k} nud permanent`,
        ]),
      );
    };
    const indexes = async (): Promise<Map<string, number>> =>
      new Map(
        (JSON.parse(await here.ip(['-j', 'link', 'show'], 30_000)) as Array<{ ifname: string; ifindex: number }>).map((l) => [
          l.ifname,
          l.ifindex,
        ]),
      );

    // Low: ifindexes 2..65 (lo is 1). Then churn: pairs created and deleted (both ends here) until the next ifindex is 1026.
    const lowKs = Array.from({ length: PER_SIDE }, (_, i) => i);
    await create(lowKs, 'low');
    const lowIndexes = await indexes();
    const firstLow = Math.min(...lowKs.map((k) => lowIndexes.get(nameOf(k))!));
    let next = Math.max(...lowIndexes.values()) + 1;
    const target = NP_SLOTS + firstLow;
    const pairs = Math.floor((target - next) / 2);
    await batch(
      here,
      'churn-add',
      Array.from({ length: pairs }, (_, i) => `link add npc${i} type veth peer name npd${i}`),
    );
    await batch(
      here,
      'churn-del',
      Array.from({ length: pairs }, (_, i) => `link del npc${i}`),
    );
    next += 2 * pairs;
    if (next < target) {
      // One ifindex to go: a pair whose peer lives in the other namespace takes one here.
      await batch(here, 'churn-one', [`link add npc1 type veth peer name npd1 netns ${peer.name}`, 'link del npc1']);
    }
    const highKs = lowKs.map((k) => PER_SIDE + k);
    await create(highKs, 'high');
    const all = await indexes();
    const counted = new Map<number, Counted>([...lowKs, ...highKs].map((k) => [k, { k, name: nameOf(k), ifindex: all.get(nameOf(k))! }]));
    for (const k of highKs) {
      const c = counted.get(k)!;
      assert.equal(c.ifindex % NP_SLOTS, counted.get(k - PER_SIDE)!.ifindex, `${c.name} (ifindex ${c.ifindex}) collides with its low twin`);
    }
    const live = new Set(counted.keys());

    const args = (object?: string): string[] => [
      '--ebpf.include=npo*',
      `--ebpf.pin-path=${pinPath}`,
      '--collector.interval=250ms',
      '--source=ebpf',
      ...(object ? [`--ebpf.object=${object}`] : []),
    ];
    const start = async (object?: string): Promise<NetprobeProcess> => {
      const p = await startNetprobe(here, args(object), { timeoutMs: DEADLINE_MS });
      started.push(p);
      return p;
    };
    let np = await start();

    // A quiet baseline: the kernel's statistics unchanged across a collection netprobe made after reading them.
    let kernel0: Totals | undefined;
    let ours0: Totals | undefined;
    await until('a quiet baseline', async () => {
      const k1 = await kernelTotals(here);
      const c1 = (await scrape(here, np.port)).collections;
      let s = await scrape(here, np.port);
      for (let i = 0; s.collections < c1 + 2 && i < 100; i++) {
        await sleep(100);
        s = await scrape(here, np.port);
      }
      if (s.collections < c1 + 2) return [`collections stuck at ${s.collections}`];
      const k2 = await kernelTotals(here);
      const moved = [...live].filter((k) => FIELDS.some((f) => k1.get(nameOf(k))![f] !== k2.get(nameOf(k))![f]));
      if (moved.length === 0 && s.totals.size === live.size) {
        kernel0 = k2;
        ours0 = s.totals;
      }
      return moved.length > 0
        ? moved.map((k) => `${nameOf(k)} still moving`)
        : s.totals.size === live.size
          ? []
          : [`${s.totals.size} exported`];
    });
    const expectOverflow = new Set(highKs.map((k) => counted.get(k)!.ifindex));
    assert.equal((await scrape(here, np.port)).overflow, PER_SIDE);

    /** Every live interface's counters equal the kernel's, as deltas from the baseline. */
    const exact = async (): Promise<string[]> => {
      const kernel = await kernelTotals(here);
      const ours = (await scrape(here, np.port)).totals;
      const wrong: string[] = [];
      for (const k of live) {
        const name = nameOf(k);
        const o = ours.get(name);
        const kn = kernel.get(name)!;
        if (!o) {
          wrong.push(`${name}: not exported`);
          continue;
        }
        for (const f of FIELDS) {
          const want = kn[f] - kernel0!.get(name)![f];
          const got = o[f] - ours0!.get(name)![f];
          if (got !== want) wrong.push(`${name} (ifindex ${counted.get(k)!.ifindex}) ${f}: netprobe ${got}, kernel ${want}`);
        }
      }
      return wrong;
    };
    /** Entries in the kernel maps for exactly the live interfaces; `overflowed` lists those expected in the hash (undefined: any, at least 40). */
    const entriesMatch = async (overflowed: Set<number> | undefined): Promise<void> => {
      const { slots, overflow } = await pinnedEntries(pinPath);
      const liveIndexes = new Set([...live].map((k) => counted.get(k)!.ifindex));
      const stray = [...slots, ...overflow.keys()].filter((i) => !liveIndexes.has(i));
      assert.deepEqual(stray, [], 'entries of interfaces that no longer exist');
      const wrong = [...liveIndexes].filter(
        (i) => slots.has(i) === overflow.has(i) || (overflow.has(i) && overflow.get(i)!.join() !== '0,1'),
      );
      assert.deepEqual(wrong, [], 'live interfaces not in exactly one place with both directions');
      if (overflowed) assert.deepEqual([...overflow.keys()].sort(), [...overflowed].filter((i) => liveIndexes.has(i)).sort());
      else assert.ok(overflow.size >= 40, `${overflow.size} interfaces in the overflow hash`);
      assert.equal((await scrape(here, np.port)).overflow, overflow.size, 'netprobe_interfaces_overflow');
      // The TC counters' links (the drop meter pins its own link under netprobe-drop-meter-*).
      const links = listTree(pinPath).filter((p) => /^netprobe-bpf-[0-9a-f]+\/links\//.test(p));
      assert.equal(links.length, 2 * live.size, 'one tcx link pin per live interface and direction');
    };
    await entriesMatch(expectOverflow);

    const steps = [
      { stopWith: 'SIGTERM', object: undefined },
      { stopWith: 'SIGKILL', object: undefined },
      { stopWith: 'SIGTERM', object: variant },
    ] as const;
    for (const [s, step] of steps.entries()) {
      const label = `${step.stopWith}${step.object ? ' and upgrade' : ''}`;
      const sprayed = [...live];
      sprays.push(
        startSpray(
          here,
          sprayed.map((k) => addrOf(k, 2)),
        ),
        startSpray(
          peer,
          sprayed.map((k) => addrOf(k, 1)),
        ),
      );
      // Every interface has counted traffic since the last check (in both directions) before netprobe goes down.
      const before = (await scrape(here, np.port)).totals;
      await until(`${label}: traffic on every interface`, async () => {
        const now = (await scrape(here, np.port)).totals;
        return sprayed
          .filter((k) => {
            const a = before.get(nameOf(k))!;
            const b = now.get(nameOf(k))!;
            return !(b.txPackets > a.txPackets && b.rxPackets > a.rxPackets);
          })
          .map((k) => `${nameOf(k)}: no new traffic yet`);
      });
      const code = await np.stop(step.stopWith);
      if (step.stopWith === 'SIGTERM') assert.equal(code, 0, np.output());

      // While netprobe is down: five hash interfaces and two slot owners (whose twins stay) are deleted.
      const gone = [...highKs.slice(5 * s, 5 * s + 5), lowKs[PER_SIDE - 1 - 2 * s]!, lowKs[PER_SIDE - 2 - 2 * s]!];
      await batch(
        here,
        `gone-${s}`,
        gone.map((k) => `link del ${nameOf(k)}`),
      );
      for (const k of gone) live.delete(k);
      // Traffic is counted meanwhile by the programs left attached.
      const down = await kernelTotals(here);
      await until(`${label}: traffic while down`, async () => {
        const now = await kernelTotals(here);
        return [...live].filter((k) => now.get(nameOf(k))!.txPackets === down.get(nameOf(k))!.txPackets).map((k) => nameOf(k));
      });

      np = await start(step.object);
      if (step.object) assert.match(np.output(), new RegExp(`took over ${live.size} interface\\(s\\)`), np.output());
      else assert.match(np.output(), /adopting the pinned eBPF state/);
      const after = await kernelTotals(here);
      await until(`${label}: traffic after the start`, async () => {
        const now = await kernelTotals(here);
        return [...live].filter((k) => now.get(nameOf(k))!.txPackets === after.get(nameOf(k))!.txPackets).map((k) => nameOf(k));
      });
      for (const spray of sprays.splice(0)) await spray.stop();

      await until(`after ${label}: every interface equals the kernel`, exact);
      // Own pins keep every placement; the upgrade's new object places them afresh (a hash interface whose twin is gone gets the slot).
      await entriesMatch(step.object ? undefined : expectOverflow);
    }
    assert.equal(await np.stop('SIGTERM'), 0, np.output());
  },
);
