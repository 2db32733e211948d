/**
 * Persistence (`--ebpf.pin-path`): counting never stops across restarts.
 * The real CLI runs in a test namespace with its own bpffs instance (mounted
 * at a fresh temporary directory, unmounted after; /sys/fs/bpf is never
 * touched) while paced UDP flows over a veth pair the whole time. It is
 * stopped with SIGTERM and started again twice, then SIGKILLed and started:
 * over the whole window, netprobe's counter deltas equal the kernel's own
 * interface statistics exactly (no packet missed while it was down, none
 * counted twice), and no scrape ever sees a counter go backwards.
 * `--ebpf.cleanup` then leaves no program, link, filter, qdisc or pin of
 * ours, while a foreign program (a clsact filter) and foreign pins beside
 * ours are untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Netns, vethBetween, type VethPair } from '../support/netns.js';
import { quietIpv6, staticNeighbours } from '../support/traffic.js';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { fetchIn } from '../support/netns-http.js';
import { census, netprobeOn } from '../support/tc-attachments.js';
import { compileFixtureProgram } from '../support/bpf-compile.js';

const run = promisify(execFile);

export interface PersistenceLab {
  left: Netns;
  right: Netns;
  link: VethPair;
  /** A private bpffs instance; netprobe pins under `${bpffs}/netprobe`. */
  bpffs: string;
  pinPath: string;
  cleanup(): Promise<void>;
}

/** Two namespaces, one quiet veth pair (no IPv6, static neighbours), a private bpffs. */
export async function persistenceLab(prefix: string): Promise<PersistenceLab> {
  const left = await Netns.create(`${prefix}l`);
  const right = await Netns.create(`${prefix}r`);
  const bpffs = mkdtempSync(join(tmpdir(), 'np-bpffs-'));
  let mounted = false;
  const cleanup = async (): Promise<void> => {
    await left.delete();
    await right.delete();
    if (mounted) await run('umount', [bpffs]).catch(() => undefined);
    rmSync(bpffs, { recursive: true, force: true });
  };
  try {
    await quietIpv6(left, right);
    const link = await vethBetween(left, right);
    await staticNeighbours(left, right, link);
    await run('mount', ['-t', 'bpf', 'bpf', bpffs]);
    mounted = true;
    return { left, right, link, bpffs, pinPath: join(bpffs, 'netprobe'), cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Paced UDP datagrams from `ns` to `addr` (port 9: answered by ICMP, so both directions carry packets) until stopped. */
export function startUdpStream(ns: Netns, addr: string, perMs = 1): { stop(): Promise<void> } {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const buf = Buffer.alloc(120, 120);
    let stop = false;
    process.on('SIGTERM', () => { stop = true; });
    s.on('error', () => {});
    const tick = () => { if (stop) return s.close(() => process.exit(0)); let n = ${perMs}; const next = () => { if (n-- <= 0) return setTimeout(tick, 1); s.send(buf, 9, ${JSON.stringify(addr)}, next); }; next(); };
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

export interface Totals {
  ingressPackets: bigint;
  egressPackets: bigint;
  ingressBytes: bigint;
  egressBytes: bigint;
}

/** netprobe's counters of one interface, from /metrics. */
export async function scrapeTotals(ns: Netns, port: number, ifname: string): Promise<Totals> {
  const { status, body } = await fetchIn(ns, port, '/metrics');
  assert.equal(status, 200);
  const value = (family: string, direction: string): bigint => {
    const m = new RegExp(`^${family}\\{[^}]*direction="${direction}"[^}]*interface="${ifname}"[^}]*\\} (\\d+)$`, 'm').exec(body);
    assert.ok(m, `${family} ${direction} of ${ifname} in:\n${body.slice(0, 2000)}`);
    return BigInt(m[1]!);
  };
  return {
    ingressPackets: value('netprobe_tc_packets_total', 'ingress'),
    egressPackets: value('netprobe_tc_packets_total', 'egress'),
    ingressBytes: value('netprobe_tc_bytes_total', 'ingress'),
    egressBytes: value('netprobe_tc_bytes_total', 'egress'),
  };
}

export async function kernelTotals(ns: Netns, ifname: string): Promise<Totals> {
  const s = await ns.linkStats(ifname);
  return {
    ingressPackets: BigInt(s.rx.packets),
    egressPackets: BigInt(s.tx.packets),
    ingressBytes: BigInt(s.rx.bytes),
    egressBytes: BigInt(s.tx.bytes),
  };
}

function minus(a: Totals, b: Totals): Totals {
  return {
    ingressPackets: a.ingressPackets - b.ingressPackets,
    egressPackets: a.egressPackets - b.egressPackets,
    ingressBytes: a.ingressBytes - b.ingressBytes,
    egressBytes: a.egressBytes - b.egressBytes,
  };
}

function notBelow(now: Totals, before: Totals, what: string): void {
  for (const k of Object.keys(now) as Array<keyof Totals>)
    assert.ok(now[k] >= before[k], `${what}: ${k} went from ${before[k]} to ${now[k]}`);
}

/** Lists every entry under a directory, recursively (relative paths, sorted). */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

/** Waits for a collection (250 ms interval) to have picked up the counters as they are now. */
const COLLECTED_MS = 700;

for (const mode of ['tcx', 'tc'] as const) {
  test(
    `${mode}: counting continues through SIGTERM, SIGTERM and SIGKILL restarts; deltas equal the kernel's exactly; --ebpf.cleanup leaves nothing of ours`,
    {
      timeout: 150_000,
    },
    async (t) => {
      const lab = await persistenceLab(`nppin${mode}`);
      const { left, right, link, pinPath, bpffs } = lab;
      const started: NetprobeProcess[] = [];
      let stream: { stop(): Promise<void> } | undefined;
      t.after(async () => {
        await stream?.stop();
        for (const p of started) await p.stop('SIGKILL');
        await lab.cleanup();
      });
      const args = [
        `--ebpf.attach-mode=${mode}`,
        `--ebpf.include=${link.a}`,
        `--ebpf.pin-path=${pinPath}`,
        '--collector.interval=250ms',
        '--source=ebpf',
      ];
      const start = async (): Promise<NetprobeProcess> => {
        const p = await startNetprobe(left, args);
        started.push(p);
        return p;
      };

      let np = await start();
      await sleep(COLLECTED_MS);
      const kernel0 = await kernelTotals(left, link.a);
      const counted0 = await scrapeTotals(left, np.port, link.a);
      let last: Totals;

      stream = startUdpStream(right, link.addrA);
      for (const stopWith of ['SIGTERM', 'SIGTERM', 'SIGKILL'] as const) {
        await sleep(1_000);
        last = await scrapeTotals(left, np.port, link.a);
        const code = await np.stop(stopWith);
        if (stopWith === 'SIGTERM') assert.equal(code, 0, np.output());
        // Left attached, pinned and counting while netprobe is down.
        assert.ok(
          listTree(pinPath).some((p) => p.endsWith('maps/np_slots')),
          listTree(pinPath).join('\n'),
        );
        const hooks = (await census(left))[link.a]!;
        assert.equal(netprobeOn(mode === 'tcx' ? hooks.tcxIngress : hooks.tcIngress), 1, JSON.stringify(hooks));
        assert.equal(netprobeOn(mode === 'tcx' ? hooks.tcxEgress : hooks.tcEgress), 1, JSON.stringify(hooks));
        await sleep(1_000);
        np = await start();
        assert.match(np.output(), /adopting the pinned eBPF state/);
        // Prometheus would see no reset: nothing is lower than before the stop.
        notBelow(await scrapeTotals(left, np.port, link.a), last, `after ${stopWith}`);
        // Still exactly one of ours on each hook: adopted, not attached again.
        const after = (await census(left))[link.a]!;
        assert.equal(netprobeOn(mode === 'tcx' ? after.tcxIngress : after.tcIngress), 1, JSON.stringify(after));
      }
      await sleep(1_000);
      await stream.stop();
      await sleep(200);
      const kernel1 = await kernelTotals(left, link.a);
      await sleep(COLLECTED_MS);
      const counted1 = await scrapeTotals(left, np.port, link.a);
      const kernelDelta = minus(kernel1, kernel0);
      assert.ok(kernelDelta.ingressPackets > 3_000n, `enough traffic flowed: ${kernelDelta.ingressPackets}`);
      // veth's statistics count what the TC hooks see, header included: exact equality.
      assert.deepEqual(minus(counted1, counted0), kernelDelta);
      assert.equal(await np.stop('SIGTERM'), 0, np.output());

      // Uninstall: a foreign program (clsact filter, pinned) and foreign pins beside ours stay.
      const objDir = mkdtempSync(join(tmpdir(), 'np-foreign-'));
      t.after(() => rmSync(objDir, { recursive: true, force: true }));
      const foreignObj = compileFixtureProgram('ebpf-second-counter.bpf.c', objDir);
      const foreignProg = join(bpffs, 'foreign_prog');
      await run('bpftool', ['prog', 'load', foreignObj, foreignProg, 'type', 'classifier']);
      await run('bpftool', [
        'map',
        'create',
        join(pinPath, 'foreign_map'),
        'type',
        'array',
        'key',
        '4',
        'value',
        '4',
        'entries',
        '1',
        'name',
        'foreign_map',
      ]);
      if (mode === 'tcx') await left.exec('tc', ['qdisc', 'add', 'dev', link.a, 'clsact']);
      await left.exec('tc', [
        'filter',
        'add',
        'dev',
        link.a,
        'ingress',
        'pref',
        '300',
        'handle',
        '7',
        'bpf',
        'da',
        'object-pinned',
        foreignProg,
      ]);

      const [node, nodeArgs] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup', '--log.format=json']);
      const { stdout, stderr } = await run('ip', ['netns', 'exec', left.name, node, ...nodeArgs], { timeout: 60_000 });
      assert.match(stdout + stderr, /cleanup: removed 1 netprobe pin directory/);
      assert.deepEqual(listTree(pinPath), ['foreign_map'], 'only the foreign pin is left under the pin path');
      assert.ok(existsSync(foreignProg), 'the foreign pinned program is untouched');
      const hooks = (await census(left))[link.a]!;
      assert.deepEqual(
        {
          tcx: [...hooks.tcxIngress, ...hooks.tcxEgress].length,
          netprobe: netprobeOn([...hooks.tcIngress, ...hooks.tcEgress]),
          foreign: hooks.tcIngress.map((e) => e.name),
          clsact: hooks.clsact.length > 0,
        },
        { tcx: 0, netprobe: 0, foreign: ['second_in'], clsact: true },
      );
      // In tc mode the qdisc was netprobe's until the foreign filter joined it: kept, since it is not empty.
    },
  );
}
