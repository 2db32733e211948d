/**
 * The two exporters under comparison, started inside a benchmark namespace on
 * its loopback: netprobe (the built CLI, `node dist/cli/main.js`, as
 * deployed) and Debian's prometheus-node-exporter with only the netdev
 * collector (the per-interface traffic peer).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Netns } from '../../test/support/netns.js';
import type { BenchContext } from './context.js';
import { startInNs, waitForListen, type NsProcess } from '../../test/support/ns-process.js';

const run = promisify(execFile);

export const NETPROBE_PORT = 8081;
export const NODE_EXPORTER_PORT = 9100;
export type ExporterName = 'netprobe' | 'node_exporter';

let built: Promise<void> | undefined;

/** Builds dist/ once per run (`npm run build`), so netprobe runs as deployed: compiled, no TS loader. */
export function ensureBuilt(ctx: BenchContext): Promise<void> {
  built ??= (async () => {
    ctx.log('building dist/ (npm run build)');
    await run('npm', ['run', '--silent', 'build'], { cwd: ctx.repoRoot, timeout: 300_000 }).catch((e: Error & { stdout?: string }) => {
      // tsc still emits on type errors elsewhere in the tree; go on if the entry point exists.
      if (!existsSync(join(ctx.repoRoot, 'dist', 'cli', 'main.js'))) throw e;
      ctx.log(`npm run build reported errors, using the emitted dist/ anyway:\n${e.stdout ?? e.message}`);
    });
  })();
  return built;
}

/** Another build of netprobe to run instead of this tree's dist/ (e.g. a release, bench/lib/release-build.ts). */
export interface NetprobeBuild {
  /** Its `dist/cli/main.js`. */
  cli: string;
}

/**
 * `onSpawn` runs as soon as the PID is known, before the process is waited
 * for (e.g. to move it into a cgroup). `wrap` goes before node on the
 * command line (e.g. OWN_MOUNTS, so the cgroup2 mount stays visible); it
 * must exec node in place, keeping the PID.
 */
export async function startNetprobe(
  ctx: BenchContext,
  ns: Netns,
  extraArgs: string[] = [],
  onSpawn?: (pid: number) => void,
  opts: { build?: NetprobeBuild; wrap?: readonly string[] } = {},
): Promise<NsProcess> {
  if (!opts.build) await ensureBuilt(ctx);
  const command = [
    ...(opts.wrap ?? []),
    process.execPath,
    opts.build?.cli ?? join(ctx.repoRoot, 'dist', 'cli', 'main.js'),
    `--web.listen-address=127.0.0.1:${NETPROBE_PORT}`,
    '--source=ebpf',
    '--log.level=warn',
    ...extraArgs,
  ];
  const p = startInNs(
    ns,
    command[0]!,
    command.slice(1),
    // Each attach and detach waits on the kernel: thousands take seconds on a quiet machine, a minute under heavy load.
    { label: `netprobe in ${ns.name}`, stopGraceMs: 180_000 },
  );
  onSpawn?.(p.pid);
  await waitForListen(p, NETPROBE_PORT, 300_000);
  return p;
}

export async function startNodeExporter(ns: Netns, onSpawn?: (pid: number) => void): Promise<NsProcess> {
  const p = startInNs(
    ns,
    'prometheus-node-exporter',
    [`--web.listen-address=127.0.0.1:${NODE_EXPORTER_PORT}`, '--collector.disable-defaults', '--collector.netdev', '--log.level=warn'],
    // Pinned: the Go runtime's memory knobs from the bench's environment do not reach it (defaults: GOGC=100, no limit).
    { label: `node_exporter in ${ns.name}`, env: withoutGoRuntimeSettings(process.env) },
  );
  onSpawn?.(p.pid);
  await waitForListen(p, NODE_EXPORTER_PORT, 30_000);
  return p;
}

function withoutGoRuntimeSettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { GOGC: _gogc, GOMEMLIMIT: _limit, GOMAXPROCS: _procs, GODEBUG: _debug, ...rest } = env;
  return rest;
}

export function metricsUrl(name: ExporterName): string {
  return `http://127.0.0.1:${name === 'netprobe' ? NETPROBE_PORT : NODE_EXPORTER_PORT}/metrics`;
}
