/**
 * Part 5: memory, as a DaemonSet runs netprobe: the CLI (as shipped, so with
 * the runtime flags it gives itself) collecting every second, scraped every
 * second both plain and with gzip, next to node_exporter (netdev collector
 * only) scraped the same way. Every size runs at once, each in its own
 * veth-farm namespace and its own memory cgroup. RSS (VmRSS, with its
 * file-backed share) is read after a warm-up and then every 15 s for the soak
 * (10 minutes in the full run; `--minutes` changes it); the peak is VmHWM at
 * the end (start-up included) and the cgroup's `memory.max_usage_in_bytes`
 * (what a container limit sees). The whole round runs ROUNDS times with fresh
 * processes; figures are medians over the rounds. Targets (issue 18): at
 * 2,000 interfaces steady RSS at most 1.25× and peak at most 1.5×
 * node_exporter's in the same run; at 10 interfaces at most 55 MiB; no growth.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { startNetprobe, startNodeExporter, NETPROBE_PORT, NODE_EXPORTER_PORT, type ExporterName } from '../lib/exporters.js';
import type { Netns } from '../../test/support/netns.js';
import type { NsProcess } from '../../test/support/ns-process.js';
import { cpuSeconds, rssBytes } from '../lib/proc-stats.js';
import { createMemoryCgroup, type MemoryCgroup } from '../lib/memory-cgroup.js';
import { fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { createVethFarm, type VethFarm } from '../../test/support/veth-farm.js';

export const MEMORY_TARGET_STEADY_RATIO = 1.25;
export const MEMORY_TARGET_PEAK_RATIO = 1.5;
export const MEMORY_TARGET_SMALL_BYTES = 55 * 1024 * 1024;
const SMALL_SIZE = 10;
const LARGE_SIZE = 2000;
/** Growth over the soak above this share of the warm RSS counts as growth (GC noise stays below). */
const GROWTH_TOLERANCE = 0.1;
export const SCRAPE_INTERVAL_MS = 1000;
export const COLLECT_INTERVAL = '1s';
const EXPORTERS: ExporterName[] = ['netprobe', 'node_exporter'];
/** Fresh processes per measurement: a peak happens once per process life, so one run is one sample. */
export const ROUNDS = 3;

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

/** One process under measurement; its figures are keyed by `key`. */
export interface MeasuredProcess {
  key: string;
  proc: NsProcess;
  /** Where it listens on 127.0.0.1:`port` (its scrapers run there). */
  ns: Netns;
  port: number;
  cgroup: MemoryCgroup | undefined;
}

/** One process's figures from one round. */
export interface RoundFigures {
  warm: number;
  end: number;
  median: number;
  max: number;
  /** VmHWM at the end of the round: the resident peak of the process's life, start-up included. */
  peak: number;
  /** memory.max_usage_in_bytes of its own cgroup; NaN without a v1 memory controller. */
  cgroupPeak: number;
  file: number;
  cpuShare: number;
  growth: number;
  samples: number[];
  scrapes: number;
  failedScrapes: number;
}

/** Warm-up and soak durations (seconds) and the RSS sampling period (ms) of a run. */
export function soakPlan(ctx: BenchContext): { warmupSeconds: number; soakSeconds: number; sampleEveryMs: number } {
  return {
    warmupSeconds: ctx.smoke ? 3 : 60,
    soakSeconds: Math.round(ctx.soakMinutes * 60),
    sampleEveryMs: ctx.smoke ? 1000 : 15_000,
  };
}

/** A `kB` field of /proc/<pid>/status, in bytes: VmRSS = RssAnon + RssFile + RssShmem; VmHWM its peak. */
function statusBytes(pid: number, field: 'RssFile' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function scrapeLoop(s: MeasuredProcess, seconds: number): Promise<{ scrapes: number; errors: number }> {
  return s.ns
    .exec(
      process.execPath,
      ['--input-type=module', '-e', SCRAPE_LOOP_SCRIPT, `http://127.0.0.1:${s.port}/metrics`, String(SCRAPE_INTERVAL_MS), String(seconds)],
      (seconds + 60) * 1000,
    )
    .then((out) => JSON.parse(out.trim().split('\n').pop() ?? '') as { scrapes: number; errors: number });
}

/**
 * Measures running processes at once: scraped every second (plain and gzip)
 * through a warm-up and a soak, RSS sampled over the soak; figures per `key`.
 */
export async function warmUpAndSoak(ctx: BenchContext, subjects: MeasuredProcess[], label: string): Promise<Map<string, RoundFigures>> {
  const { warmupSeconds, soakSeconds, sampleEveryMs } = soakPlan(ctx);
  const scrapeAll = (seconds: number): Promise<Array<{ scrapes: number; errors: number }>> =>
    Promise.all(subjects.map((s) => scrapeLoop(s, seconds)));
  const rss = subjects.map((): number[] => []);

  ctx.log(`${label}: warm-up ${warmupSeconds} s, ${subjects.length} exporter(s)`);
  await scrapeAll(warmupSeconds);
  const warm = subjects.map((s) => rssBytes(s.proc.pid));
  const cpuAtWarm = subjects.map((s) => cpuSeconds(s.proc.pid));
  const soakStarted = performance.now();
  ctx.log(`${label}: soak ${soakSeconds} s`);
  const soak = scrapeAll(soakSeconds);
  let soaking = true;
  const done = (): void => void (soaking = false);
  soak.then(done, done);
  while (soaking) {
    subjects.forEach((s, i) => rss[i]!.push(rssBytes(s.proc.pid)));
    await Promise.race([sleep(sampleEveryMs), soak.catch(() => undefined)]);
  }
  const counts = await soak;
  const soakElapsed = (performance.now() - soakStarted) / 1000;
  const figures = new Map<string, RoundFigures>();
  subjects.forEach((s, i) => {
    const samples = rss[i]!;
    samples.push(rssBytes(s.proc.pid));
    const end = samples[samples.length - 1]!;
    figures.set(s.key, {
      warm: warm[i]!,
      end,
      median: median(samples),
      max: Math.max(...samples),
      // VmHWM lags behind the kernel's per-CPU RSS counters by a few pages; a sampled RSS above it is a peak too.
      peak: Math.max(statusBytes(s.proc.pid, 'VmHWM'), ...samples),
      cgroupPeak: s.cgroup ? s.cgroup.peakBytes() : NaN,
      file: statusBytes(s.proc.pid, 'RssFile'),
      cpuShare: (cpuSeconds(s.proc.pid) - cpuAtWarm[i]!) / soakElapsed,
      growth: (end - warm[i]!) / warm[i]!,
      samples,
      scrapes: counts[i]!.scrapes,
      failedScrapes: counts[i]!.errors,
    });
  });
  return figures;
}

/** One round: fresh exporters for every size (in their own cgroups), warm-up, soak; figures per `size|name`. */
async function runRound(
  ctx: BenchContext,
  farms: VethFarm[],
  round: number,
): Promise<{ figures: Map<string, RoundFigures>; netprobeCommand: string[] }> {
  const subjects: MeasuredProcess[] = [];
  try {
    for (const farm of farms) {
      const size = farm.names.length;
      for (const name of EXPORTERS) {
        // Made before the process starts; the process moves in as soon as it has a PID.
        const cgroup = createMemoryCgroup(`${name}-${size}-r${round}`);
        const adopt = (pid: number): void => cgroup?.adopt(pid);
        const proc =
          name === 'netprobe'
            ? await startNetprobe(ctx, farm.ns, [`--collector.interval=${COLLECT_INTERVAL}`], adopt)
            : await startNodeExporter(farm.ns, adopt);
        const port = name === 'netprobe' ? NETPROBE_PORT : NODE_EXPORTER_PORT;
        subjects.push({ key: `${size}|${name}`, proc, ns: farm.ns, port, cgroup });
      }
    }
    const netprobeCommand = readFileSync(`/proc/${subjects[0]!.proc.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const figures = await warmUpAndSoak(ctx, subjects, `memory: round ${round + 1}`);
    return { figures, netprobeCommand };
  } finally {
    for (const s of subjects) {
      await s.proc.stop();
      await s.cgroup?.remove();
    }
  }
}

/** Median over rounds of one figure. */
export function across(rounds: RoundFigures[], pick: (r: RoundFigures) => number): number {
  return median(rounds.map(pick));
}

/** The columns `figureRow` fills, after a part's own leading ones. */
export const FIGURE_HEADERS = [
  'scrapes',
  'RSS warm',
  'steady',
  'RSS max',
  'peak',
  'cgroup peak',
  'files',
  'anon',
  'growth',
  'steady ratio',
  'peak ratio',
  'cgroup ratio',
  'CPU',
];

/** One process's figures over the rounds (medians; failed scrapes summed), as stored in results.json. */
export type FigureSummary = Omit<RoundFigures, 'samples'> & {
  /** RSS at the end less its file-backed part. */
  anon: number;
  rounds: RoundFigures[];
};

/**
 * The FIGURE_HEADERS cells and the stored summary of one process's rounds;
 * the ratio cells compare it with `peer`'s rounds (left empty without one).
 */
export function figureRow(rs: RoundFigures[], peer?: RoundFigures[]): { cells: string[]; summary: FigureSummary; ratios: Ratios } {
  const fig = (pick: (r: RoundFigures) => number): number => across(rs, pick);
  const summary: FigureSummary = {
    warm: fig((r) => r.warm),
    end: fig((r) => r.end),
    median: fig((r) => r.median),
    max: fig((r) => r.max),
    peak: fig((r) => r.peak),
    cgroupPeak: fig((r) => r.cgroupPeak),
    file: fig((r) => r.file),
    anon: fig((r) => r.end - r.file),
    cpuShare: fig((r) => r.cpuShare),
    growth: fig((r) => r.growth),
    scrapes: fig((r) => r.scrapes),
    failedScrapes: rs.reduce((n, r) => n + r.failedScrapes, 0),
    rounds: rs,
  };
  const ratios: Ratios = {
    steady: peer ? summary.median / across(peer, (r) => r.median) : NaN,
    peak: peer ? summary.peak / across(peer, (r) => r.peak) : NaN,
    cgroup: peer ? summary.cgroupPeak / across(peer, (r) => r.cgroupPeak) : NaN,
  };
  const ratioCell = (x: number): string => (Number.isNaN(x) ? '' : fmt.ratio(x));
  const { scrapes, failedScrapes: failed, growth, cgroupPeak } = summary;
  const cells = [
    failed > 0 ? `${fmt.count(scrapes)} (${fmt.count(failed)} failed)` : fmt.count(scrapes),
    fmt.bytes(summary.warm),
    fmt.bytes(summary.median),
    fmt.bytes(summary.max),
    fmt.bytes(summary.peak),
    Number.isNaN(cgroupPeak) ? '–' : fmt.bytes(cgroupPeak),
    fmt.bytes(summary.file),
    fmt.bytes(summary.anon),
    `${growth >= 0 ? '+' : ''}${(100 * growth).toFixed(1)}%`,
    ratioCell(ratios.steady),
    ratioCell(ratios.peak),
    ratioCell(ratios.cgroup),
    `${(100 * summary.cpuShare).toFixed(1)}%`,
  ];
  return { cells, summary, ratios };
}

/** Figures of one process over another's: steady, peak (VmHWM), cgroup peak; NaN without a peer. */
export interface Ratios {
  steady: number;
  peak: number;
  cgroup: number;
}

export const memoryPart: BenchPart = {
  name: 'memory',
  title: 'Part 5 — memory (RSS, peak, memory cgroup) under continuous scraping',
  needs: ['src/cli/main.ts', 'src/bpf/index.ts'],
  async run(ctx): Promise<PartResult> {
    const { warmupSeconds, soakSeconds, sampleEveryMs } = soakPlan(ctx);
    const loadBefore = loadavg()[0]!;
    const rounds = ctx.smoke ? 1 : ROUNDS;
    const farms: VethFarm[] = [];
    try {
      for (const size of ctx.sizes) farms.push(await createVethFarm(size));
      const results: Array<Map<string, RoundFigures>> = [];
      let netprobeCommand: string[] = [];
      for (let r = 0; r < rounds; r++) {
        const round = await runRound(ctx, farms, r);
        results.push(round.figures);
        netprobeCommand = round.netprobeCommand;
      }
      const of = (size: number, name: ExporterName): RoundFigures[] => results.map((m) => m.get(`${size}|${name}`)!);

      const table: Table = {
        caption:
          `netprobe as the CLI runs it (collection every ${COLLECT_INTERVAL}) and node_exporter (netdev collector only, its defaults), each scraped every ${SCRAPE_INTERVAL_MS / 1000} s ` +
          `plain and gzip; RSS after ${warmupSeconds} s of warm-up, then sampled every ${sampleEveryMs / 1000} s for ${(soakSeconds / 60).toFixed(1)} min. ` +
          `Each process in a memory cgroup of its own. ${rounds} round(s) with fresh processes; every figure is the median over the rounds. All sizes ran at the same time, each in its own namespace. ` +
          '"steady" is the median of the soak samples; "peak" is VmHWM at the end (the resident peak of the whole life, start-up included); "cgroup peak" is the cgroup\'s memory.max_usage_in_bytes, what a container memory limit sees (anonymous and kernel memory such as BPF maps, plus page cache the process brought in itself). ' +
          'Ratios = netprobe / node_exporter; "files" is the file-backed part of RSS at the end (binary, libraries), "anon" the rest; CPU is the share of one core over the soak.',
        headers: ['interfaces', 'exporter', ...FIGURE_HEADERS],
        rows: [],
      };
      const data: Record<string, unknown> = {
        warmupSeconds,
        soakSeconds,
        rounds,
        scrapeIntervalMs: SCRAPE_INTERVAL_MS,
        collectInterval: COLLECT_INTERVAL,
        netprobeCommand,
      };
      const notes: string[] = [];
      const verdicts: Verdict[] = [];
      let worstGrowth = -Infinity;
      for (const size of ctx.sizes) {
        const peer = of(size, 'node_exporter');
        for (const name of EXPORTERS) {
          const rs = of(size, name);
          const row = figureRow(rs, name === 'netprobe' ? peer : undefined);
          const { median: steady, peak, cgroupPeak, growth, failedScrapes: failed } = row.summary;
          const { steady: steadyRatio, peak: peakRatio, cgroup: cgroupRatio } = row.ratios;
          const fig = (pick: (r: RoundFigures) => number): number => across(rs, pick);
          table.rows.push([fmt.count(size), name, ...row.cells]);
          data[`${size}|${name}`] = row.summary;
          if (failed > 0)
            notes.push(
              `${name} at ${fmt.count(size)} interfaces: ${fmt.count(failed)} scrape(s) failed (10 s timeout): the machine was overloaded.`,
            );
          if (name !== 'netprobe') continue;
          worstGrowth = Math.max(worstGrowth, ...rs.map((r) => r.growth));
          const peerSteady = across(peer, (r) => r.median);
          const peerPeak = across(peer, (r) => r.peak);
          if (size === LARGE_SIZE) {
            verdicts.push({
              target: `steady RSS at 2,000 interfaces ≤ ${MEMORY_TARGET_STEADY_RATIO}× node_exporter's`,
              result: `${fmt.ratio(steadyRatio)} (${fmt.bytes(steady)} vs ${fmt.bytes(peerSteady)})`,
              met: steadyRatio <= MEMORY_TARGET_STEADY_RATIO,
            });
            verdicts.push({
              target: `peak RSS (VmHWM) at 2,000 interfaces ≤ ${MEMORY_TARGET_PEAK_RATIO}× node_exporter's`,
              result:
                `${fmt.ratio(peakRatio)} (${fmt.bytes(peak)} vs ${fmt.bytes(peerPeak)})` +
                (Number.isNaN(cgroupPeak)
                  ? ''
                  : `; memory cgroup peak ${fmt.bytes(cgroupPeak)} vs ${fmt.bytes(across(peer, (r) => r.cgroupPeak))} (${fmt.ratio(cgroupRatio)})`),
              met: peakRatio <= MEMORY_TARGET_PEAK_RATIO,
            });
          }
          if (size === SMALL_SIZE)
            verdicts.push({
              target: `RSS at 10 interfaces ≤ ${fmt.bytes(MEMORY_TARGET_SMALL_BYTES)}`,
              result: `${fmt.bytes(fig((r) => r.max))} at most (median ${fmt.bytes(steady)}; node_exporter ${fmt.bytes(peerSteady)})`,
              met: fig((r) => r.max) <= MEMORY_TARGET_SMALL_BYTES,
            });
          if (growth > GROWTH_TOLERANCE)
            notes.push(
              `netprobe at ${fmt.count(size)} interfaces grew ${(100 * growth).toFixed(1)}% over the soak (tolerance ${100 * GROWTH_TOLERANCE}%).`,
            );
        }
      }
      verdicts.push({
        target: `no growth over ${(soakSeconds / 60).toFixed(1)} min of scraping`,
        result: `largest change ${worstGrowth >= 0 ? '+' : ''}${(100 * worstGrowth).toFixed(1)}% of warm RSS`,
        met: worstGrowth <= GROWTH_TOLERANCE,
      });
      notes.push(
        `netprobe ran as \`${netprobeCommand.slice(0, 3).join(' ')} …\`: the CLI restarts node with its runtime flags itself (src/cli/runtime-flags.ts).`,
      );
      if (!ctx.smoke && !notes.some((n) => n.includes(' grew ')))
        notes.push(`No growth: every netprobe instance ended within ${100 * GROWTH_TOLERANCE}% of its warm RSS.`);
      notes.push(
        `Load average (1 min) on the machine's ${cpus().length} cores: ${loadBefore.toFixed(1)} when the part started, ${loadavg()[0]!.toFixed(1)} at the end (the bench's own earlier parts and anything else running count in it).`,
      );
      return { part: 'memory', title: this.title, tables: [table], notes, verdicts, data, seconds: 0 };
    } finally {
      for (const f of farms) await f.remove();
    }
  },
};
