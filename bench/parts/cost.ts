/**
 * Part 1: per-packet cost of the shipped TC programs, with BPF_PROG_TEST_RUN
 * beside a program that returns at once (the floor) and the two obvious
 * designs, in the same run, interleaved. Target: ≤ 1.3× the floor.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Netns } from '../../test/support/netns.js';
import type { CostCase, CostPlan } from '../agents/cost-worker.js';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { cell, fmt, type PartResult, type Table } from '../lib/report.js';
import { pairedRatios, summarize } from '../lib/stats.js';

const run = promisify(execFile);

export const COST_TARGET = 1.3;
const SMALL_IFINDEX = 5;
// Above 2^20, as on a long-lived Kubernetes node; its slot (7) is free.
const LARGE_IFINDEX = (1 << 20) + 7;
// Same slot as SMALL_IFINDEX, which owns it: counted in the overflow hash.
const COLLIDING_IFINDEX = SMALL_IFINDEX + 1024;

/** Compiles a comparison program with the same flags as the shipped one. */
async function compile(ctx: BenchContext, name: string): Promise<string> {
  const out = join(ctx.outDir, `${name}.bpf.o`);
  await run('bash', [join(ctx.repoRoot, 'bpf', 'build.sh'), out, join(ctx.repoRoot, 'bench', 'bpf', `${name}.bpf.c`)], { timeout: 60_000 });
  return out;
}

async function measure(ctx: BenchContext, plan: CostPlan): Promise<CostCase[]> {
  const ns = await Netns.create('npbc');
  const remove = onCleanup(`namespace ${ns.name}`, () => ns.delete());
  try {
    // The kernel resolves ctx.ifindex in the caller's namespace, so these must exist there.
    for (const ifindex of [plan.smallIfindex, plan.largeIfindex, plan.collidingIfindex]) {
      await ns.ip([
        'link',
        'add',
        'name',
        `c${ifindex}`,
        'index',
        String(ifindex),
        'type',
        'veth',
        'peer',
        'name',
        `c${ifindex}p`,
        'index',
        String(ifindex + 1),
      ]);
    }
    const stdout = await ns.exec(
      process.execPath,
      ['--import', 'tsx', join(ctx.repoRoot, 'bench', 'agents', 'cost-worker.ts'), JSON.stringify(plan)],
      600_000,
    );
    return (JSON.parse(stdout) as { cases: CostCase[] }).cases;
  } finally {
    await remove();
  }
}

export const costPart: BenchPart = {
  name: 'cost',
  title: 'Part 1 — per-packet cost of the BPF program (BPF_PROG_TEST_RUN)',
  needs: ['src/bpf/prog-test-run.ts', 'src/bpf/bpf-object.ts'],
  async run(ctx): Promise<PartResult> {
    const plan: CostPlan = {
      netprobeObject: join(ctx.repoRoot, 'bpf', 'netprobe.bpf.o'),
      floorObject: await compile(ctx, 'floor'),
      naiveHashObject: await compile(ctx, 'naive-hash'),
      naiveArrayObject: await compile(ctx, 'naive-array'),
      smallIfindex: SMALL_IFINDEX,
      largeIfindex: LARGE_IFINDEX,
      collidingIfindex: COLLIDING_IFINDEX,
      frameSizes: [64, 1500],
      repeat: ctx.smoke ? 10_000 : 1_000_000,
      rounds: ctx.smoke ? 3 : 21,
    };
    ctx.log(`cost: ${plan.rounds} rounds × ${plan.frameSizes.length * 8} cases × repeat ${plan.repeat}`);
    const cases = await measure(ctx, plan);

    const tables: Table[] = [];
    const notes: string[] = [];
    const rows: Record<string, unknown>[] = [];
    const expectedPerCounter = plan.rounds * plan.repeat * plan.frameSizes.length;
    for (const size of plan.frameSizes) {
      const floor = cases.find((c) => c.program === 'floor' && c.frameSize === size);
      if (!floor) throw new Error(`no floor case for ${size}-byte frames`);
      const table: Table = {
        caption: `**${size}-byte frames** (ns per run: median of ${plan.rounds} rounds × ${plan.repeat.toLocaleString('en-US')} runs, ± half the interquartile range; ratio: median of per-round ratios to the floor)`,
        headers: ['program', 'path', 'ifindex', 'ns per run', 'ratio to floor', 'counted by its own entry'],
        rows: [],
      };
      for (const c of cases.filter((x) => x.frameSize === size)) {
        const ns = summarize(c.samples);
        const ratio = pairedRatios(c.samples, floor.samples);
        const counted =
          c.counted === undefined ? '–' : c.counted === expectedPerCounter ? 'yes, every run' : `NO: ${c.counted} of ${expectedPerCounter}`;
        if (c.counted !== undefined && c.counted !== expectedPerCounter)
          notes.push(
            `${c.program} (${c.path}) counted ${c.counted} runs instead of ${expectedPerCounter}: the measured path is not the counting path.`,
          );
        table.rows.push([
          c.program,
          c.path,
          String(c.ifindex),
          cell(ns, fmt.ns),
          c.program === 'floor' ? '1.00×' : cell(ratio, fmt.ratio),
          counted,
        ]);
        rows.push({
          program: c.program,
          path: c.path,
          frameSize: size,
          ifindex: c.ifindex,
          nsMedian: ns.median,
          nsSpread: [ns.p25, ns.p75],
          ratioMedian: ratio.median,
          ratioSpread: [ratio.p25, ratio.p75],
          counted: c.counted ?? null,
        });
      }
      tables.push(table);
    }

    const shipped = rows.filter((r) => r.program === 'netprobe_tc_in' || r.program === 'netprobe_tc_eg');
    const fast = shipped.filter((r) => String(r.path).startsWith('slot'));
    const worstFast = Math.max(...fast.map((r) => r.ratioMedian as number));
    const worstAll = Math.max(...shipped.map((r) => r.ratioMedian as number));
    notes.push(
      worstFast <= COST_TARGET
        ? `Target met: the counting fast path (slot) costs at most ${fmt.ratio(worstFast)} the floor (target ≤ ${COST_TARGET}×), for small and large ifindexes and both frame sizes.`
        : `Target NOT met: the counting fast path costs up to ${fmt.ratio(worstFast)} the floor (target ≤ ${COST_TARGET}×).`,
      `The slow path (an ifindex whose slot is taken, counted in the overflow hash) costs up to ${fmt.ratio(worstAll)} the floor.`,
      'The kernel reports whole nanoseconds per run, so a ratio moves in steps of about 1/floor.',
    );
    const verdicts = [
      {
        target: `counting path ≤ ${COST_TARGET}× the floor`,
        result: `${fmt.ratio(worstFast)} (worst of ingress/egress, small/large ifindex, 64/1500 B)`,
        met: worstFast <= COST_TARGET,
      },
      { target: 'slow path (slot taken → overflow hash)', result: `${fmt.ratio(worstAll)} the floor` },
    ];
    return {
      part: 'cost',
      title: this.title,
      tables,
      notes,
      verdicts,
      data: { plan: { ...plan, netprobeObject: 'bpf/netprobe.bpf.o' }, rows, worstFastRatio: worstFast, target: COST_TARGET },
      seconds: 0,
    };
  },
};
