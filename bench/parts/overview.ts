/**
 * Part: the overview page's memory and build cost. The rate history behind
 * the charts is measured after a full GC at each interface count, after one
 * and after three turns of its ring (it must not grow with run length), at
 * the default 5 s interval and at 1 s (the largest ring: 1,001 points).
 * Stated bound: capacity × (40 + 2 × interfaces) bytes of typed arrays plus
 * 512 B per interface and 64 KiB of bookkeeping. The document build is timed
 * against its peer, the exposition snapshot, from the same samples in the
 * same process. No kernel needed: the history sees only samples.
 */
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { cell, fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

const run = promisify(execFile);
const INTERVALS_MS = [5000, 1000];
const TARGET_SIZE = 2000;

interface WorkerResult {
  interfaces: number;
  intervalMs: number;
  capacity: number;
  ringBytes: number;
  afterOneTurn: number;
  afterThreeTurns: number;
  overviewMs: number[];
  expositionMs: number[];
  jsonBytes: number;
  gzipBytes: number;
}

/** The stated bound on the history's heap at `interfaces` with a ring of `capacity` points. */
export function historyBound(capacity: number, interfaces: number): number {
  return capacity * (40 + 2 * interfaces) + 512 * interfaces + 64 * 1024;
}

async function measure(ctx: BenchContext, interfaces: number, intervalMs: number, rounds: number): Promise<WorkerResult> {
  const worker = join(ctx.repoRoot, 'bench', 'agents', 'overview-worker.ts');
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', worker, String(interfaces), String(intervalMs), String(rounds)],
    {
      cwd: ctx.repoRoot,
      timeout: 600_000,
      maxBuffer: 16 << 20,
    },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as WorkerResult;
}

export const overviewPart: BenchPart = {
  name: 'overview',
  title: 'Part 8 — overview page: history memory and document cost',
  needs: ['src/collector/rate-history.ts', 'src/exposition/overview-snapshot.ts'],
  async run(ctx): Promise<PartResult> {
    const rounds = ctx.smoke ? 2 : 20;
    const sizes = ctx.smoke ? [10, 100] : [...new Set([...ctx.sizes, TARGET_SIZE])].sort((a, b) => a - b);
    const memory: Table = {
      caption:
        'Heap (V8 heap + array buffers) held by the rate history after a full GC, after one and after three turns of its ring. Bound = capacity × (40 + 2 × interfaces) B + 512 B × interfaces + 64 KiB.',
      headers: ['interfaces', 'interval', 'ring points', 'typed arrays', 'measured, 1 turn', 'measured, 3 turns', 'stated bound'],
      rows: [],
    };
    const cost: Table = {
      caption: `Building the overview document (JSON + gzip, on the first request after a collection) against the exposition snapshot from the same samples; median of ${rounds} (± half the IQR).`,
      headers: ['interfaces', 'overview build', 'exposition build (peer)', 'ratio', 'JSON', 'gzip'],
      rows: [],
    };
    const data: Record<string, unknown> = {};
    const verdicts: Verdict[] = [];
    const notes: string[] = [];
    for (const size of sizes) {
      for (const intervalMs of INTERVALS_MS) {
        const r = await measure(ctx, size, intervalMs, rounds);
        const bound = historyBound(r.capacity, size);
        memory.rows.push([
          fmt.count(size),
          `${intervalMs / 1000} s`,
          fmt.count(r.capacity),
          fmt.bytes(r.ringBytes),
          fmt.bytes(r.afterOneTurn),
          fmt.bytes(r.afterThreeTurns),
          fmt.bytes(bound),
        ]);
        data[`${size}|${intervalMs}`] = { ...r, bound };
        ctx.log(`overview: ${size} interfaces at ${intervalMs} ms: history ${fmt.bytes(r.afterThreeTurns)} (bound ${fmt.bytes(bound)})`);
        if (intervalMs === INTERVALS_MS[0]) {
          const o = summarize(r.overviewMs);
          const e = summarize(r.expositionMs);
          cost.rows.push([
            fmt.count(size),
            cell(o, fmt.ms),
            cell(e, fmt.ms),
            fmt.ratio(o.median / e.median),
            fmt.bytes(r.jsonBytes),
            fmt.bytes(r.gzipBytes),
          ]);
        }
        if (size === TARGET_SIZE || (ctx.smoke && size === sizes.at(-1))) {
          const grew = r.afterThreeTurns - r.afterOneTurn;
          verdicts.push({
            target: `history at ${fmt.count(size)} interfaces, ${intervalMs / 1000} s interval ≤ ${fmt.bytes(bound)} and flat over time`,
            result: `${fmt.bytes(r.afterThreeTurns)} (${grew >= 0 ? '+' : ''}${fmt.bytes(Math.abs(grew))} from 1 to 3 turns)`,
            met: r.afterThreeTurns <= bound && grew <= 64 * 1024,
          });
        }
      }
    }
    notes.push(
      'The ring holds 15 minutes: capacity = ⌈15 min / (0.9 × max(interval, 1 s))⌉ + 1 points, fixed at start; collections closer than 0.9 × the interval (a settling collection after an interface change) are not kept, and faster intervals are thinned to one point per second.',
      'Below ~100 interfaces the history is smaller than what this measures with (a few hundred KiB of V8 bookkeeping moves between GCs): a negative number there means the heap shrank, not that the ring is free.',
      'Each interface costs 2 bytes per point (its bytes/s, both ways summed, as a 16-bit log code within 0.1%) and its ring is freed when the interface disappears; the node totals cost 4 × 8 bytes per point, the timestamps 8.',
    );
    return { part: 'overview', title: this.title, tables: [memory, cost], notes, verdicts, data, seconds: 0 };
  },
};
