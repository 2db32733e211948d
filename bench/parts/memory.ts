/**
 * Part 5: memory. Every size runs at once, each in its own veth-farm
 * namespace with both exporters, each exporter scraped every 250 ms (gzip) by
 * an agent inside the namespace. RSS (VmRSS) is read after a warm-up and then
 * every 15 s for the soak (10 minutes in the full run; `--minutes` changes
 * it). Target at 2,000 interfaces: ≤ 2× node_exporter's RSS, and no growth.
 */
import type { BenchPart } from '../lib/context.js';
import { metricsUrl, probe, startNetprobe, startNodeExporter, type ExporterName } from '../lib/exporters.js';
import type { NsProcess } from '../lib/ns-process.js';
import { rssBytes } from '../lib/proc-stats.js';
import { fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { createVethFarm, type VethFarm } from '../lib/veth-farm.js';

export const MEMORY_TARGET_RATIO = 2;
/** Growth over the soak above this share of the warm RSS counts as growth (GC noise stays below). */
const GROWTH_TOLERANCE = 0.1;
const SCRAPE_INTERVAL_MS = 250;
const EXPORTERS: ExporterName[] = ['netprobe', 'node_exporter'];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Subject {
  size: number;
  name: ExporterName;
  proc: NsProcess;
  farm: VethFarm;
  rss: number[];
}

export const memoryPart: BenchPart = {
  name: 'memory',
  title: 'Part 5 — memory (RSS) under continuous scraping',
  needs: ['src/cli/main.ts', 'src/bpf/index.ts'],
  async run(ctx): Promise<PartResult> {
    const warmupSeconds = ctx.smoke ? 3 : 60;
    const soakSeconds = Math.round(ctx.soakMinutes * 60);
    const sampleEveryMs = ctx.smoke ? 1000 : 15_000;
    const subjects: Subject[] = [];
    const farms: VethFarm[] = [];
    try {
      for (const size of ctx.sizes) {
        const farm = await createVethFarm(size);
        farms.push(farm);
        subjects.push({ size, name: 'netprobe', proc: await startNetprobe(ctx, farm.ns), farm, rss: [] });
        subjects.push({ size, name: 'node_exporter', proc: await startNodeExporter(farm.ns), farm, rss: [] });
      }
      const scrape = (seconds: number): Promise<Array<{ scrapes: number; errors: number }>> =>
        Promise.all(
          subjects.map((s) =>
            probe<{ scrapes: number; errors: number }>(
              ctx,
              s.farm.ns,
              ['loop', metricsUrl(s.name), String(SCRAPE_INTERVAL_MS), String(seconds)],
              (seconds + 60) * 1000,
            ),
          ),
        );

      ctx.log(`memory: warm-up ${warmupSeconds} s, ${subjects.length} exporters`);
      await scrape(warmupSeconds);
      const warm = subjects.map((s) => rssBytes(s.proc.pid));
      ctx.log(`memory: soak ${soakSeconds} s`);
      const soak = scrape(soakSeconds);
      let soaking = true;
      const done = (): void => void (soaking = false);
      soak.then(done, done);
      while (soaking) {
        for (const s of subjects) s.rss.push(rssBytes(s.proc.pid));
        await Promise.race([sleep(sampleEveryMs), soak.catch(() => undefined)]);
      }
      const counts = await soak;
      for (const s of subjects) s.rss.push(rssBytes(s.proc.pid));
      const failed = counts.filter((c) => c.errors > 0).length;
      if (failed > 0) throw new Error(`${failed} exporters had failed scrapes during the soak`);

      const table: Table = {
        caption: `RSS after ${warmupSeconds} s of warm-up and after ${(soakSeconds / 60).toFixed(1)} min of scraping every ${SCRAPE_INTERVAL_MS} ms (gzip), sampled every ${sampleEveryMs / 1000} s; all sizes ran at the same time, each in its own namespace. Ratio = netprobe / node_exporter at the end.`,
        headers: ['interfaces', 'exporter', 'scrapes', 'RSS warm', 'RSS end', 'RSS max', 'growth', 'ratio'],
        rows: [],
      };
      const data: Record<string, unknown> = { warmupSeconds, soakSeconds, scrapeIntervalMs: SCRAPE_INTERVAL_MS };
      const notes: string[] = [];
      const verdicts: Verdict[] = [];
      subjects.forEach((s, i) => {
        const end = s.rss[s.rss.length - 1]!;
        const growth = (end - warm[i]!) / warm[i]!;
        const peer = subjects.find((o) => o.size === s.size && o.name === 'node_exporter')!;
        const ratio = end / peer.rss[peer.rss.length - 1]!;
        table.rows.push([
          fmt.count(s.size),
          s.name,
          fmt.count(counts[i]!.scrapes),
          fmt.bytes(warm[i]!),
          fmt.bytes(end),
          fmt.bytes(Math.max(...s.rss)),
          `${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}%`,
          s.name === 'netprobe' ? fmt.ratio(ratio) : '',
        ]);
        data[`${s.size}|${s.name}`] = { warm: warm[i], end, max: Math.max(...s.rss), growth, samples: s.rss, scrapes: counts[i]!.scrapes };
        if (s.name === 'netprobe' && s.size === 2000) {
          verdicts.push({
            target: `RSS at 2,000 interfaces ≤ ${MEMORY_TARGET_RATIO}× node_exporter's`,
            result: `${fmt.ratio(ratio)} (${fmt.bytes(end)} vs ${fmt.bytes(peer.rss[peer.rss.length - 1]!)})`,
            met: ratio <= MEMORY_TARGET_RATIO,
          });
          notes.push(
            ratio <= MEMORY_TARGET_RATIO
              ? `Target met at 2,000 interfaces: netprobe's RSS is ${fmt.ratio(ratio)} node_exporter's (target ≤ ${MEMORY_TARGET_RATIO}×).`
              : `Target NOT met at 2,000 interfaces: netprobe's RSS is ${fmt.ratio(ratio)} node_exporter's (target ≤ ${MEMORY_TARGET_RATIO}×).`,
          );
        }
        if (s.name === 'netprobe' && growth > GROWTH_TOLERANCE)
          notes.push(
            `netprobe at ${fmt.count(s.size)} interfaces grew ${(100 * growth).toFixed(1)}% over the soak (tolerance ${100 * GROWTH_TOLERANCE}%).`,
          );
      });
      const worstGrowth = Math.max(
        ...subjects
          .filter((s) => s.name === 'netprobe')
          .map((s) => (s.rss[s.rss.length - 1]! - warm[subjects.indexOf(s)]!) / warm[subjects.indexOf(s)]!),
      );
      verdicts.push({
        target: `no growth over ${(soakSeconds / 60).toFixed(1)} min of scraping`,
        result: `largest change ${worstGrowth >= 0 ? '+' : ''}${(100 * worstGrowth).toFixed(1)}% of warm RSS`,
        met: worstGrowth <= GROWTH_TOLERANCE,
      });
      if (!ctx.smoke && !notes.some((n) => n.includes(' grew ')))
        notes.push(`No growth: every netprobe instance ended within ${100 * GROWTH_TOLERANCE}% of its warm RSS.`);
      notes.push('netprobe is a Node.js process: V8 reserves heap in steps, so RSS moves in steps of a few MiB regardless of load.');
      return { part: 'memory', title: this.title, tables: [table], notes, verdicts, data, seconds: 0 };
    } finally {
      for (const s of subjects) await s.proc.stop();
      for (const f of farms) await f.remove();
    }
  },
};
