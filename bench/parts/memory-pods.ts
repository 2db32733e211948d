/**
 * Part 5b: memory with everything on, against the last release (issue 16).
 * One node namespace holds 2,000 interfaces (veth pairs, as part 5 makes
 * them) and 110 pods made as part 9 makes them (PodNode: a `cni-<uuid>`
 * namespace per pod networked by Debian's bridge CNI plugin, the pod's
 * process in a cgroup v2 kubepods cgroup under the node's private cgroup
 * root, a kubelet-like pod log directory); every pod sends one UDP datagram
 * a second from a socket made in its own cgroup, so the socket view and the
 * drop meter see traffic of every pod. This tree's netprobe (`--collector.pods`
 * with its socket view and the drop meter, both on by default) and netprobe
 * 0.2.0 (built from its commit, bench/lib/release-build.ts, with its own
 * everything: `--collector.pods`) run one at a time on those same interfaces
 * and pods, each alone, in interleaved rounds (the order alternates), each
 * warmed up and soaked as part 5 does (scraped every second plain and gzip,
 * collection every second, its own v1 memory cgroup). Before the warm-up the
 * bench waits until every pod is labelled (and, for this tree, until every
 * pod has socket series and both meters report themselves on). Target:
 * steady RSS and peak (VmHWM) at most 1.10× 0.2.0's.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import { PodNode, UNIFIED, type Pod } from '../../test/support/cni-pod.js';
import { fetchInNetns } from '../../test/support/netns-http.js';
import { OWN_MOUNTS } from '../../test/support/pod-containers.js';
import { addVethPairs } from '../../test/support/veth-farm.js';
import type { BenchContext, BenchPart } from '../lib/context.js';
import { NETPROBE_PORT, startNetprobe, type NetprobeBuild } from '../lib/exporters.js';
import { createMemoryCgroup } from '../lib/memory-cgroup.js';
import { buildRelease } from '../lib/release-build.js';
import { fmt, type PartResult, type Table, type Verdict } from '../lib/report.js';
import {
  COLLECT_INTERVAL,
  FIGURE_HEADERS,
  figureRow,
  ROUNDS,
  SCRAPE_INTERVAL_MS,
  soakPlan,
  warmUpAndSoak,
  type RoundFigures,
} from './memory.js';

export const MEMORY_PODS_TARGET_RATIO = 1.1;
/** netprobe 0.2.0. */
export const RELEASE_COMMIT = 'fb2c214';
const INTERFACES = 2000;
const PODS = 110;
const NAMESPACES = 10;

export type Version = 'current' | 'release';

/**
 * One process for all pods (python3, no per-pod process): for each pod it
 * moves itself into the pod's cgroup, enters the pod's network namespace
 * (setns) and opens a UDP socket there (a socket belongs to the cgroup and
 * namespace it was made in); then every second each socket sends 64 bytes to
 * its gateway's port 9, closed on the node: the pod's socket egress, the host
 * veth's ingress, and a drop on the node (no socket) for every pod.
 */
const POD_TRAFFIC_SCRIPT = `
import ctypes, json, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
socks = []
for p in json.loads(sys.argv[1]):
    with open(p['cgroup'] + '/cgroup.procs', 'w') as f:
        f.write(str(os.getpid()))
    fd = os.open('/run/netns/' + p['netns'], os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0:
        raise OSError(ctypes.get_errno(), 'setns ' + p['netns'])
    os.close(fd)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    socks.append((s, p['gateway']))
print('sending', flush=True)
while True:
    for s, gw in socks:
        try:
            s.sendto(b'x' * 64, (gw, 9))
        except OSError:
            pass
    time.sleep(1)
`;

/** The pods' traffic (above); resolves once every socket is open. Stopped by its PID at cleanup. */
export async function startPodTraffic(pods: Pod[]): Promise<{ pid: number; stop: () => Promise<void> }> {
  const plan = pods.map((p) => {
    const path = /^0::(.*)$/m.exec(readFileSync(`/proc/${p.pid}/cgroup`, 'utf8'))?.[1];
    if (!path) throw new Error(`pod ${p.spec.name}: its process ${p.pid} has no cgroup v2 path`);
    return { netns: p.netns, cgroup: join(UNIFIED, path), gateway: p.gateway };
  });
  const child = spawn('python3', ['-c', POD_TRAFFIC_SCRIPT, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = onCleanup(`pod traffic ${child.pid}`, async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => c.toString().includes('sending') && resolve());
    child.once('exit', (code) => reject(new Error(`pod traffic exited (${code}) before sending: ${out}`)));
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { pid: child.pid!, stop };
}

/** Lines of one scrape that start with `family{`. */
const seriesOf = (text: string, family: string): string[] => text.split('\n').filter((l) => l.startsWith(`${family}{`));
const podsIn = (lines: string[]): Set<string> => new Set(lines.map((l) => /[{,]pod="([^"]*)"/.exec(l)?.[1] ?? ''));

/**
 * Waits (deadline: minutes, the machine is shared) until netprobe exports
 * what "everything on" means for `version`: every pod labelled; for this
 * tree also every pod's socket series, the socket view and the drop meter.
 */
export async function waitForEverythingOn(node: PodNode, version: Version, pods: Pod[]): Promise<void> {
  const want = pods.map((p) => p.spec.name);
  const deadline = Date.now() + 180_000;
  let missing = '';
  while (Date.now() < deadline) {
    const res = await fetchInNetns(node.ns, `http://127.0.0.1:${NETPROBE_PORT}/metrics`).catch(() => undefined);
    const text = res?.body.toString() ?? '';
    const labelled = podsIn(seriesOf(text, 'netprobe_pod_interface_info'));
    const problems = [`labels for ${want.filter((p) => !labelled.has(p)).length} pod(s)`];
    if (version === 'current') {
      const counted = podsIn(seriesOf(text, 'netprobe_pod_socket_packets_total'));
      problems.push(`socket series for ${want.filter((p) => !counted.has(p)).length} pod(s)`);
      if (!text.includes('\nnetprobe_pod_socket_view 1\n')) problems.push('netprobe_pod_socket_view 1');
      if (!text.includes('\nnetprobe_drop_counting_active 1\n')) problems.push('netprobe_drop_counting_active 1');
    }
    missing = problems.filter((p) => !p.startsWith('labels for 0 ') && !p.startsWith('socket series for 0 ')).join(', ');
    if (missing === '') return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${version} netprobe never exported everything: still missing ${missing}`);
}

/** One process's life: start (in its own memory cgroup), wait for everything on, warm up, soak, stop. */
async function measure(
  ctx: BenchContext,
  node: PodNode,
  pods: Pod[],
  version: Version,
  build: NetprobeBuild | undefined,
  round: number,
): Promise<{ figures: RoundFigures; command: string[] }> {
  const cgroup = createMemoryCgroup(`${version}-pods-r${round}`);
  const args = [
    `--collector.interval=${COLLECT_INTERVAL}`,
    '--collector.pods',
    `--kubernetes.pod-logs-dir=${node.logsDir}`,
    // 0.2.0 has no --kubernetes.cgroup-root: it takes a kubepods cgroup anywhere in the path.
    ...(version === 'current' ? [`--kubernetes.cgroup-root=${node.cgroupRoot}`] : []),
  ];
  // Both in the bench's own mount namespace (`ip netns exec` remounts /sys, hiding the cgroup2 mount the socket view needs).
  const proc = await startNetprobe(ctx, node.ns, args, (pid) => cgroup?.adopt(pid), { build, wrap: OWN_MOUNTS });
  try {
    const command = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    await waitForEverythingOn(node, version, pods);
    const key = `${version}|${round}`;
    const figures = await warmUpAndSoak(
      ctx,
      [{ key, proc, ns: node.ns, port: NETPROBE_PORT, cgroup }],
      `memory-pods: round ${round + 1}, ${version}`,
    );
    return { figures: figures.get(key)!, command };
  } finally {
    await proc.stop();
    await cgroup?.remove();
  }
}

export const memoryPodsPart: BenchPart = {
  name: 'memory-pods',
  title: 'Part 5b — memory at 2,000 interfaces and 110 pods, everything on, against 0.2.0',
  needs: ['src/cli/main.ts', 'test/support/cni-pod.ts'],
  async run(ctx): Promise<PartResult> {
    const interfaces = ctx.smoke ? 10 : INTERFACES;
    const podCount = ctx.smoke ? 2 : PODS;
    const rounds = ctx.smoke ? 1 : ROUNDS;
    const { warmupSeconds, soakSeconds, sampleEveryMs } = soakPlan(ctx);
    const loadBefore = loadavg()[0]!;
    const release = await buildRelease(ctx, RELEASE_COMMIT);
    const head = execFileSync('git', ['-C', ctx.repoRoot, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const node = await PodNode.create();
    const removeNode = onCleanup('pod node', () => node.cleanup());
    const results: Array<{ version: Version; round: number; figures: RoundFigures }> = [];
    const commands: Partial<Record<Version, string[]>> = {};
    let podSeconds: number;
    let vethSeconds: number;
    let trafficPid: number;
    try {
      vethSeconds = (await addVethPairs(node.ns, interfaces)).createSeconds;
      const started = performance.now();
      const pods: Pod[] = [];
      for (let i = 0; i < podCount; i++) pods.push(await node.addPod({ namespace: `team-${i % NAMESPACES}`, name: `pod-${i}` }));
      podSeconds = (performance.now() - started) / 1000;
      ctx.log(`memory-pods: ${interfaces} interfaces in ${vethSeconds.toFixed(1)} s, ${podCount} pods in ${podSeconds.toFixed(1)} s`);
      const traffic = await startPodTraffic(pods);
      trafficPid = traffic.pid;
      try {
        for (let r = 0; r < rounds; r++) {
          const order: Version[] = r % 2 === 0 ? ['current', 'release'] : ['release', 'current'];
          for (const version of order) {
            const m = await measure(ctx, node, pods, version, version === 'release' ? release : undefined, r);
            results.push({ version, round: r, figures: m.figures });
            commands[version] = m.command;
          }
        }
      } finally {
        await traffic.stop();
      }
    } finally {
      await removeNode();
    }

    const of = (v: Version): RoundFigures[] => results.filter((x) => x.version === v).map((x) => x.figures);
    const label: Record<Version, string> = {
      current: `this tree (${head})`,
      release: `${release.version} (${release.commit.slice(0, 7)})`,
    };
    const table: Table = {
      caption:
        `${fmt.count(interfaces)} veth interfaces and ${podCount} pods (bridge CNI, a cgroup v2 kubepods cgroup and a log directory each, one 64-byte UDP datagram per pod per second from a socket in the pod's cgroup) in one node namespace. ` +
        `Each netprobe alone on them, with --collector.pods (this tree: with its socket view and drop meter, on by default; 0.2.0 has neither), collection every ${COLLECT_INTERVAL}, scraped every ${SCRAPE_INTERVAL_MS / 1000} s plain and gzip; ` +
        `RSS after ${warmupSeconds} s of warm-up, then sampled every ${sampleEveryMs / 1000} s for ${(soakSeconds / 60).toFixed(1)} min; each process in a memory cgroup of its own. ` +
        `${rounds} round(s), the two versions one after the other in alternating order, fresh processes; every figure is the median over the rounds. Columns as in part 5; ratios = this tree / 0.2.0.`,
      headers: ['netprobe', ...FIGURE_HEADERS],
      rows: [],
    };
    const data: Record<string, unknown> = {
      interfaces,
      pods: podCount,
      rounds,
      warmupSeconds,
      soakSeconds,
      releaseCommit: release.commit,
      releaseDependencies: release.dependencies,
      head,
      commands,
      podSeconds,
      vethSeconds,
      trafficPid,
    };
    const rows = {
      current: figureRow(of('current'), of('release')),
      release: figureRow(of('release')),
    };
    for (const v of ['current', 'release'] as Version[]) {
      table.rows.push([label[v], ...rows[v].cells]);
      data[v] = rows[v].summary;
    }
    const { steady: steadyRatio, peak: peakRatio } = rows.current.ratios;
    const [mine, theirs] = [rows.current.summary, rows.release.summary];
    const verdicts: Verdict[] = [
      {
        target: `steady RSS at 2,000 interfaces and 110 pods, everything on, ≤ ${MEMORY_PODS_TARGET_RATIO}× 0.2.0's`,
        result: `${fmt.ratio(steadyRatio)} (${fmt.bytes(mine.median)} vs ${fmt.bytes(theirs.median)})`,
        met: steadyRatio <= MEMORY_PODS_TARGET_RATIO,
      },
      {
        target: `peak RSS (VmHWM) at 2,000 interfaces and 110 pods, everything on, ≤ ${MEMORY_PODS_TARGET_RATIO}× 0.2.0's`,
        result: `${fmt.ratio(peakRatio)} (${fmt.bytes(mine.peak)} vs ${fmt.bytes(theirs.peak)})`,
        met: peakRatio <= MEMORY_PODS_TARGET_RATIO,
      },
    ];
    const notes = [
      `Each round's steady RSS (MiB), this tree / 0.2.0: ${results
        .filter((x) => x.version === 'current')
        .map((x) => {
          const peer = results.find((y) => y.version === 'release' && y.round === x.round)!;
          return `${(x.figures.median / 2 ** 20).toFixed(1)} / ${(peer.figures.median / 2 ** 20).toFixed(1)}`;
        })
        .join('; ')}.`,
      `0.2.0 built from ${release.commit.slice(0, 7)} (\`git archive\`, \`tsc --noCheck\` with its own tsconfig.build.json, its committed BPF object; dependencies: ${release.dependencies === 'shared' ? "this tree's node_modules, the same pinned versions" : 'its own npm ci'}). Both ran as \`${(commands.current ?? []).slice(0, 3).join(' ')} …\`.`,
      `Setup: ${fmt.count(interfaces)} veths in ${vethSeconds.toFixed(1)} s; ${podCount} pods (real CNI ADD each) in ${podSeconds.toFixed(1)} s.`,
      `Load average (1 min) on the machine's ${cpus().length} cores: ${loadBefore.toFixed(1)} when the part started, ${loadavg()[0]!.toFixed(1)} at the end.`,
    ];
    return { part: 'memory-pods', title: this.title, tables: [table], notes, verdicts, data, seconds: 0 };
  },
};
