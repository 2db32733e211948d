/**
 * The socket meter's per-packet cost: bpf/socket-meter.bpf.o's two
 * cgroup_skb programs against an empty cgroup_skb program (the floor), by
 * BPF_PROG_TEST_RUN, interleaved in the same run. Target (issue 16): ≤ 1.5×.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Netns } from '../../test/support/netns.js';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import type { SocketCostCase, SocketCostPlan } from '../agents/socket-cost-worker.js';
import type { BenchPart } from '../lib/context.js';
import { cell, fmt, type PartResult, type Table } from '../lib/report.js';
import { pairedRatios, summarize } from '../lib/stats.js';

const run = promisify(execFile);
export const SOCKET_COST_TARGET = 1.5;
const IFINDEX = 5;

export const socketCostPart: BenchPart = {
  name: 'socket-cost',
  title: 'Part 1b — per-packet cost of the socket meter (cgroup_skb, BPF_PROG_TEST_RUN)',
  needs: ['bpf/socket-meter.bpf.o', 'bench/bpf/socket-floor.bpf.c'],
  async run(ctx): Promise<PartResult> {
    const floorObject = join(ctx.outDir, 'socket-floor.bpf.o');
    await run('bash', [join(ctx.repoRoot, 'bpf', 'build.sh'), floorObject, join(ctx.repoRoot, 'bench', 'bpf', 'socket-floor.bpf.c')], {
      timeout: 60_000,
    });
    const plan: SocketCostPlan = {
      meterObject: join(ctx.repoRoot, 'bpf', 'socket-meter.bpf.o'),
      floorObject,
      ifindex: IFINDEX,
      frameSizes: [64, 1500],
      repeat: ctx.smoke ? 10_000 : 1_000_000,
      rounds: ctx.smoke ? 3 : 21,
    };
    const ns = await Netns.create('npsc');
    const remove = onCleanup(`namespace ${ns.name}`, () => ns.delete());
    let out: { cases: SocketCostCase[]; counted: string; inSlots: string };
    try {
      // Not lo: the meter skips ifindex 1 at once, which would measure the wrong path.
      await ns.ip([
        'link',
        'add',
        'name',
        'c5',
        'index',
        String(IFINDEX),
        'type',
        'veth',
        'peer',
        'name',
        'c5p',
        'index',
        String(IFINDEX + 1),
      ]);
      const stdout = await ns.exec(
        process.execPath,
        ['--import', 'tsx', join(ctx.repoRoot, 'bench', 'agents', 'socket-cost-worker.ts'), JSON.stringify(plan)],
        600_000,
      );
      out = JSON.parse(stdout) as { cases: SocketCostCase[]; counted: string; inSlots: string };
    } finally {
      await remove();
    }
    const expected = 2 * plan.rounds * plan.repeat * plan.frameSizes.length;
    const table: Table = {
      caption: `ns per run: median of ${plan.rounds} rounds × ${plan.repeat.toLocaleString('en-US')} runs, ± half the interquartile range; ratio: median of per-round ratios to the empty program`,
      headers: ['program', 'frame', 'ns per run', 'ratio to empty cgroup_skb'],
      rows: [],
    };
    let worst = 0;
    const rows: Record<string, unknown>[] = [];
    for (const size of plan.frameSizes) {
      const floor = out.cases.find((c) => c.program === 'empty cgroup_skb' && c.frameSize === size);
      if (!floor) throw new Error(`no floor case for ${size}-byte frames`);
      for (const c of out.cases.filter((x) => x.frameSize === size)) {
        const ns = summarize(c.samples);
        const ratio = pairedRatios(c.samples, floor.samples);
        if (c !== floor) worst = Math.max(worst, ratio.median);
        table.rows.push([c.program, `${size} B`, cell(ns, fmt.ns), c === floor ? '1.00×' : cell(ratio, fmt.ratio)]);
        rows.push({ program: c.program, frameSize: size, nsMedian: ns.median, ratioMedian: ratio.median });
      }
    }
    const countedOk = out.counted === String(expected) && out.inSlots === String(expected);
    const notes = [
      worst <= SOCKET_COST_TARGET
        ? `Target met: the socket meter costs at most ${fmt.ratio(worst)} an empty cgroup_skb program (target ≤ ${SOCKET_COST_TARGET}×).`
        : `Target NOT met: the socket meter costs up to ${fmt.ratio(worst)} an empty cgroup_skb program (target ≤ ${SOCKET_COST_TARGET}×).`,
      "The measured path is the steady one: the cgroup id helper, one per-CPU array lookup (the cgroup's claimed slot), an owner compare and two plain adds; a cgroup not yet claimed, or whose slot another holds, pays a per-CPU hash lookup instead.",
      countedOk
        ? `Every run was counted in the cgroup's slot (${expected.toLocaleString('en-US')} packets): the measured path is the counting path.`
        : `The meter counted ${out.counted} packets (${out.inSlots} in slots) instead of ${expected}, all in the slot: the measured path is not the steady counting path.`,
    ];
    return {
      part: 'socket-cost',
      title: this.title,
      tables: [table],
      notes,
      verdicts: [
        {
          target: `socket meter ≤ ${SOCKET_COST_TARGET}× an empty cgroup_skb program`,
          result: fmt.ratio(worst),
          met: worst <= SOCKET_COST_TARGET && countedOk,
        },
      ],
      data: {
        plan: { ...plan, meterObject: 'bpf/socket-meter.bpf.o', floorObject: 'bench/bpf/socket-floor.bpf.c' },
        rows,
        worstRatio: worst,
        counted: out.counted,
        inSlots: out.inSlots,
        target: SOCKET_COST_TARGET,
      },
      seconds: 0,
    };
  },
};
