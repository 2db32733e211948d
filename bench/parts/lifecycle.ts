/**
 * Part 7: start and stop of the CLI at the largest size (2,000 interfaces in
 * the full run), in each attach mode. Start: from spawning the command (node
 * starting, restarting itself with its runtime flags, loading the BPF object,
 * attaching every interface) until /health reports every interface attached,
 * and until /metrics exports them all. Stop: from SIGTERM until the process
 * has detached everything and exited (status 0 expected). After the stop, a
 * sample of interfaces is checked for anything left behind (a clsact qdisc;
 * tcx links end with the process). Target (issue 11): each under 5 s.
 */
import { cpus, loadavg } from 'node:os';
import type { BenchPart } from '../lib/context.js';
import { ensureBuilt, NETPROBE_PORT } from '../lib/exporters.js';
import { startInNs } from '../../test/support/ns-process.js';
import { cpuSeconds } from '../lib/proc-stats.js';
import { fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import { createVethFarm, type VethFarm } from '../../test/support/veth-farm.js';
import { join } from 'node:path';

export const LIFECYCLE_TARGET_SECONDS = 5;
const MODES = ['tcx', 'tc'] as const;
/** Interfaces checked for leftovers after each stop. */
const LEFTOVER_SAMPLE = 20;

/**
 * Runs inside the namespace with plain node: prints "ready", then polls
 * /health every 20 ms until attached_interfaces reaches N ("attached <epoch
 * ms>"), then /metrics every 100 ms until N interfaces named vf* are exported
 * ("exported <epoch ms>"). Connection refusals before the server listens are
 * the normal case.
 */
const WATCH_SCRIPT = `
import http from 'node:http';
const [port, n] = [Number(process.argv[1]), Number(process.argv[2])];
const get = (path) => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => resolve(body));
    res.on('error', () => resolve(''));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => resolve(''));
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
console.log('ready');
for (;;) {
  const body = await get('/health');
  let attached = -1;
  try { attached = JSON.parse(body).server?.source?.attached_interfaces ?? JSON.parse(body).source?.attached_interfaces ?? -1; } catch {}
  if (attached >= n) { console.log('attached ' + Date.now()); break; }
  await sleep(20);
}
for (;;) {
  const text = await get('/metrics');
  const names = new Set();
  for (const line of text.split('\\n')) {
    const m = /^netprobe_interface_active\\{[^}]*interface="(vf[^"]*)"/.exec(line);
    if (m) names.add(m[1]);
  }
  if (names.size >= n) { console.log('exported ' + Date.now()); break; }
  await sleep(100);
}
`;

interface Round {
  mode: (typeof MODES)[number];
  attachedSeconds: number;
  exportedSeconds: number;
  /** CPU seconds the process had used once every interface was attached (both images: execve keeps the count). */
  startCpuSeconds: number;
  stopSeconds: number;
  exitCode: number | null;
  leftovers: string[];
}

async function leftoverQdiscs(farm: VethFarm): Promise<string[]> {
  const step = Math.max(1, Math.floor(farm.names.length / LEFTOVER_SAMPLE));
  const sample = farm.names.filter((_, i) => i % step === 0).slice(0, LEFTOVER_SAMPLE);
  const found: string[] = [];
  for (const name of sample) {
    const out = await farm.ns.exec('tc', ['qdisc', 'show', 'dev', name]);
    if (out.includes('clsact')) found.push(name);
  }
  return found;
}

export const lifecyclePart: BenchPart = {
  name: 'lifecycle',
  title: 'Part 7 — start and stop (attach and detach of every interface)',
  needs: ['src/cli/main.ts', 'src/bpf/index.ts'],
  async run(ctx): Promise<PartResult> {
    await ensureBuilt(ctx);
    const loadBefore = loadavg()[0]!;
    const size = Math.max(...ctx.sizes);
    const farm = await createVethFarm(size);
    const rounds: Round[] = [];
    try {
      for (const mode of MODES) {
        const watcher = startInNs(
          farm.ns,
          process.execPath,
          ['--input-type=module', '-e', WATCH_SCRIPT, String(NETPROBE_PORT), String(size)],
          {
            label: `lifecycle watcher in ${farm.ns.name}`,
          },
        );
        await watcher.waitForLine(/^ready$/, 30_000);
        const attachedLine = watcher.waitForLine(/^attached \d+$/, 120_000);
        const exportedLine = watcher.waitForLine(/^exported \d+$/, 180_000);
        const spawnedAt = Date.now();
        const netprobe = startInNs(
          farm.ns,
          process.execPath,
          [
            join(ctx.repoRoot, 'dist', 'cli', 'main.js'),
            `--web.listen-address=127.0.0.1:${NETPROBE_PORT}`,
            '--source=ebpf',
            `--ebpf.attach-mode=${mode}`,
            '--log.level=warn',
          ],
          { label: `netprobe (${mode}) in ${farm.ns.name}`, stopGraceMs: 120_000 },
        );
        try {
          const attachedAt = Number((await attachedLine).split(' ')[1]);
          const startCpuSeconds = cpuSeconds(netprobe.pid);
          const exportedAt = Number((await exportedLine).split(' ')[1]);
          const stopAt = Date.now();
          const exitCode = await netprobe.stop();
          const stopSeconds = (Date.now() - stopAt) / 1000;
          const leftovers = await leftoverQdiscs(farm);
          rounds.push({
            mode,
            attachedSeconds: (attachedAt - spawnedAt) / 1000,
            exportedSeconds: (exportedAt - spawnedAt) / 1000,
            startCpuSeconds,
            stopSeconds,
            exitCode,
            leftovers,
          });
          ctx.log(`lifecycle ${mode}: attached ${(attachedAt - spawnedAt) / 1000} s, stop ${stopSeconds} s, exit ${exitCode}`);
        } finally {
          await netprobe.stop();
          await watcher.stop();
        }
      }
    } finally {
      await farm.remove();
    }

    const table: Table = {
      caption: `The built CLI (\`node dist/cli/main.js --source=ebpf --ebpf.attach-mode=MODE\`) in a namespace holding ${fmt.count(size)} veth interfaces (plus lo). Start: from spawning the command until /health reports every interface attached, and until /metrics exports every one. Stop: from SIGTERM until the process exited. Leftovers: clsact qdiscs on ${LEFTOVER_SAMPLE} sampled interfaces after the stop.`,
      headers: [
        'attach mode',
        'interfaces',
        'start: attached',
        'start: exported',
        'CPU used to attach',
        'stop (SIGTERM → exit)',
        'exit status',
        'leftovers',
      ],
      rows: rounds.map((r) => [
        r.mode,
        fmt.count(size),
        `${r.attachedSeconds.toFixed(2)} s`,
        `${r.exportedSeconds.toFixed(2)} s`,
        `${r.startCpuSeconds.toFixed(2)} s`,
        `${r.stopSeconds.toFixed(2)} s`,
        String(r.exitCode),
        r.leftovers.length === 0 ? 'none' : r.leftovers.join(', '),
      ]),
    };
    const verdicts: Verdict[] = rounds.flatMap((r) => [
      {
        target: `start at ${fmt.count(size)} interfaces (${r.mode}) < ${LIFECYCLE_TARGET_SECONDS} s`,
        result: `${r.attachedSeconds.toFixed(2)} s to attached, ${r.exportedSeconds.toFixed(2)} s to exported`,
        met: r.exportedSeconds < LIFECYCLE_TARGET_SECONDS,
      },
      {
        target: `stop at ${fmt.count(size)} interfaces (${r.mode}) < ${LIFECYCLE_TARGET_SECONDS} s, exit 0, nothing left`,
        result: `${r.stopSeconds.toFixed(2)} s, exit ${r.exitCode}, ${r.leftovers.length === 0 ? 'nothing left' : `${r.leftovers.length} qdiscs left`}`,
        met: r.stopSeconds < LIFECYCLE_TARGET_SECONDS && r.exitCode === 0 && r.leftovers.length === 0,
      },
    ]);
    const notes = [
      `Load average (1 min) on the machine's ${cpus().length} cores: ${loadBefore.toFixed(1)} when the part started, ${loadavg()[0]!.toFixed(1)} when it ended (the bench's own earlier parts count in it).`,
      'Start includes node starting twice (the CLI restarts node with its runtime flags, same PID) and loading the BPF object.',
    ];
    const data: Record<string, unknown> = { size, rounds };
    return { part: 'lifecycle', title: this.title, tables: [table], notes, verdicts, data, seconds: 0 };
  },
};
