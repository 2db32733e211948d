/**
 * Part 5: memory, as a DaemonSet runs netprobe: the CLI (as shipped, so with
 * the runtime flags it gives itself) collecting every second, scraped every
 * second both plain and with gzip, next to node_exporter (netdev collector
 * only) scraped the same way. Every size runs at once, each in its own
 * veth-farm namespace. RSS (VmRSS, with its file-backed share) is read after
 * a warm-up and then every 15 s for the soak (10 minutes in the full run;
 * `--minutes` changes it). Targets (issue 11): at 2,000 interfaces at most
 * 1.5× node_exporter's RSS in the same run; at 10 interfaces at most 55 MiB;
 * no growth.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { BenchPart } from '../lib/context.js';
import { startNetprobe, startNodeExporter, NETPROBE_PORT, NODE_EXPORTER_PORT, type ExporterName } from '../lib/exporters.js';
import type { NsProcess } from '../../test/support/ns-process.js';
import { cpuSeconds, rssBytes } from '../lib/proc-stats.js';
import { fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { createVethFarm, type VethFarm } from '../../test/support/veth-farm.js';

export const MEMORY_TARGET_RATIO = 1.5;
export const MEMORY_TARGET_SMALL_BYTES = 55 * 1024 * 1024;
const SMALL_SIZE = 10;
const LARGE_SIZE = 2000;
/** Growth over the soak above this share of the warm RSS counts as growth (GC noise stays below). */
const GROWTH_TOLERANCE = 0.1;
const SCRAPE_INTERVAL_MS = 1000;
const COLLECT_INTERVAL = '1s';
const EXPORTERS: ExporterName[] = ['netprobe', 'node_exporter'];

/**
 * Runs inside a namespace with plain node (no loader: ~40 MiB less beside the
 * subjects): every INTERVAL ms, one plain and one gzip GET of URL (keep-alive,
 * like Prometheus), for SECONDS s; prints {scrapes, errors}.
 */
const SCRAPE_LOOP_SCRIPT = `
import http from 'node:http';
const [url, intervalMs, seconds] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
const get = (gzip) => new Promise((resolve) => {
  const req = http.get(url, { agent, timeout: 10000, headers: gzip ? { 'Accept-Encoding': 'gzip' } : {} }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode === 200));
    res.on('error', () => resolve(false));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve(false));
});
const end = Date.now() + seconds * 1000;
let scrapes = 0, errors = 0;
while (Date.now() < end) {
  const started = Date.now();
  for (const ok of await Promise.all([get(false), get(true)])) ok ? scrapes++ : errors++;
  await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - started))));
}
console.log(JSON.stringify({ scrapes, errors }));
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Subject {
  size: number;
  name: ExporterName;
  proc: NsProcess;
  farm: VethFarm;
  rss: number[];
}

/** Resident bytes backed by files (the node binary, libraries): VmRSS = RssAnon + RssFile + RssShmem. */
function rssFileBytes(pid: number): number {
  const m = /^RssFile:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function scrapeLoop(s: Subject, seconds: number): Promise<{ scrapes: number; errors: number }> {
  const port = s.name === 'netprobe' ? NETPROBE_PORT : NODE_EXPORTER_PORT;
  return s.farm.ns
    .exec(
      process.execPath,
      ['--input-type=module', '-e', SCRAPE_LOOP_SCRIPT, `http://127.0.0.1:${port}/metrics`, String(SCRAPE_INTERVAL_MS), String(seconds)],
      (seconds + 60) * 1000,
    )
    .then((out) => JSON.parse(out.trim().split('\n').pop() ?? '') as { scrapes: number; errors: number });
}

export const memoryPart: BenchPart = {
  name: 'memory',
  title: 'Part 5 — memory (RSS) under continuous scraping',
  needs: ['src/cli/main.ts', 'src/bpf/index.ts'],
  async run(ctx): Promise<PartResult> {
    const warmupSeconds = ctx.smoke ? 3 : 60;
    const loadBefore = loadavg()[0]!;
    const soakSeconds = Math.round(ctx.soakMinutes * 60);
    const sampleEveryMs = ctx.smoke ? 1000 : 15_000;
    const subjects: Subject[] = [];
    const farms: VethFarm[] = [];
    try {
      for (const size of ctx.sizes) {
        const farm = await createVethFarm(size);
        farms.push(farm);
        for (const name of EXPORTERS) {
          const proc =
            name === 'netprobe'
              ? await startNetprobe(ctx, farm.ns, [`--collector.interval=${COLLECT_INTERVAL}`])
              : await startNodeExporter(farm.ns);
          subjects.push({ size, name, proc, farm, rss: [] });
        }
      }
      const netprobeCommand = readFileSync(`/proc/${subjects[0]!.proc.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const scrapeAll = (seconds: number): Promise<Array<{ scrapes: number; errors: number }>> =>
        Promise.all(subjects.map((s) => scrapeLoop(s, seconds)));

      ctx.log(`memory: warm-up ${warmupSeconds} s, ${subjects.length} exporters`);
      await scrapeAll(warmupSeconds);
      const warm = subjects.map((s) => rssBytes(s.proc.pid));
      const cpuAtWarm = subjects.map((s) => cpuSeconds(s.proc.pid));
      const soakStarted = performance.now();
      ctx.log(`memory: soak ${soakSeconds} s`);
      const soak = scrapeAll(soakSeconds);
      let soaking = true;
      const done = (): void => void (soaking = false);
      soak.then(done, done);
      while (soaking) {
        for (const s of subjects) s.rss.push(rssBytes(s.proc.pid));
        await Promise.race([sleep(sampleEveryMs), soak.catch(() => undefined)]);
      }
      const counts = await soak;
      for (const s of subjects) s.rss.push(rssBytes(s.proc.pid));
      const fileShare = subjects.map((s) => rssFileBytes(s.proc.pid));
      const soakElapsed = (performance.now() - soakStarted) / 1000;
      const cpuShare = subjects.map((s, i) => (cpuSeconds(s.proc.pid) - cpuAtWarm[i]!) / soakElapsed);
      // Failed scrapes (a 10 s timeout under load) are reported, not fatal: the RSS is still measured.
      const failed = counts.filter((c) => c.errors > 0);

      const table: Table = {
        caption:
          `netprobe as the CLI runs it (collection every ${COLLECT_INTERVAL}) and node_exporter (netdev collector only), each scraped every ${SCRAPE_INTERVAL_MS / 1000} s ` +
          `plain and gzip; RSS after ${warmupSeconds} s of warm-up, then sampled every ${sampleEveryMs / 1000} s for ${(soakSeconds / 60).toFixed(1)} min. ` +
          'All sizes ran at the same time, each in its own namespace. Ratio = netprobe / node_exporter, on the soak medians; "files" is the file-backed part of RSS at the end (binary, libraries); CPU is the share of one core over the soak (collection and scrapes).',
        headers: ['interfaces', 'exporter', 'scrapes', 'RSS warm', 'RSS median', 'RSS max', 'files', 'growth', 'ratio', 'CPU'],
        rows: [],
      };
      const data: Record<string, unknown> = {
        warmupSeconds,
        soakSeconds,
        scrapeIntervalMs: SCRAPE_INTERVAL_MS,
        collectInterval: COLLECT_INTERVAL,
        netprobeCommand,
      };
      const notes: string[] = [];
      const verdicts: Verdict[] = [];
      subjects.forEach((s, i) => {
        const end = s.rss[s.rss.length - 1]!;
        const mid = median(s.rss);
        const max = Math.max(...s.rss);
        const growth = (end - warm[i]!) / warm[i]!;
        const peer = subjects.find((o) => o.size === s.size && o.name === 'node_exporter')!;
        const ratio = mid / median(peer.rss);
        table.rows.push([
          fmt.count(s.size),
          s.name,
          counts[i]!.errors > 0
            ? `${fmt.count(counts[i]!.scrapes)} (${fmt.count(counts[i]!.errors)} failed)`
            : fmt.count(counts[i]!.scrapes),
          fmt.bytes(warm[i]!),
          fmt.bytes(mid),
          fmt.bytes(max),
          fmt.bytes(fileShare[i]!),
          `${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}%`,
          s.name === 'netprobe' ? fmt.ratio(ratio) : '',
          `${(100 * cpuShare[i]!).toFixed(1)}%`,
        ]);
        data[`${s.size}|${s.name}`] = {
          warm: warm[i],
          end,
          median: mid,
          max,
          file: fileShare[i],
          cpuShare: cpuShare[i],
          growth,
          samples: s.rss,
          scrapes: counts[i]!.scrapes,
          failedScrapes: counts[i]!.errors,
        };
        if (s.name !== 'netprobe') return;
        if (s.size === LARGE_SIZE)
          verdicts.push({
            target: `RSS at 2,000 interfaces ≤ ${MEMORY_TARGET_RATIO}× node_exporter's`,
            result: `${fmt.ratio(ratio)} (${fmt.bytes(mid)} vs ${fmt.bytes(median(peer.rss))}; max ${fmt.bytes(max)})`,
            met: ratio <= MEMORY_TARGET_RATIO,
          });
        if (s.size === SMALL_SIZE)
          verdicts.push({
            target: `RSS at 10 interfaces ≤ ${fmt.bytes(MEMORY_TARGET_SMALL_BYTES)}`,
            result: `${fmt.bytes(max)} at most (median ${fmt.bytes(mid)}; node_exporter ${fmt.bytes(median(peer.rss))})`,
            met: max <= MEMORY_TARGET_SMALL_BYTES,
          });
        if (growth > GROWTH_TOLERANCE)
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
      if (failed.length > 0)
        notes.push(`${failed.length} exporter(s) had scrapes that failed (10 s timeout) during the soak: the machine was overloaded.`);
      notes.push(
        `netprobe ran as \`${netprobeCommand.slice(0, 3).join(' ')} …\`: the CLI restarts node with its runtime flags itself (src/cli/runtime-flags.ts).`,
      );
      if (!ctx.smoke && !notes.some((n) => n.includes(' grew ')))
        notes.push(`No growth: every netprobe instance ended within ${100 * GROWTH_TOLERANCE}% of its warm RSS.`);
      notes.push(
        `Load average (1 min) on the machine's ${cpus().length} cores: ${loadBefore.toFixed(1)} when the part started, ${loadavg()[0]!.toFixed(1)} at the end (the bench's own earlier parts count in it).`,
      );
      return { part: 'memory', title: this.title, tables: [table], notes, verdicts, data, seconds: 0 };
    } finally {
      for (const s of subjects) await s.proc.stop();
      for (const f of farms) await f.remove();
    }
  },
};
