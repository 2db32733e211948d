/**
 * Part 3: the full collection cycle (batch map read, rates, rendering both
 * expositions, gzip) at 10 … 2,000 veth interfaces, with the eBPF source (the
 * product) and the netdev fallback. Target at 2,000 interfaces: median ≤ 15 ms.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Netns } from '../../test/support/netns.js';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { hotFunctions, type CpuProfile, type HotFunction } from '../lib/cpu-profile.js';
import { cell, fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { summarize } from '../lib/stats.js';
import { createVethFarm } from '../../test/support/veth-farm.js';

export const COLLECTION_TARGET_MS = 15;
const TARGET_SIZE = 2000;

interface WorkerResult {
  source: string;
  attachMode: string | null;
  interfaces: number;
  rows: number;
  attachMs: number;
  collectMs: number[];
  readMs: number[];
}

async function runWorker(
  ctx: BenchContext,
  ns: Netns,
  source: 'ebpf' | 'netdev',
  rounds: number,
  profilePath?: string,
): Promise<WorkerResult> {
  const args = [
    join(ctx.repoRoot, 'bench', 'agents', 'collection-worker.ts'),
    source,
    String(rounds),
    'auto',
    ...(profilePath ? [profilePath] : []),
  ];
  const stdout = await ns.exec(process.execPath, ['--import', 'tsx', ...args], 600_000);
  const line = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as WorkerResult;
}

export const collectionPart: BenchPart = {
  name: 'collection',
  title: 'Part 3 — collection cost (read, rates, render, gzip)',
  needs: ['src/bpf/index.ts', 'src/exporter/index.ts', 'src/source/netdev-source.ts'],
  async run(ctx): Promise<PartResult> {
    const rounds = ctx.smoke ? 3 : 40;
    const table: Table = {
      caption: `Median of ${rounds} cycles after 3 warm-up cycles, ± half the IQR. "Full cycle" is \`Exporter.collectNow()\`; "counter read" is \`readCounters()\` alone.`,
      headers: ['interfaces', 'source', 'series rows', 'full cycle', 'counter read', 'p99-ish (max)', 'attach all at start'],
      rows: [],
    };
    const data: Record<string, unknown> = { rounds, target: COLLECTION_TARGET_MS };
    const notes: string[] = [];
    let profile: HotFunction[] | undefined;
    let profiledSize = 0;
    const verdicts: Verdict[] = [];
    for (const size of ctx.sizes) {
      const farm = await createVethFarm(size);
      try {
        for (const source of ['ebpf', 'netdev'] as const) {
          const profiled = source === 'ebpf' && size === Math.max(...ctx.sizes);
          const file = join(ctx.outDir, 'profiles', `collection-${size}.cpuprofile`);
          if (profiled) await mkdir(dirname(file), { recursive: true });
          const r = await runWorker(ctx, farm.ns, source, rounds, profiled ? file : undefined);
          if (profiled) {
            profile = hotFunctions(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, ctx.repoRoot);
            profiledSize = size;
          }
          const full = summarize(r.collectMs);
          const read = summarize(r.readMs);
          table.rows.push([
            fmt.count(size),
            source === 'ebpf' ? `eBPF (${r.attachMode})` : 'netdev fallback',
            fmt.count(r.rows),
            cell(full, fmt.ms),
            cell(read, fmt.ms),
            fmt.ms(full.max),
            source === 'ebpf' ? fmt.ms(r.attachMs) : '–',
          ]);
          data[`${size}|${source}`] = {
            interfaces: r.interfaces,
            rows: r.rows,
            fullMedian: full.median,
            fullP25: full.p25,
            fullP75: full.p75,
            fullMax: full.max,
            readMedian: read.median,
            attachMs: r.attachMs,
          };
          ctx.log(`collection: ${size} interfaces, ${source}: ${fmt.ms(full.median)}`);
          if (source === 'ebpf' && size === TARGET_SIZE) {
            verdicts.push({
              target: `full cycle at ${fmt.count(size)} interfaces ≤ ${COLLECTION_TARGET_MS} ms (median)`,
              result: fmt.ms(full.median),
              met: full.median <= COLLECTION_TARGET_MS,
            });
            notes.push(
              full.median <= COLLECTION_TARGET_MS
                ? `Target met: at ${fmt.count(size)} interfaces the full cycle takes ${fmt.ms(full.median)} (median), target ≤ ${COLLECTION_TARGET_MS} ms.`
                : `Target NOT met: at ${fmt.count(size)} interfaces the full cycle takes ${fmt.ms(full.median)} (median), target ≤ ${COLLECTION_TARGET_MS} ms. The profile below shows where the time goes.`,
            );
          }
        }
      } finally {
        await farm.remove();
      }
    }
    const tables = [table];
    if (profile) {
      tables.push({
        caption: `Where a ${fmt.count(profiledSize)}-interface eBPF collection cycle spends its time (V8 sampling profile of ${rounds} more cycles after the timed ones; total = in the function or its callees; bench/out/profiles/collection-${profiledSize}.cpuprofile):`,
        headers: ['function (file)', 'total %', 'self %'],
        rows: profile.map((h) => [h.name, h.totalPercent.toFixed(1), h.selfPercent.toFixed(1)]),
      });
      data.profile = profile;
    }
    return { part: 'collection', title: this.title, tables, notes, verdicts, data, seconds: 0 };
  },
};
