/**
 * Part 2: what netprobe costs real traffic. iperf3 over a veth pair between
 * two fresh namespaces — TCP bulk and 64-byte UDP — with no program, with
 * netprobe attached in tcx mode and in tc (clsact) mode on both ends, modes
 * interleaved in a rotating order over several rounds.
 */
import { join } from 'node:path';
import { twoHosts, type Netns } from '../../test/support/netns.js';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { startInNs, waitForListen, type NsProcess } from '../../test/support/ns-process.js';
import { cell, fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { pairedRatios, summarize, type Summary } from '../lib/stats.js';

const MODES = ['none', 'tcx', 'tc'] as const;
const PROTOCOLS = ['tcp', 'udp64'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const IPERF_PORT = 5201;

interface IperfJson {
  end: { sum_received?: { bytes: number; seconds: number; bits_per_second: number } };
  error?: string;
}

/** One iperf3 run from `client` to `server`; returns what the receiver got per second. */
async function iperf(
  client: Netns,
  serverAddr: string,
  protocol: Protocol,
  seconds: number,
): Promise<{ bitsPerSecond: number; packetsPerSecond: number }> {
  const args = ['-c', serverAddr, '-p', String(IPERF_PORT), '-t', String(seconds), '-J'];
  if (protocol === 'udp64') args.push('-u', '-l', '64', '-b', '0');
  const out = JSON.parse(await client.exec('iperf3', args, (seconds + 20) * 1000)) as IperfJson;
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
    try {
      const { left, right, link } = hosts;
      const server = startInNs(right, 'iperf3', ['-s', '-B', link.addrB, '-p', String(IPERF_PORT)], { label: 'iperf3 server' });
      await waitForListen(server, IPERF_PORT, 10_000);
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < MODES.length; k++) {
          const mode = MODES[(k + round) % MODES.length]!;
          // netprobe on both ends: every packet passes two of its hooks (egress of one, ingress of the other).
          const agents = mode === 'none' ? [] : await Promise.all([attach(ctx, left, mode, link.a), attach(ctx, right, mode, link.b)]);
          try {
            for (const protocol of PROTOCOLS) {
              const r = await iperf(left, link.addrB, protocol, seconds);
              const key = `${protocol}|${mode}`;
              samples.set(key, [...(samples.get(key) ?? []), protocol === 'tcp' ? r.bitsPerSecond : r.packetsPerSecond]);
            }
          } finally {
            for (const a of agents) counted.push(await detach(a));
          }
          ctx.log(`throughput: round ${round + 1}/${rounds} ${mode} done`);
        }
      }
      await server.stop();
    } finally {
      await removeHosts();
    }
    if (counted.some((n) => n === 0)) throw new Error('netprobe was attached but counted no packet: the measured setup is wrong');

    const table: Table = {
      caption: `iperf3 ${seconds} s per run, ${rounds} rounds, modes in rotating order; receiver-side rates; ratio = median of per-round ratios to "no program".`,
      headers: ['traffic', 'mode', 'rate (median, ± half IQR)', 'ratio to no program', 'slowdown beyond the noise?'],
      rows: [],
    };
    const data: Record<string, unknown> = { seconds, rounds, countedPackets: counted };
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
            target: `${protocol === 'tcp' ? 'TCP' : 'UDP 64 B'} with netprobe (${mode}): no measurable slowdown`,
            result: `${fmt.ratio(ratio.median)} the rate without it; ${measurable ? 'a slowdown beyond the noise' : `inside the noise (±${(100 * noise).toFixed(0)}%)`}`,
            met: !measurable,
          });
        }
        table.rows.push([
          protocol === 'tcp' ? 'TCP bulk' : 'UDP, 64-byte payload',
          mode === 'none' ? 'no program' : `netprobe, ${mode}`,
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
