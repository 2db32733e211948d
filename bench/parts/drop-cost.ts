/**
 * Part 1c: the drop meter's cost (issue 17), in one run on this machine.
 *  1. A drop storm with and without the meter, short rounds interleaved (the
 *     order alternating): a sender pinned to one CPU (bench/agents/drop-storm.c)
 *     sends UDP datagrams over a veth pair to a closed port in a second
 *     namespace, where each is dropped as no_socket. The receiving side runs in
 *     the sender thread's softirq on that CPU, so the storm's cost is the
 *     sender's CPU time (plus that CPU's ksoftirqd, plus its softirq time where
 *     the kernel accounts it apart). Measure: CPU time per drop, as drops per
 *     CPU-second, compared as the median of per-round ratios; the wall rate is
 *     kept beside it. Every round is checked: the receiver's UdpNoPorts (nstat)
 *     grew by the datagrams sent and, with the meter, its no_socket count in that
 *     namespace equals them. Target: ≤ 5% fewer drops per CPU-second with it.
 *  2. Run time per run of the meter's program against an empty tp_btf/kfree_skb
 *     program (bench/bpf/drop-floor.bpf.c), both attached during the same storms
 *     (bpf_stats_enabled held only for this step).
 *  3. How often the program runs with no traffic of the bench's own, and under
 *     TCP traffic over a veth pair (iperf3).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { BpfObject } from '../../src/bpf/bpf-object.js';
import { openDropMeter, type DropMeter } from '../../src/bpf/drop-meter/drop-meter.js';
import { programRunStats } from '../../src/bpf/prog-info.js';
import { NOISY_REASON } from '../../src/exporter/drop-view.js';
import { libbpf } from '../../src/sys/libbpf.js';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import { twoHosts, type Netns } from '../../test/support/netns.js';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { cell, fmt, type PartResult, type Table } from '../lib/report.js';
import { pairedRatios, summarize } from '../lib/stats.js';
import { iperf, startServer } from './throughput.js';

const run = promisify(execFile);
/** Drops per CPU-second with the meter at least this fraction of those without (issue 17: ≤ 5% lower). */
export const DROP_COST_TARGET = 0.95;
const BPF_STATS_RUN_TIME = 0;
/** Nothing listens there in the receiving namespace. */
const CLOSED_PORT = 9;

interface StormRound {
  sent: number;
  /** Sender thread CPU + ksoftirqd of its CPU (+ that CPU's softirq time where accounted apart), ns. */
  cpuNs: number;
  senderCpuNs: number;
  ksoftirqdNs: number;
  softirqNs: number;
  wallNs: number;
  /** The receiver's UdpNoPorts grew by this much. */
  noPorts: number;
  /** The meter's no_socket drops in the receiver's namespace (with the meter only). */
  metered?: number;
}

interface Storm {
  sender: Netns;
  receiver: Netns;
  addr: string;
  binary: string;
  cpu: number;
  ksoftirqd: number;
  /** The kernel charges softirq time to the interrupted task (no CONFIG_IRQ_TIME_ACCOUNTING). */
  softirqInTask: boolean;
}

/** CONFIG_IRQ_TIME_ACCOUNTING of the running kernel (/proc/config.gz or /boot/config-*); undefined when neither is readable. */
function irqTimeAccounting(): boolean | undefined {
  let text: string | undefined;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString();
  } catch {
    const boot = `/boot/config-${release()}`;
    if (existsSync(boot)) text = readFileSync(boot, 'utf8');
  }
  return text === undefined ? undefined : /^CONFIG_IRQ_TIME_ACCOUNTING=y$/m.test(text);
}

const release = (): string => readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();

function ksoftirqdOf(cpu: number): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const comm = (() => {
      try {
        return readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    })();
    if (comm === `ksoftirqd/${cpu}`) return Number(d);
  }
  throw new Error(`no ksoftirqd/${cpu}`);
}

/** On-CPU time of a task (ns), from /proc/PID/schedstat. */
const onCpuNs = (pid: number): number => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);

/** Softirq time of one CPU (ns) from /proc/stat, in USER_HZ ticks (coarse: only used where the kernel keeps it apart). */
function softirqNs(cpu: number, tickNs: number): number {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${cpu} `));
  return Number(line?.trim().split(/\s+/)[7] ?? NaN) * tickNs;
}

async function udpNoPorts(ns: Netns): Promise<number> {
  const { stdout } = await run('nsenter', [`--net=/run/netns/${ns.name}`, 'nstat', '-asz', 'UdpNoPorts'], { timeout: 30_000 });
  const m = /^UdpNoPorts\s+(\d+)/m.exec(stdout);
  if (!m) throw new Error(`nstat printed no UdpNoPorts:\n${stdout}`);
  return Number(m[1]);
}

/** The meter's no_socket drops in a namespace. */
function meteredNoSocket(meter: DropMeter, ns: Netns): number {
  const inode = statSync(`/run/netns/${ns.name}`).ino;
  return meter
    .readDropCounters()
    .filter((r) => r.netnsInode === inode && r.reason === 'no_socket')
    .reduce((sum, r) => sum + Number(r.packets), 0);
}

/** Every reason's drops counted so far, summed over namespaces, devices and CPUs. */
function dropsByReason(meter: DropMeter): Map<string, number> {
  const sums = new Map<string, number>();
  for (const r of meter.readDropCounters()) sums.set(r.reason, (sums.get(r.reason) ?? 0) + Number(r.packets));
  return sums;
}

/** Drops per second by reason between two readings (reasons that did not move are left out). */
function reasonRates(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): Array<{ reason: string; perSecond: number }> {
  return [...after]
    .map(([reason, n]) => ({ reason, perSecond: (n - (before.get(reason) ?? 0)) / seconds }))
    .filter((r) => r.perSecond > 0)
    .sort((a, b) => b.perSecond - a.perSecond || a.reason.localeCompare(b.reason));
}

/** One storm of `count` datagrams; throws unless every one was dropped as UdpNoPorts (and, with `meter`, metered). */
async function storm(s: Storm, count: number, tickNs: number, meter?: DropMeter): Promise<StormRound> {
  const np0 = await udpNoPorts(s.receiver);
  const m0 = meter ? meteredNoSocket(meter, s.receiver) : 0;
  const k0 = onCpuNs(s.ksoftirqd);
  const si0 = softirqNs(s.cpu, tickNs);
  const { stdout } = await run(
    'nsenter',
    [`--net=/run/netns/${s.sender.name}`, 'taskset', '-c', String(s.cpu), s.binary, s.addr, String(CLOSED_PORT), String(count)],
    { timeout: 600_000 },
  );
  const ksoftirqdNs = onCpuNs(s.ksoftirqd) - k0;
  const softirq = s.softirqInTask ? 0 : softirqNs(s.cpu, tickNs) - si0;
  const out = JSON.parse(stdout) as { sent: number; cpuNs: number; wallNs: number };
  const noPorts = (await udpNoPorts(s.receiver)) - np0;
  if (out.sent !== count || noPorts !== count)
    throw new Error(`storm: sent ${out.sent} of ${count} datagrams, the receiver's UdpNoPorts grew by ${noPorts}`);
  return {
    sent: out.sent,
    cpuNs: out.cpuNs + ksoftirqdNs + softirq,
    senderCpuNs: out.cpuNs,
    ksoftirqdNs,
    softirqNs: softirq,
    wallNs: out.wallNs,
    noPorts,
    ...(meter ? { metered: meteredNoSocket(meter, s.receiver) - m0 } : {}),
  };
}

/** Opens the meter; the returned function closes it (also registered for Ctrl-C). */
async function withMeter(): Promise<{ meter: DropMeter; close: () => Promise<void> }> {
  const meter = await openDropMeter();
  return { meter, close: onCleanup('drop meter', () => meter.close()) };
}

const perSecond = (count: number, ns: number): number => (count * 1e9) / ns;

export const dropCostPart: BenchPart = {
  name: 'drop-cost',
  title: "Part 1c — the drop meter's cost (tp_btf/kfree_skb): a drop storm's CPU per drop, run time per run",
  needs: ['bpf/drop-meter.bpf.o', 'bench/bpf/drop-floor.bpf.c', 'bench/agents/drop-storm.c'],
  async run(ctx: BenchContext): Promise<PartResult> {
    const plan = {
      rounds: ctx.smoke ? 2 : 41,
      datagrams: ctx.smoke ? 2_000 : 100_000,
      runTimeStorms: ctx.smoke ? 1 : 7,
      idleSeconds: ctx.smoke ? 1 : 30,
      iperfSeconds: ctx.smoke ? 1 : 10,
    };
    const binary = join(ctx.outDir, 'drop-storm');
    await run('clang', ['-O2', '-Wall', '-Werror', '-o', binary, join(ctx.repoRoot, 'bench', 'agents', 'drop-storm.c')], {
      timeout: 60_000,
    });
    const floorObject = join(ctx.outDir, 'drop-floor.bpf.o');
    await run('bash', [join(ctx.repoRoot, 'bpf', 'build.sh'), floorObject, join(ctx.repoRoot, 'bench', 'bpf', 'drop-floor.bpf.c')], {
      timeout: 60_000,
    });
    const irqTime = irqTimeAccounting();
    const tickNs = 1e9 / Number((await run('getconf', ['CLK_TCK'])).stdout.trim());
    const hosts = await twoHosts('npdc');
    const removeHosts = onCleanup('drop-cost namespaces', hosts.cleanup);
    const cpu = cpus().length - 1;
    const s: Storm = {
      sender: hosts.left,
      receiver: hosts.right,
      addr: hosts.link.addrB,
      binary,
      cpu,
      ksoftirqd: ksoftirqdOf(cpu),
      softirqInTask: irqTime === false,
    };
    const statsAtStorm = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
    try {
      // 1. The storm without and with the meter, the order alternating so a drift hits both alike.
      await storm(s, plan.datagrams, tickNs); // warm-up: ARP, caches
      const without: StormRound[] = [];
      const withIt: StormRound[] = [];
      for (let r = 0; r < plan.rounds; r++) {
        for (const attached of r % 2 === 0 ? [false, true] : [true, false]) {
          if (!attached) {
            without.push(await storm(s, plan.datagrams, tickNs));
            continue;
          }
          const m = await withMeter();
          try {
            withIt.push(await storm(s, plan.datagrams, tickNs, m.meter));
          } finally {
            await m.close();
          }
        }
      }

      // 2. Run time per run: meter and empty program on the same hook, the same storms.
      const statsFd = libbpf().enableStats(BPF_STATS_RUN_TIME);
      if (statsFd < 0) throw new Error(`bpf_enable_stats: errno ${-statsFd}`);
      const closeStats = onCleanup('bpf stats', () => void libbpf().close(statsFd));
      const floor = BpfObject.open(floorObject);
      const closeFloor = onCleanup('drop floor program', () => floor.close());
      floor.load();
      const floorFd = floor.programFd('drop_floor');
      const floorLink = libbpf().rawTracepointOpen(null, floorFd);
      if (floorLink < 0) throw new Error(`attach the empty tp_btf/kfree_skb program: errno ${-floorLink}`);
      const detachFloor = onCleanup('drop floor link', () => void libbpf().close(floorLink));
      const m = await withMeter();
      const meterFd = libbpf().progGetFdById(m.meter.programId);
      const closeMeterFd = onCleanup('drop meter fd', () => void libbpf().close(meterFd));
      const perRun: Array<{ meter: number; floor: number; meterRuns: number; floorRuns: number }> = [];
      let idleRuns = NaN;
      let idleByReason: Array<{ reason: string; perSecond: number }> = [];
      let busyRuns = NaN;
      let iperfBits = NaN;
      try {
        for (let i = 0; i < plan.runTimeStorms; i++) {
          const m0 = programRunStats(meterFd);
          const f0 = programRunStats(floorFd);
          await storm(s, plan.datagrams, tickNs, m.meter);
          const m1 = programRunStats(meterFd);
          const f1 = programRunStats(floorFd);
          const meterRuns = Number(m1.runCount - m0.runCount);
          const floorRuns = Number(f1.runCount - f0.runCount);
          perRun.push({
            meter: Number(m1.runTimeNs - m0.runTimeNs) / meterRuns,
            floor: Number(f1.runTimeNs - f0.runTimeNs) / floorRuns,
            meterRuns,
            floorRuns,
          });
        }
        await closeMeterFd();
        await detachFloor();
        await closeFloor();
        await closeStats();

        // 3. Runs per second with no traffic of ours, then under TCP traffic (runCount needs the stats: taken again).
        const fd = libbpf().progGetFdById(m.meter.programId);
        const closeFd = onCleanup('drop meter fd', () => void libbpf().close(fd));
        const stats2 = libbpf().enableStats(BPF_STATS_RUN_TIME);
        if (stats2 < 0) throw new Error(`bpf_enable_stats: errno ${-stats2}`);
        const closeStats2 = onCleanup('bpf stats', () => void libbpf().close(stats2));
        try {
          const idle0 = programRunStats(fd).runCount;
          const reasons0 = dropsByReason(m.meter);
          const t0 = performance.now();
          await new Promise((r) => setTimeout(r, plan.idleSeconds * 1000));
          const idleSeconds = (performance.now() - t0) / 1000;
          idleRuns = Number(programRunStats(fd).runCount - idle0) / idleSeconds;
          idleByReason = reasonRates(reasons0, dropsByReason(m.meter), idleSeconds);
          const server = await startServer(hosts.right, undefined, hosts.link.addrB);
          try {
            const busy0 = programRunStats(fd).runCount;
            const t1 = performance.now();
            iperfBits = (await iperf(hosts.left, hosts.link.addrB, 'tcp', plan.iperfSeconds, undefined)).bitsPerSecond;
            busyRuns = Number(programRunStats(fd).runCount - busy0) / ((performance.now() - t1) / 1000);
          } finally {
            await server.stop();
          }
        } finally {
          await closeStats2();
          await closeFd();
        }
      } finally {
        await m.close();
      }
      return report(ctx, plan, {
        without,
        withIt,
        perRun,
        idleRuns,
        idleByReason,
        busyRuns,
        iperfBits,
        cpu,
        irqTime,
        statsAtStorm,
        kernel: release(),
      });
    } finally {
      await removeHosts();
    }
  },
};

function report(
  ctx: BenchContext,
  plan: { rounds: number; datagrams: number; runTimeStorms: number; idleSeconds: number; iperfSeconds: number },
  r: {
    without: StormRound[];
    withIt: StormRound[];
    perRun: Array<{ meter: number; floor: number; meterRuns: number; floorRuns: number }>;
    idleRuns: number;
    idleByReason: Array<{ reason: string; perSecond: number }>;
    busyRuns: number;
    iperfBits: number;
    cpu: number;
    irqTime: boolean | undefined;
    statsAtStorm: string;
    kernel: string;
  },
): PartResult {
  const cpuRate = (x: StormRound): number => perSecond(x.sent, x.cpuNs);
  const wallRate = (x: StormRound): number => perSecond(x.sent, x.wallNs);
  const cpuWithout = summarize(r.without.map(cpuRate));
  const cpuWith = summarize(r.withIt.map(cpuRate));
  const cpuRatio = pairedRatios(r.withIt.map(cpuRate), r.without.map(cpuRate));
  const wallWithout = summarize(r.without.map(wallRate));
  const wallWith = summarize(r.withIt.map(wallRate));
  const wallRatio = pairedRatios(r.withIt.map(wallRate), r.without.map(wallRate));
  const nsPerDrop = (x: StormRound): number => x.cpuNs / x.sent;
  const extraNs = summarize(r.withIt.map((x, i) => nsPerDrop(x) - nsPerDrop(r.without[i]!)));
  const meterRun = summarize(r.perRun.map((p) => p.meter));
  const floorRun = summarize(r.perRun.map((p) => p.floor));
  const runRatio = pairedRatios(
    r.perRun.map((p) => p.meter),
    r.perRun.map((p) => p.floor),
  );
  const counted = r.withIt.every((x) => x.metered === x.sent && x.noPorts === x.sent) && r.without.every((x) => x.noPorts === x.sent);
  // Not equal to each other: other CPUs' kfree_skb fall between the two programs' stats reads.
  const runsMatch = r.perRun.every((p) => p.meterRuns >= plan.datagrams && p.floorRuns >= plan.datagrams);
  const met = cpuRatio.median >= DROP_COST_TARGET;
  const lower = (ratio: number): string => {
    const pct = (1 - ratio) * 100;
    return `${Math.abs(pct).toFixed(1)}% ${pct >= 0 ? 'fewer' : 'more'}`;
  };
  const ksoftirqdShare =
    r.without.concat(r.withIt).reduce((a, x) => a + x.ksoftirqdNs, 0) / r.without.concat(r.withIt).reduce((a, x) => a + x.cpuNs, 0);
  const storm: Table = {
    caption: `${plan.rounds} rounds of ${plan.datagrams.toLocaleString('en-US')} UDP datagrams (64 B, sendmmsg) over a veth pair to a closed port in another namespace, each dropped as no_socket; without and with the meter, the order alternating; the sender pinned to CPU ${r.cpu}; kernel ${r.kernel}. Median, ± half the IQR; ratio: median of the per-round ratios (with / without).`,
    headers: ['measure', 'without the meter', 'with the meter', 'ratio'],
    rows: [
      [
        'drops per CPU-second (sender thread + ksoftirqd of its CPU)',
        cell(cpuWithout, fmt.count),
        cell(cpuWith, fmt.count),
        cell(cpuRatio, fmt.ratio),
      ],
      [
        'CPU time per drop',
        cell(summarize(r.without.map(nsPerDrop)), fmt.ns),
        cell(summarize(r.withIt.map(nsPerDrop)), fmt.ns),
        `+${fmt.ns(extraNs.median)} (median of per-round differences)`,
      ],
      ['drops per wall-second (the storm rate)', cell(wallWithout, fmt.count), cell(wallWith, fmt.count), cell(wallRatio, fmt.ratio)],
    ],
  };
  const runTime: Table = {
    caption: `Run time per run (\`bpf_stats_enabled\`), both programs attached at once during ${plan.runTimeStorms} storms like the above; median, ± half the IQR; ratio: median of per-storm ratios.`,
    headers: ['program', 'ns per run', 'ratio to the empty program'],
    rows: [
      ['drop meter', cell(meterRun, fmt.ns), cell(runRatio, fmt.ratio)],
      ['empty tp_btf/kfree_skb program', cell(floorRun, fmt.ns), '1.00×'],
    ],
  };
  const runs: Table = {
    headers: ['program runs per second', 'value'],
    rows: [
      [`no traffic of the bench's own (${plan.idleSeconds} s; the machine is shared, so not a truly idle node)`, r.idleRuns.toFixed(1)],
      [`TCP over a veth pair (iperf3, ${plan.iperfSeconds} s, ${(r.iperfBits / 1e9).toFixed(1)} Gbit/s)`, r.busyRuns.toFixed(1)],
    ],
  };
  const noisy = r.idleByReason.find((x) => x.reason === NOISY_REASON)?.perSecond ?? 0;
  const idleReasons: Table = {
    caption: `Drops the meter counted in the same ${plan.idleSeconds} s with no traffic of the bench's own, by reason (all namespaces; reasons with none left out). \`${NOISY_REASON}\` is the plain kfree_skb() that netprobe counts but keeps out of alerts and of the page's drop share.`,
    headers: ['reason', 'drops per second'],
    rows: (r.idleByReason.some((x) => x.reason === NOISY_REASON)
      ? r.idleByReason
      : [...r.idleByReason, { reason: NOISY_REASON, perSecond: 0 }]
    ).map((x) => [`\`${x.reason}\``, x.perSecond.toFixed(2)]),
  };
  const notes = [
    met
      ? `Target met: with the meter the storm gets ${lower(cpuRatio.median)} drops per CPU-second (target: at most 5% fewer).`
      : `Target NOT met: with the meter the storm gets ${lower(cpuRatio.median)} drops per CPU-second (target: at most 5% fewer): the program adds ~${fmt.ns(extraNs.median)} of CPU to a datagram whose whole path (send, veth, receive, drop) costs ~${fmt.ns(summarize(r.without.map(nsPerDrop)).median)} without it.`,
    counted
      ? `Every round was exact: the receiver's UdpNoPorts (nstat) grew by the ${plan.datagrams.toLocaleString('en-US')} datagrams sent, and with the meter its no_socket count in that namespace equals them.`
      : `Counts differ: ${JSON.stringify(r.withIt.map((x) => [x.sent, x.noPorts, x.metered]))}.`,
    runsMatch
      ? 'Both programs ran at least once per dropped datagram during the run-time storms (they run on every kfree_skb).'
      : `A program ran less often than the datagrams dropped: ${JSON.stringify(r.perRun)}.`,
    `The receiving side runs in the sender's softirq on its CPU; ${r.irqTime === false ? 'this kernel has no CONFIG_IRQ_TIME_ACCOUNTING, so that softirq time is in the thread CPU time' : r.irqTime ? "this kernel accounts softirq time apart, so the CPU's softirq time is added" : "this kernel's config is unreadable, so the CPU's softirq time is added (at worst counted twice)"}; ksoftirqd took ${(ksoftirqdShare * 100).toFixed(2)}% of the total. bpf_stats_enabled was ${r.statsAtStorm} during the storm rounds.`,
  ];
  return {
    part: 'drop-cost',
    title: dropCostPart.title,
    tables: [storm, runTime, runs, idleReasons],
    notes,
    verdicts: [
      {
        target: 'drop storm with the meter: ≤ 5% fewer drops per CPU-second',
        result: `${fmt.ratio(cpuRatio.median)} the drops per CPU-second without it (${lower(cpuRatio.median)}); wall rate ${fmt.ratio(wallRatio.median)}`,
        met: met && counted,
      },
      {
        target: 'drop meter run time per run',
        result: `${fmt.ratio(runRatio.median)} an empty tp_btf/kfree_skb program (${fmt.ns(meterRun.median)} vs ${fmt.ns(floorRun.median)})`,
      },
      {
        target: `\`${NOISY_REASON}\` drops on a quiet node (measured; kept out of alerting)`,
        result: `${noisy.toFixed(2)} per second over ${plan.idleSeconds} s with no traffic of the bench's own`,
      },
    ],
    data: {
      plan,
      cpu: r.cpu,
      kernel: r.kernel,
      irqTimeAccounting: r.irqTime ?? null,
      without: r.without,
      withMeter: r.withIt,
      cpuRatioMedian: cpuRatio.median,
      wallRatioMedian: wallRatio.median,
      extraNsPerDrop: extraNs.median,
      perRun: r.perRun,
      runRatioMedian: runRatio.median,
      idleRunsPerSecond: r.idleRuns,
      idleDropsPerSecondByReason: Object.fromEntries(r.idleByReason.map((x) => [x.reason, x.perSecond])),
      idleNotSpecifiedPerSecond: noisy,
      busyRunsPerSecond: r.busyRuns,
      counted,
      runsMatch,
      target: DROP_COST_TARGET,
      smoke: ctx.smoke,
    },
    seconds: 0,
  };
}
