/**
 * Interface churn under load: while four clients scrape continuously, six
 * waves create and delete 50 veth pairs each (600 interfaces), some with
 * ifindexes chosen to collide with live interfaces' slots so the overflow
 * hash is used too; UDP traffic crosses three surviving veth pairs meanwhile.
 * Afterwards: no failed or malformed scrape, survivors counted exactly
 * (netprobe = the kernel's own stats since start), no series and no map entry
 * left for deleted interfaces, file descriptors back to their start, RSS flat.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, ip, vethBetween, type VethPair } from '../support/netns.js';
import { fetchIn, probe } from '../support/netns-http.js';
import { dumpMap, mapsOf, procStats, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { labelSets, sampleValue } from '../support/exposition-parse.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';
import type { LoadResult } from '../support/netns-http.js';

const WAVES = 6;
const PAIRS_PER_WAVE = 50;
const NP_SLOTS = 1024;

let a: Netns;
let b: Netns;
let dir: string;
let netprobe: NetprobeProcess;
const survivors: VethPair[] = [];
const startStats = new Map<string, { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } }>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'np-churn-'));
  a = await Netns.create('npchA');
  b = await Netns.create('npchB');
  await quietIpv6(a);
  await quietIpv6(b);
  for (let i = 0; i < 3; i++) {
    const pair = await vethBetween(a, b, { subnet: 200 + i });
    await staticNeighbours(a, b, pair);
    survivors.push(pair);
  }
  for (const s of survivors) startStats.set(s.a, await a.linkStats(s.a));
  netprobe = await startNetprobe(a, ['--collector.interval=1s']);
});

after(async () => {
  await netprobe?.stop();
  await a?.delete();
  await b?.delete();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function batch(ns: Netns, lines: string[], name: string): Promise<void> {
  const file = join(dir, name);
  await writeFile(file, lines.join('\n') + '\n');
  await ip(['-n', ns.name, '-batch', file], 60_000);
}

async function metrics(): Promise<string> {
  const r = await fetchIn(a, netprobe.port, '/metrics');
  assert.equal(r.status, 200);
  return r.body;
}

/** Slot owners and overflow keys currently in the kernel maps (CPU 0's view; the loader writes every CPU alike). */
async function mapEntries(): Promise<{ slotOwners: number[]; overflowKeys: number }> {
  const maps = await mapsOf(netprobe.pid);
  const slots = (await dumpMap(maps.get('np_slots')!)) as Array<{ formatted?: { values: Array<{ value: { ifindex: number } }> } }>;
  const overflow = await dumpMap(maps.get('np_overflow')!);
  const slotOwners = slots.map((e) => e.formatted?.values[0]?.value.ifindex ?? 0).filter((i) => i !== 0);
  return { slotOwners, overflowKeys: overflow.length };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - started;
}

test('churn under load: no failed scrape, exact survivors, nothing left behind, fds and RSS flat', async (t) => {
  const scrapers = probe<LoadResult>(
    a,
    { kind: 'load', url: `http://127.0.0.1:${netprobe.port}/metrics`, concurrency: 4, durationMs: WAVES * 9_000, minBytes: 1000 },
    180_000,
  );
  const base = procStats(netprobe.pid);
  const samples: Array<{ wave: number; fds: number; rssKb: number; attachMs: number; overflowSeen: number }> = [];
  const survivorIfindexes = await Promise.all(survivors.map((s) => a.ifindex(s.a)));
  const baseIfaces = 1 + survivors.length;

  for (let w = 0; w < WAVES; w++) {
    const names = Array.from({ length: PAIRS_PER_WAVE }, (_, i) => `c${w}x${i}`);
    // Two pairs per wave take ifindexes whose slot a survivor already owns: they must go to the overflow hash.
    const colliding = survivorIfindexes.slice(0, 2).map((idx, k) => idx + NP_SLOTS * (w * 2 + k + 1));
    await batch(
      a,
      names.flatMap((n, i) => [
        `link add ${n}a${i < 2 ? ` index ${colliding[i]}` : ''} type veth peer name ${n}b`,
        `link set ${n}a up`,
        `link set ${n}b up`,
      ]),
      `add-${w}`,
    );
    const traffic = Promise.all(survivors.map((s) => sendUdp(b, s.addrA, 300)));
    const attachMs = await waitFor(
      `wave ${w} attached`,
      async () => sampleValue(await metrics(), 'netprobe_attached_interfaces') === baseIfaces + 2 * PAIRS_PER_WAVE,
    );
    const mid = await mapEntries();
    assert.equal(
      mid.slotOwners.length + mid.overflowKeys,
      2 * (baseIfaces + 2 * PAIRS_PER_WAVE),
      `wave ${w}: one entry per interface and direction`,
    );
    assert.ok(mid.overflowKeys >= 4, `wave ${w}: the colliding interfaces must be in the overflow hash (${mid.overflowKeys} keys)`);
    await traffic;
    await batch(
      a,
      names.map((n) => `link del ${n}a`),
      `del-${w}`,
    );
    await waitFor(`wave ${w} detached`, async () => sampleValue(await metrics(), 'netprobe_attached_interfaces') === baseIfaces);
    const now = procStats(netprobe.pid);
    samples.push({ wave: w, fds: now.fds, rssKb: now.rssKb, attachMs, overflowSeen: mid.overflowKeys });
  }

  const load = await scrapers;
  // The end state, reached once a collection has run after the last packets and deletions: no deleted
  // interface exported, no overflow key left, survivors equal the kernel's statistics, no fd more than at
  // the start (transient netlink sockets come and go). Read until it holds or a generous deadline passes;
  // the assertions below then say what was wrong.
  const counted = async (body: string): Promise<boolean> => {
    for (const s of survivors) {
      const before = startStats.get(s.a)!;
      const now = await a.linkStats(s.a);
      const value = (direction: string): number | undefined =>
        sampleValue(body, 'netprobe_tc_packets_total', { interface: s.a, direction });
      if (value('ingress') !== now.rx.packets - before.rx.packets || value('egress') !== now.tx.packets - before.tx.packets) return false;
    }
    return true;
  };
  const deadline = Date.now() + 60_000;
  let body = await metrics();
  let end = procStats(netprobe.pid);
  let maps = await mapEntries();
  while (Date.now() < deadline) {
    const deletedExported = labelSets(body, 'netprobe_tc_packets_total').some((l) => /^c\dx/.test(l['interface'] ?? ''));
    if (!deletedExported && maps.overflowKeys === 0 && end.fds <= base.fds && (await counted(body))) break;
    await new Promise((r) => setTimeout(r, 200));
    body = await metrics();
    end = procStats(netprobe.pid);
    maps = await mapEntries();
  }
  for (const s of samples)
    t.diagnostic(
      `wave ${s.wave}: ${2 * PAIRS_PER_WAVE} interfaces attached in ${s.attachMs} ms (${s.overflowSeen} overflow keys), fds ${s.fds}, RSS ${s.rssKb} kB`,
    );
  t.diagnostic(
    `scrapes during churn: ${load.scrapes}, failed ${load.failed}, malformed ${load.malformed}, max latency ${load.maxLatencyMs.toFixed(0)} ms`,
  );
  t.diagnostic(
    `fds ${base.fds} → ${end.fds}; RSS ${base.rssKb} → ${end.rssKb} kB; slot entries ${maps.slotOwners.length}, overflow keys ${maps.overflowKeys}`,
  );

  assert.equal(load.failed, 0, JSON.stringify(load.errors));
  assert.equal(load.malformed, 0, JSON.stringify(load.errors));
  const exported = new Set(labelSets(body, 'netprobe_tc_packets_total').map((l) => l['interface']));
  assert.deepEqual(
    [...exported].filter((n) => n !== undefined && /^c\dx/.test(n)),
    [],
    'no series for deleted interfaces',
  );
  assert.equal(maps.overflowKeys, 0, 'no overflow entry left');
  const live = new Set([1, ...survivorIfindexes]);
  assert.deepEqual(
    [...new Set(maps.slotOwners)].sort((x, y) => x - y),
    [...live].sort((x, y) => x - y),
    'slots owned only by live interfaces',
  );
  for (const s of survivors) {
    const before = startStats.get(s.a)!;
    const nowStats = await a.linkStats(s.a);
    const labels = (direction: string): Record<string, string> => ({ interface: s.a, direction });
    assert.equal(
      sampleValue(body, 'netprobe_tc_packets_total', labels('ingress')),
      nowStats.rx.packets - before.rx.packets,
      `${s.a} ingress packets`,
    );
    assert.equal(
      sampleValue(body, 'netprobe_tc_bytes_total', labels('ingress')),
      nowStats.rx.bytes - before.rx.bytes,
      `${s.a} ingress bytes`,
    );
    assert.equal(
      sampleValue(body, 'netprobe_tc_packets_total', labels('egress')),
      nowStats.tx.packets - before.tx.packets,
      `${s.a} egress packets`,
    );
    assert.equal(
      sampleValue(body, 'netprobe_tc_bytes_total', labels('egress')),
      nowStats.tx.bytes - before.tx.bytes,
      `${s.a} egress bytes`,
    );
    assert.ok(nowStats.rx.packets - before.rx.packets >= WAVES * 300, `${s.a}: the traffic arrived`);
  }
  assert.ok(end.fds <= base.fds, `fds: ${base.fds} at start, ${end.fds} at the end`);
  // RSS flat across waves: the last wave may not sit far above the first.
  const first = samples[0]!.rssKb;
  assert.ok(end.rssKb < first + 32 * 1024, `RSS grew from ${first} kB (wave 0) to ${end.rssKb} kB`);
});
