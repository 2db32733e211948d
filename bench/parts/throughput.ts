/**
 * Part 2: what netprobe costs real traffic. iperf3 over a veth pair between
 * two fresh namespaces — TCP bulk and 64-byte UDP — with no program, with
 * netprobe attached in tcx mode and in tc (clsact) mode on both ends, and with
 * everything on (tcx on both ends plus the socket meter at the cgroup2 root,
 * iperf3's client and server in cgroups of their own: two pods), modes
 * interleaved in a rotating order over several rounds.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openSocketMeter, type SocketMeter } from '../../src/bpf/socket-meter/socket-meter.js';
import { findCgroup2Root } from '../../src/bpf/socket-meter/cgroup-root.js';
import { inNetns, testCgroup, type TestCgroup } from '../../test/support/socket-traffic.js';
import { twoHosts, type Netns } from '../../test/support/netns.js';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { startInNs, type NsProcess } from '../../test/support/ns-process.js';
import { cell, fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { pairedRatios, summarize, type Summary } from '../lib/stats.js';

const MODES = ['none', 'tcx', 'tc', 'all'] as const;
type Mode = (typeof MODES)[number];
const runFile = promisify(execFile);
const PROTOCOLS = ['tcp', 'udp64'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const IPERF_PORT = 5201;

interface IperfJson {
  end: { sum_received?: { bytes: number; seconds: number; bits_per_second: number } };
  error?: string;
}

/** One iperf3 run from `client` to `server`; returns what the receiver got per second. */
export async function iperf(
  client: Netns,
  serverAddr: string,
  protocol: Protocol,
  seconds: number,
  cgroup: TestCgroup | undefined,
): Promise<{ bitsPerSecond: number; packetsPerSecond: number }> {
  const args = ['-c', serverAddr, '-p', String(IPERF_PORT), '-t', String(seconds), '-J'];
  if (protocol === 'udp64') args.push('-u', '-l', '64', '-b', '0');
  // The same nsenter path in every mode, so only what is attached differs.
  const [cmd, argv] = inNetns(client, cgroup, 'iperf3', args);
  const { stdout } = await runFile(cmd, argv, { timeout: (seconds + 20) * 1000, maxBuffer: 16 << 20 });
  const out = JSON.parse(stdout) as IperfJson;
  const r = out.end.sum_received;
  if (out.error || !r) throw new Error(`iperf3 ${protocol}: ${out.error ?? 'no receiver summary'}`);
  return { bitsPerSecond: r.bits_per_second, packetsPerSecond: protocol === 'udp64' ? r.bytes / 64 / r.seconds : NaN };
}

async function attach(ctx: BenchContext, ns: Netns, mode: 'tcx' | 'tc', ifname: string): Promise<NsProcess> {
  const p = startInNs(ns, process.execPath, ['--import', 'tsx', join(ctx.repoRoot, 'bench', 'agents', 'attach.ts'), mode, ifname], {
    label: `netprobe ${mode} on ${ifname}`,
  });
  await p.waitForLine(/^attached /, 30_000);
  return p;
}

/** Detaches and returns the packets netprobe counted on the interface (both directions). */
async function detach(p: NsProcess): Promise<number> {
  const line = p.waitForLine(/^\{"packets"/, 15_000);
  await p.stop();
  const { packets } = JSON.parse(await line) as { packets: Record<string, number> };
  return Object.values(packets).reduce((a, b) => a + b, 0);
}

/**
 * The iperf3 server in `ns`, inside `cgroup` (if any) before it opens a socket (nsenter keeps /sys; `ip
 * netns exec` would not), listening when this returns; `stop()` ends it by its pid.
 */
export async function startServer(ns: Netns, cgroup: TestCgroup | undefined, addr: string): Promise<{ stop(): Promise<void> }> {
  const [cmd, argv] = inNetns(ns, cgroup, 'iperf3', ['-s', '-B', addr, '-p', String(IPERF_PORT)]);
  const child = spawn(cmd, argv, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
  };
  const removeServer = onCleanup('iperf3 server', stop);
  const hexPort = `:${IPERF_PORT.toString(16).toUpperCase().padStart(4, '0')} `;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`iperf3 server exited (${child.exitCode}) before listening`);
    const text = await readFile(`/proc/${child.pid}/net/tcp`, 'utf8').catch(() => '');
    // Column 2 is local_address "IP:PORT", column 4 the state: 0A = LISTEN.
    if (text.split('\n').some((l) => l.includes(hexPort) && l.trim().split(/\s+/)[3] === '0A')) break;
    if (Date.now() > deadline) {
      await removeServer();
      throw new Error('iperf3 server not listening after 30 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { stop: removeServer };
}

function label(mode: Mode): string {
  return mode === 'all' ? 'tcx + socket meter' : mode;
}

export const throughputPart: BenchPart = {
  name: 'throughput',
  title: 'Part 2 — throughput impact on real traffic (iperf3 over veth)',
  needs: ['src/bpf/index.ts'],
  async run(ctx): Promise<PartResult> {
    const seconds = ctx.smoke ? 1 : 5;
    const rounds = ctx.smoke ? 1 : 5;
    const hosts = await twoHosts('npbt');
    const removeHosts = onCleanup('throughput namespaces', hosts.cleanup);
    const samples = new Map<string, number[]>();
    const counted: number[] = [];
    const meterCounted: number[] = [];
    // Two "pods": the client's and the server's processes each in a cgroup v2 cgroup of their own.
    const cgroupRoot = findCgroup2Root();
    const clientCgroup = testCgroup(cgroupRoot);
    const serverCgroup = testCgroup(cgroupRoot);
    const removeCgroups = onCleanup('throughput cgroups', async () => {
      await clientCgroup.remove();
      await serverCgroup.remove();
    });
    try {
      const { left, right, link } = hosts;
      const server = await startServer(right, serverCgroup, link.addrB);
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < MODES.length; k++) {
          const mode: Mode = MODES[(k + round) % MODES.length]!;
          // netprobe on both ends: every packet passes two of its hooks (egress of one, ingress of the other).
          const tcMode = mode === 'all' ? 'tcx' : mode;
          const agents =
            tcMode === 'none' ? [] : await Promise.all([attach(ctx, left, tcMode, link.a), attach(ctx, right, tcMode, link.b)]);
          let meter: SocketMeter | undefined;
          try {
            // The socket meter as the exporter runs it: one cgroup link per hook at the cgroup2 root.
            if (mode === 'all') meter = await openSocketMeter({ cgroupRoot });
            for (const protocol of PROTOCOLS) {
              const r = await iperf(left, link.addrB, protocol, seconds, clientCgroup);
              const key = `${protocol}|${mode}`;
              samples.set(key, [...(samples.get(key) ?? []), protocol === 'tcp' ? r.bitsPerSecond : r.packetsPerSecond]);
            }
            if (meter) {
              const rows = meter.readSocketCounters().filter((r) => r.cgroupId === clientCgroup.id || r.cgroupId === serverCgroup.id);
              meterCounted.push(rows.reduce((a, r) => a + Number(r.packets), 0));
            }
          } finally {
            await meter?.close();
            for (const a of agents) counted.push(await detach(a));
          }
          ctx.log(`throughput: round ${round + 1}/${rounds} ${mode} done`);
        }
      }
      await server.stop();
    } finally {
      await removeHosts();
      await removeCgroups();
    }
    if (counted.some((n) => n === 0)) throw new Error('netprobe was attached but counted no packet: the measured setup is wrong');
    if (meterCounted.some((n) => n === 0))
      throw new Error('the socket meter was attached but counted no packet of the two pods: the measured setup is wrong');

    const table: Table = {
      caption: `iperf3 ${seconds} s per run, ${rounds} rounds, modes in rotating order; receiver-side rates; ratio = median of per-round ratios to "no program".`,
      headers: ['traffic', 'mode', 'rate (median, ± half IQR)', 'ratio to no program', 'slowdown beyond the noise?'],
      rows: [],
    };
    const data: Record<string, unknown> = { seconds, rounds, countedPackets: counted, meterCountedPackets: meterCounted };
    const notes: string[] = [];
    const verdicts: Verdict[] = [];
    for (const protocol of PROTOCOLS) {
      const base = samples.get(`${protocol}|none`) ?? [];
      const baseSummary = summarize(base);
      const noise = (baseSummary.p75 - baseSummary.p25) / 2 / baseSummary.median;
      for (const mode of MODES) {
        const s = samples.get(`${protocol}|${mode}`) ?? [];
        const summary = summarize(s);
        const ratio: Summary = mode === 'none' ? summarize(s.map(() => 1)) : pairedRatios(s, base);
        // A cost shows as a lower rate; a ratio above 1 only says how large the noise is.
        const slowdown = 1 - ratio.median;
        const measurable = slowdown > Math.max(noise, (ratio.p75 - ratio.p25) / 2);
        const verdict = mode === 'none' ? '–' : measurable ? `yes, ${(100 * slowdown).toFixed(1)}%` : 'no';
        const rate =
          protocol === 'tcp'
            ? cell(
                { ...summary, median: summary.median / 1e9, p25: summary.p25 / 1e9, p75: summary.p75 / 1e9 },
                (v) => `${v.toFixed(2)} Gbit/s`,
              )
            : cell(summary, (v) => `${fmt.count(v)} pkt/s`);
        if (mode !== 'none') {
          verdicts.push({
            target: `${protocol === 'tcp' ? 'TCP' : 'UDP 64 B'} with netprobe (${label(mode)}): no measurable slowdown`,
            result: `${fmt.ratio(ratio.median)} the rate without it; ${measurable ? 'a slowdown beyond the noise' : `inside the noise (±${(100 * noise).toFixed(0)}%)`}`,
            met: !measurable,
          });
        }
        table.rows.push([
          protocol === 'tcp' ? 'TCP bulk' : 'UDP, 64-byte payload',
          mode === 'none' ? 'no program' : `netprobe, ${label(mode)}`,
          rate,
          mode === 'none' ? '1.00×' : cell(ratio, fmt.ratio),
          verdict,
        ]);
        data[`${protocol}|${mode}`] = {
          median: summary.median,
          p25: summary.p25,
          p75: summary.p75,
          ratio: mode === 'none' ? 1 : ratio.median,
          samples: s,
        };
      }
      notes.push(
        `${protocol === 'tcp' ? 'TCP' : 'UDP'}: the run-to-run spread without any program is ±${(100 * noise).toFixed(1)}% (half the IQR); a slowdown within that is not measurable.`,
      );
    }
    notes.push(
      'Two cores shared by the client, the server, softirq processing and other work: throughput here is CPU-bound, so this is an upper bound of the per-packet cost that real NICs would show.',
    );
    return { part: 'throughput', title: this.title, tables: [table], notes, verdicts, data, seconds: 0 };
  },
};
