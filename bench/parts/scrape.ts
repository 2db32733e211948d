/**
 * Part 4: scrape cost against node_exporter. Both exporters run inside one
 * veth-farm namespace (same interfaces), wrk drives each in turn with the same
 * bounded load, rounds interleaved. CPU per scrape = the exporter's
 * utime+stime delta over the run / requests served (netprobe's background
 * collections included). Target at 2,000 interfaces: netprobe's median
 * latency and CPU per scrape ≤ 0.1× node_exporter's.
 */
import type { BenchPart } from '../lib/context.js';
import { metricsUrl, startNetprobe, startNodeExporter, type ExporterName } from '../lib/exporters.js';
import { probe } from '../../test/support/netns-http.js';
import type { NsProcess } from '../../test/support/ns-process.js';
import { cpuSeconds } from '../lib/proc-stats.js';
import { cell, fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { summarize, type Summary } from '../lib/stats.js';
import { chartSvg } from '../lib/svg-chart.js';
import { createVethFarm } from '../../test/support/veth-farm.js';
import { runWrk } from '../lib/wrk.js';

export const SCRAPE_TARGET_RATIO = 0.1;
const EXPORTERS: ExporterName[] = ['netprobe', 'node_exporter'];
const COLORS: Record<ExporterName, string> = { netprobe: '#1f77b4', node_exporter: '#d62728' };

interface SizeResult {
  size: number;
  bytes: Record<ExporterName, { plainBytes: number; gzipBytes: number; series: number }>;
  p50: Record<ExporterName, Summary>;
  p99: Record<ExporterName, Summary>;
  cpuMsPerScrape: Record<ExporterName, Summary>;
  requestsPerSecond: Record<ExporterName, Summary>;
}

/** The numbers the chart needs, as stored in results.json. */
interface ChartData {
  connections: number;
  sizes: Array<{ size: number; p50: Record<ExporterName, number>; cpuMsPerScrape: Record<ExporterName, number> }>;
}

/** Latency and CPU per scrape against interface count, both exporters (docs/benchmarks-scrape.svg). */
function scrapeChart(data: ChartData): string {
  const series = (pick: (s: ChartData['sizes'][number], n: ExporterName) => number) =>
    EXPORTERS.map((n) => ({ name: n, color: COLORS[n], points: data.sizes.map((s) => [s.size, pick(s, n)] as [number, number]) }));
  return chartSvg(
    [
      { title: 'Scrape latency (median)', yLabel: 'milliseconds', series: series((s, n) => s.p50[n]) },
      { title: 'CPU per scrape', yLabel: 'CPU milliseconds', series: series((s, n) => s.cpuMsPerScrape[n]) },
    ],
    'interfaces (veth), log scale',
    `netprobe vs prometheus-node-exporter (netdev collector only); wrk -c${data.connections}, gzip; same namespace and interfaces`,
  );
}

export const scrapePart: BenchPart = {
  name: 'scrape',
  title: 'Part 4 — scrape cost against node_exporter',
  needs: ['src/cli/main.ts', 'src/bpf/index.ts'],
  chart: (data) => scrapeChart(data as unknown as ChartData),
  async run(ctx): Promise<PartResult> {
    const seconds = ctx.smoke ? 1 : 10;
    const rounds = ctx.smoke ? 1 : 3;
    const connections = 1;
    const results: SizeResult[] = [];
    for (const size of ctx.sizes) {
      const farm = await createVethFarm(size);
      try {
        const procs: Record<ExporterName, NsProcess> = {
          netprobe: await startNetprobe(ctx, farm.ns),
          node_exporter: await startNodeExporter(farm.ns),
        };
        const bytes = {} as SizeResult['bytes'];
        for (const name of EXPORTERS) bytes[name] = await probe(farm.ns, { kind: 'size', url: metricsUrl(name) }, 60_000);
        const raw: Record<ExporterName, { p50: number[]; p99: number[]; cpu: number[]; rps: number[] }> = {
          netprobe: { p50: [], p99: [], cpu: [], rps: [] },
          node_exporter: { p50: [], p99: [], cpu: [], rps: [] },
        };
        for (let round = 0; round < rounds; round++) {
          for (let k = 0; k < EXPORTERS.length; k++) {
            const name = EXPORTERS[(k + round) % EXPORTERS.length]!;
            const pid = procs[name].pid;
            const cpu0 = cpuSeconds(pid);
            const w = await runWrk(farm.ns, metricsUrl(name), { seconds, connections });
            const cpu1 = cpuSeconds(pid);
            if (w.errors > 0) throw new Error(`${name}: ${w.errors} failed requests under wrk at ${size} interfaces`);
            raw[name].p50.push(w.p50);
            raw[name].p99.push(w.p99);
            raw[name].cpu.push(((cpu1 - cpu0) * 1000) / Math.max(1, w.requests));
            raw[name].rps.push(w.requests / w.seconds);
          }
        }
        for (const p of Object.values(procs)) await p.stop();
        const per = <K extends keyof (typeof raw)['netprobe']>(key: K): Record<ExporterName, Summary> => ({
          netprobe: summarize(raw.netprobe[key]),
          node_exporter: summarize(raw.node_exporter[key]),
        });
        results.push({ size, bytes, p50: per('p50'), p99: per('p99'), cpuMsPerScrape: per('cpu'), requestsPerSecond: per('rps') });
        ctx.log(
          `scrape: ${size} interfaces: netprobe p50 ${fmt.ms(summarize(raw.netprobe.p50).median)}, node_exporter p50 ${fmt.ms(summarize(raw.node_exporter.p50).median)}`,
        );
      } finally {
        await farm.remove();
      }
    }

    const latency: Table = {
      caption: `wrk -t1 -c${connections} -d${seconds}s with \`Accept-Encoding: gzip\` (as Prometheus scrapes), ${rounds} interleaved rounds per exporter; medians over rounds, ± half the IQR. Ratio = netprobe / node_exporter.`,
      headers: ['interfaces', 'exporter', 'latency p50', 'latency p99', 'CPU per scrape', 'scrapes/s', 'p50 ratio', 'CPU ratio'],
      rows: [],
    };
    const size: Table = {
      caption: 'One response each (series = sample lines):',
      headers: ['interfaces', 'exporter', 'series', 'plain', 'gzip'],
      rows: [],
    };
    for (const r of results) {
      for (const name of EXPORTERS) {
        const isNp = name === 'netprobe';
        latency.rows.push([
          fmt.count(r.size),
          name,
          cell(r.p50[name], fmt.ms),
          cell(r.p99[name], fmt.ms),
          cell(r.cpuMsPerScrape[name], fmt.ms),
          fmt.count(r.requestsPerSecond[name].median),
          isNp ? fmt.ratio(r.p50.netprobe.median / r.p50.node_exporter.median) : '',
          isNp ? fmt.ratio(r.cpuMsPerScrape.netprobe.median / r.cpuMsPerScrape.node_exporter.median) : '',
        ]);
        size.rows.push([
          fmt.count(r.size),
          name,
          fmt.count(r.bytes[name].series),
          fmt.bytes(r.bytes[name].plainBytes),
          fmt.bytes(r.bytes[name].gzipBytes),
        ]);
      }
    }

    const notes: string[] = [];
    const verdicts: Verdict[] = [];
    const largest = results.find((r) => r.size === 2000);
    if (largest) {
      const p50Ratio = largest.p50.netprobe.median / largest.p50.node_exporter.median;
      const cpuRatio = largest.cpuMsPerScrape.netprobe.median / largest.cpuMsPerScrape.node_exporter.median;
      const met = p50Ratio <= SCRAPE_TARGET_RATIO && cpuRatio <= SCRAPE_TARGET_RATIO;
      verdicts.push(
        {
          target: `median latency at 2,000 interfaces ≤ ${SCRAPE_TARGET_RATIO}× node_exporter's`,
          result: `${fmt.ratio(p50Ratio)} (${fmt.ms(largest.p50.netprobe.median)} vs ${fmt.ms(largest.p50.node_exporter.median)})`,
          met: p50Ratio <= SCRAPE_TARGET_RATIO,
        },
        {
          target: `CPU per scrape at 2,000 interfaces ≤ ${SCRAPE_TARGET_RATIO}× node_exporter's`,
          result: `${fmt.ratio(cpuRatio)} (${fmt.ms(largest.cpuMsPerScrape.netprobe.median)} vs ${fmt.ms(largest.cpuMsPerScrape.node_exporter.median)})`,
          met: cpuRatio <= SCRAPE_TARGET_RATIO,
        },
      );
      notes.push(
        `${met ? 'Target met' : 'Target NOT met'} at 2,000 interfaces: netprobe's median latency is ${fmt.ratio(p50Ratio)} and its CPU per scrape ${fmt.ratio(cpuRatio)} node_exporter's (target ≤ ${SCRAPE_TARGET_RATIO}× each).`,
      );
    }
    notes.push(
      "netprobe renders and gzips once per collection (every 5 s) and serves the cached bytes; node_exporter reads /proc/net/dev, renders and compresses on every scrape. CPU per scrape includes netprobe's background collections.",
    );

    const data = {
      seconds,
      rounds,
      connections,
      sizes: results.map((r) => ({
        size: r.size,
        bytes: r.bytes,
        p50: { netprobe: r.p50.netprobe.median, node_exporter: r.p50.node_exporter.median },
        p99: { netprobe: r.p99.netprobe.median, node_exporter: r.p99.node_exporter.median },
        cpuMsPerScrape: { netprobe: r.cpuMsPerScrape.netprobe.median, node_exporter: r.cpuMsPerScrape.node_exporter.median },
      })),
    };
    return {
      part: 'scrape',
      title: this.title,
      tables: [latency, size],
      notes,
      verdicts,
      data: { ...data, svg: scrapeChart(data) },
      seconds: 0,
    };
  },
};
