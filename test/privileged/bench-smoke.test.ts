/**
 * The benchmark harness works: `bench/run.ts --smoke` (tiny sizes and
 * durations) runs every part and produces well-formed numbers, and it leaves
 * no namespace or process behind — also when interrupted with Ctrl-C. No
 * timing is asserted: speed lives in the benchmark results, not in tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PARTS } from '../../bench/parts/index.js';
import { UNIFIED } from '../support/cni-pod.js';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const benchEntry = join(repoRoot, 'bench', 'run.ts');

interface PartResult {
  part: string;
  tables: Array<{ headers: string[]; rows: string[][] }>;
  data: Record<string, unknown>;
}

/** Namespaces whose name carries the bench process's PID (every bench namespace does: test/support/netns.ts). */
async function namespacesOf(pid: number): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.includes(`-${pid}-`));
}

/** PIDs of the processes running inside a namespace. */
async function pidsIn(ns: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}

/** Running (a zombie has ended; only its reaping is left). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/**
 * The bench drives Debian's node_exporter, wrk and iperf3 (scripts/install.sh
 * bench installs them); without them this says what is missing instead of failing.
 */
async function missingTools(): Promise<string[]> {
  const tools = ['prometheus-node-exporter', 'wrk', 'iperf3', 'clang'];
  const found = await Promise.all(
    tools.map((tool) =>
      run('sh', ['-c', `command -v ${tool}`]).then(
        () => true,
        () => false,
      ),
    ),
  );
  return tools.filter((_, i) => !found[i]);
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const positive = (v: unknown): boolean => finite(v) && v > 0;

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : null))));
}

test('bench --smoke runs every part and reports well-formed numbers', { timeout: 600_000 }, async (t) => {
  const missing = await missingTools();
  if (missing.length > 0) return t.skip(`not installed: ${missing.join(', ')} (scripts/install.sh bench installs them)`);
  const dir = await mkdtemp(join(tmpdir(), 'netprobe-bench-smoke-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const json = join(dir, 'results.json');
  const child = spawn(process.execPath, ['--import', 'tsx', benchEntry, '--smoke', `--json=${json}`], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => void child.kill('SIGINT'));
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await exitOf(child);
  assert.equal(code, 0, `bench --smoke failed:\n${output}`);
  assert.deepEqual(await namespacesOf(child.pid!), [], 'the bench left namespaces behind');

  const { parts, failed } = JSON.parse(await readFile(json, 'utf8')) as { parts: PartResult[]; failed: boolean };
  assert.equal(failed, false);
  assert.deepEqual(parts.map((p) => p.part).sort(), PARTS.map((p) => p.name).sort());
  const part = (name: string): PartResult => parts.find((p) => p.part === name)!;
  for (const p of parts) {
    assert.ok(
      p.tables.length > 0 && p.tables.every((tb) => tb.rows.length > 0 && tb.rows.every((r) => r.length === tb.headers.length)),
      `${p.part}: malformed table`,
    );
  }

  // Part 1: every shipped-program path counted every run, and its ratio to the floor is a real number.
  const cost = part('cost').data as {
    rows: Array<{ program: string; nsMedian: number; ratioMedian: number; counted: number | null }>;
    plan: { rounds: number; repeat: number; frameSizes: number[] };
  };
  const expected = cost.plan.rounds * cost.plan.repeat * cost.plan.frameSizes.length;
  for (const r of cost.rows) {
    assert.ok(positive(r.nsMedian) && positive(r.ratioMedian), `cost row ${r.program}: ${JSON.stringify(r)}`);
    if (r.program.startsWith('netprobe_')) assert.equal(r.counted, expected, `${r.program} did not count on the measured path`);
  }

  // Part 1c: every storm round dropped exactly what was sent (UdpNoPorts; the meter's no_socket count when attached).
  const drop = part('drop-cost').data as {
    plan: { rounds: number; datagrams: number };
    without: Array<{ sent: number; noPorts: number; cpuNs: number; wallNs: number }>;
    withMeter: Array<{ sent: number; noPorts: number; metered: number; cpuNs: number; wallNs: number }>;
    cpuRatioMedian: number;
    wallRatioMedian: number;
    runRatioMedian: number;
    counted: boolean;
    runsMatch: boolean;
    idleDropsPerSecondByReason: Record<string, number>;
    idleNotSpecifiedPerSecond: number;
  };
  assert.equal(drop.without.length, drop.plan.rounds);
  assert.equal(drop.withMeter.length, drop.plan.rounds);
  for (const r of [...drop.without, ...drop.withMeter]) {
    assert.equal(r.sent, drop.plan.datagrams);
    assert.equal(r.noPorts, r.sent, "the receiver's UdpNoPorts grew by the datagrams sent");
    assert.ok(positive(r.cpuNs) && positive(r.wallNs), `drop-cost round: ${JSON.stringify(r)}`);
  }
  for (const r of drop.withMeter)
    assert.equal(r.metered, r.sent, "the meter counted every datagram as a no_socket drop of the receiver's namespace");
  assert.ok(drop.counted && drop.runsMatch, 'drop-cost: counts verified');
  // The quiet window's drops by reason: rates, never negative; not_specified's is the one the docs quote.
  for (const [reason, rate] of Object.entries(drop.idleDropsPerSecondByReason))
    assert.ok(Number.isFinite(rate) && rate > 0, `idle drops of ${reason}: ${rate}`);
  assert.equal(drop.idleNotSpecifiedPerSecond, drop.idleDropsPerSecondByReason.not_specified ?? 0);
  assert.ok(positive(drop.cpuRatioMedian) && positive(drop.wallRatioMedian) && positive(drop.runRatioMedian), 'drop-cost ratios');

  const throughput = part('throughput').data as Record<string, unknown> & { countedPackets: number[]; meterCountedPackets: number[] };
  for (const key of ['tcp|none', 'tcp|tcx', 'tcp|tc', 'tcp|all', 'udp64|none', 'udp64|tcx', 'udp64|tc', 'udp64|all']) {
    const v = throughput[key] as { median: number; ratio: number };
    assert.ok(positive(v.median) && positive(v.ratio), `throughput ${key}: ${JSON.stringify(v)}`);
  }
  assert.ok(
    throughput.countedPackets.length === 6 && throughput.countedPackets.every(positive),
    'netprobe counted packets in each attached round',
  );
  assert.ok(
    throughput.meterCountedPackets.length === 1 && throughput.meterCountedPackets.every(positive),
    "the socket meter counted the two pods' packets in its round",
  );

  const collection = part('collection').data as Record<
    string,
    { fullMedian: number; readMedian: number; rows: number; interfaces: number }
  >;
  for (const source of ['ebpf', 'netdev']) {
    const v = collection[`10|${source}`]!;
    assert.ok(positive(v.fullMedian) && positive(v.readMedian), `collection ${source}: ${JSON.stringify(v)}`);
    // 10 veths plus lo, both directions.
    assert.equal(v.rows, 22, `collection ${source}: rows`);
  }

  const scrape = part('scrape').data as {
    sizes: Array<{
      size: number;
      bytes: Record<string, { plainBytes: number; gzipBytes: number; series: number }>;
      p50: Record<string, number>;
      cpuMsPerScrape: Record<string, number>;
    }>;
    svg: string;
  };
  for (const s of scrape.sizes) {
    for (const name of ['netprobe', 'node_exporter']) {
      const b = s.bytes[name]!;
      assert.ok(positive(b.series) && positive(b.gzipBytes) && b.gzipBytes < b.plainBytes, `scrape ${name} bytes: ${JSON.stringify(b)}`);
      assert.ok(positive(s.p50[name]) && finite(s.cpuMsPerScrape[name]) && s.cpuMsPerScrape[name] >= 0, `scrape ${name} numbers`);
    }
  }
  assert.match(scrape.svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"[\s\S]*<path d="M[\d.]+,[\d.]+/);

  const hotplug = part('hotplug').data as { latenciesMs: number[] };
  assert.ok(hotplug.latenciesMs.length === 2 && hotplug.latenciesMs.every(positive), `hotplug: ${JSON.stringify(hotplug)}`);

  const memory = part('memory').data as Record<
    string,
    { warm: number; end: number; median: number; peak: number; cgroupPeak: number; scrapes: number }
  >;
  const cgroupV1 = existsSync('/sys/fs/cgroup/memory/cgroup.procs');
  for (const name of ['netprobe', 'node_exporter']) {
    const m = memory[`10|${name}`]!;
    assert.ok(positive(m.warm) && positive(m.end) && positive(m.median) && positive(m.scrapes), `memory ${name}: ${JSON.stringify(m)}`);
    // The peak (VmHWM) covers every sample; each process had a memory cgroup of its own where there is a v1 controller.
    assert.ok(positive(m.peak) && m.peak >= m.median, `memory ${name} peak: ${JSON.stringify(m)}`);
    if (cgroupV1) assert.ok(positive(m.cgroupPeak), `memory ${name} cgroup peak: ${JSON.stringify(m)}`);
  }
  if (cgroupV1)
    assert.deepEqual(
      readdirSync('/sys/fs/cgroup/memory').filter((d) => d.startsWith(`netprobe-bench-${child.pid!}-`)),
      [],
      'the bench left memory cgroups behind',
    );

  // Part 5b: this tree and 0.2.0 (built from its commit) each measured with 10 interfaces and 2 pods; nothing left.
  const pods = part('memory-pods').data as Record<string, unknown> & {
    interfaces: number;
    pods: number;
    trafficPid: number;
  };
  assert.equal(pods.interfaces, 10);
  assert.equal(pods.pods, 2);
  for (const version of ['current', 'release']) {
    const m = pods[version] as { median: number; peak: number; file: number; scrapes: number; failedScrapes: number };
    assert.ok(positive(m.median) && positive(m.file) && positive(m.scrapes), `memory-pods ${version}: ${JSON.stringify(m)}`);
    assert.ok(positive(m.peak) && m.peak >= m.median, `memory-pods ${version} peak: ${JSON.stringify(m)}`);
  }
  assert.equal(alive(pods.trafficPid), false, "the pods' traffic process outlived the bench");
  assert.deepEqual(
    readdirSync(UNIFIED).filter((d) => d.startsWith(`np-${child.pid!}-`)),
    [],
    "the bench left the pods' cgroups behind",
  );
  assert.deepEqual(
    readdirSync(tmpdir()).filter((d) => d.startsWith(`netprobe-release-${child.pid!}-`)),
    [],
    'the bench left the release build behind',
  );

  // Part 7: both attach modes started (every interface attached, then exported), stopped with status 0, left nothing.
  const lifecycle = part('lifecycle').data as {
    size: number;
    rounds: Array<{
      mode: string;
      attachedSeconds: number;
      exportedSeconds: number;
      stopSeconds: number;
      exitCode: number;
      leftovers: string[];
    }>;
  };
  assert.deepEqual(
    lifecycle.rounds.map((r) => r.mode),
    ['tcx', 'tc'],
  );
  for (const r of lifecycle.rounds) {
    assert.ok(
      positive(r.attachedSeconds) && r.exportedSeconds >= r.attachedSeconds && positive(r.stopSeconds),
      `lifecycle ${JSON.stringify(r)}`,
    );
    assert.equal(r.exitCode, 0, `lifecycle ${r.mode}: exit status`);
    assert.deepEqual(r.leftovers, [], `lifecycle ${r.mode}: leftovers`);
  }
});

test('Ctrl-C during a bench removes what it created and exits 130', { timeout: 240_000 }, async (t) => {
  const missing = await missingTools();
  if (missing.length > 0) return t.skip(`not installed: ${missing.join(', ')} (scripts/install.sh bench installs them)`);
  const child = spawn(process.execPath, ['--import', 'tsx', benchEntry, '--smoke', '--only=scrape'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => void child.kill('SIGKILL'));
  let output = '';
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  // Wait until both exporters run inside the bench's namespace, then interrupt.
  const deadline = Date.now() + 180_000; // the bench builds dist/ first: slow on a busy machine
  let started: number[] = [];
  while (Date.now() < deadline && started.length < 2) {
    started = (await Promise.all((await namespacesOf(child.pid!)).map(pidsIn))).flat();
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(started.length >= 2, `the bench never started its exporters:\n${output}`);
  child.kill('SIGINT');
  assert.equal(await exitOf(child), 130, output);
  assert.deepEqual(await namespacesOf(child.pid!), [], 'namespaces left after Ctrl-C');
  // A process the bench ended may still be exiting (reparented, not yet reaped) when the bench is gone.
  for (let i = 0; i < 50 && started.some(alive); i++) await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(started.filter(alive), [], 'processes left after Ctrl-C');
});
