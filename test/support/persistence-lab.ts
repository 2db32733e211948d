/**
 * A lab for the persistence tests: two namespaces joined by a quiet veth
 * pair (no IPv6, static neighbours) and a private bpffs instance mounted at a
 * fresh temporary directory (unmounted by `cleanup()`; /sys/fs/bpf is never
 * touched); paced UDP between them; netprobe's and the kernel's totals.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Netns, vethBetween, type VethPair } from './netns.js';
import { quietIpv6, staticNeighbours } from './traffic.js';
import { fetchIn } from './netns-http.js';
import { privateBpffs } from './bpffs.js';

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
  let bpffs: Awaited<ReturnType<typeof privateBpffs>> | undefined;
  const cleanup = async (): Promise<void> => {
    await left.delete();
    await right.delete();
    await bpffs?.cleanup();
  };
  try {
    await quietIpv6(left, right);
    const link = await vethBetween(left, right);
    await staticNeighbours(left, right, link);
    bpffs = await privateBpffs();
    return { left, right, link, bpffs: bpffs.dir, pinPath: join(bpffs.dir, 'netprobe'), cleanup };
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

export function minus(a: Totals, b: Totals): Totals {
  return {
    ingressPackets: a.ingressPackets - b.ingressPackets,
    egressPackets: a.egressPackets - b.egressPackets,
    ingressBytes: a.ingressBytes - b.ingressBytes,
    egressBytes: a.egressBytes - b.egressBytes,
  };
}

export function notBelow(now: Totals, before: Totals, what: string): void {
  for (const k of Object.keys(now) as Array<keyof Totals>)
    assert.ok(now[k] >= before[k], `${what}: ${k} went from ${before[k]} to ${now[k]}`);
}

/** Lists every entry under a directory, recursively (relative paths, sorted). */
export function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}
