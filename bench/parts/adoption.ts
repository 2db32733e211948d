/**
 * Part: adoption of pinned state (issue 11). With `--ebpf.pin-path`, a stop
 * leaves the programs attached and counting and the next start adopts them
 * instead of attaching again. Measured with EbpfManager in a namespace of
 * N veth interfaces and a private bpffs instance, in each attach mode: the
 * first start (attach and pin everything), the stop (let go, leave pinned),
 * the second start (adopt), and the cleanup (`--ebpf.cleanup`: detach and
 * unpin). Target: adoption at 2,000 interfaces under 1 s.
 */
import { join } from 'node:path';
import type { BenchPart } from '../lib/context.js';
import { fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { privateBpffs } from '../../test/support/bpffs.js';
import { createVethFarm } from '../../test/support/veth-farm.js';

export const ADOPTION_TARGET_SECONDS = 1;
const MODES = ['tcx', 'tc'] as const;

interface Round {
  mode: (typeof MODES)[number];
  attachMs: number;
  stopMs: number;
  adoptMs: number;
  cleanupMs: number;
  attached: number;
  adopted: number;
}

export const adoptionPart: BenchPart = {
  name: 'adoption',
  title: 'Part 10 — adoption of pinned state (restart with --ebpf.pin-path)',
  needs: ['src/bpf/index.ts', 'bench/agents/adoption-worker.ts'],
  async run(ctx): Promise<PartResult> {
    const size = Math.max(...ctx.sizes);
    const farm = await createVethFarm(size);
    const rounds: Round[] = [];
    try {
      const bpffs = await privateBpffs();
      try {
        for (const mode of MODES) {
          const out = await farm.ns.exec(
            process.execPath,
            ['--import', 'tsx', join(ctx.repoRoot, 'bench/agents/adoption-worker.ts'), join(bpffs.dir, 'netprobe'), mode, 'vf*'],
            600_000,
          );
          const round = { mode, ...(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Omit<Round, 'mode'>) };
          rounds.push(round);
          ctx.log(
            `adoption ${mode}: attach ${round.attachMs.toFixed(0)} ms, adopt ${round.adoptMs.toFixed(0)} ms (${round.adopted}/${round.attached})`,
          );
        }
      } finally {
        await bpffs.cleanup();
      }
    } finally {
      await farm.remove();
    }
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const table: Table = {
      caption: `EbpfManager with \`pinPath\` on a private bpffs, in a namespace of ${fmt.count(size)} veth interfaces: the first start (load, attach and pin), the stop (leave pinned), the second start (adopt the pins: no attach), the cleanup (\`--ebpf.cleanup\`).`,
      headers: [
        'attach mode',
        'interfaces',
        'first start (attach + pin)',
        'stop (leave pinned)',
        'second start (adopt)',
        'adoption vs attach',
        'cleanup',
      ],
      rows: rounds.map((r) => [
        r.mode,
        `${fmt.count(r.adopted)} of ${fmt.count(r.attached)}`,
        s(r.attachMs),
        s(r.stopMs),
        s(r.adoptMs),
        `${(r.adoptMs / r.attachMs).toFixed(2)}×`,
        s(r.cleanupMs),
      ]),
    };
    const verdicts: Verdict[] = rounds.map((r) => ({
      target: `adoption of pinned state at ${fmt.count(size)} interfaces (${r.mode}) < ${ADOPTION_TARGET_SECONDS} s`,
      result: `${s(r.adoptMs)}, ${fmt.count(r.adopted)} of ${fmt.count(r.attached)} adopted`,
      met: r.adoptMs < ADOPTION_TARGET_SECONDS * 1000 && r.adopted === r.attached,
    }));
    const notes = [
      'Adopting opens each pinned link (tcx) or queries each clsact filter, checks it still runs the pinned program on that ifindex, and reads the counter maps once; nothing is attached or detached.',
    ];
    return { part: 'adoption', title: this.title, tables: [table], notes, verdicts, data: { size, rounds }, seconds: 0 };
  },
};
