/**
 * Config fuzz: random combinations of flags, environment variables and config
 * file keys — valid and invalid values, unknown names, malformed YAML, stray
 * arguments — given to the real CLI. Invalid input must exit 2 with one
 * `netprobe: ` line per problem naming the value, never a stack trace; fully
 * valid input must start serving and exit 0 on SIGTERM. The valid runs attach
 * eBPF, so every run happens inside a test namespace (one per worker).
 * Reproduce a failure with NP_FUZZ_SEED=<seed from the diagnostics>.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Netns } from '../support/netns.js';
import { cliCommand } from '../support/netprobe-process.js';

const RUNS = 60;
const WORKERS = 3;
const seed = Number(process.env['NP_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seedable, good enough to pick cases. */
function rng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Knob {
  flag: string;
  file: string;
  valid: Array<string | number | boolean>;
  invalid: Array<string | number>;
}
const KNOBS: Knob[] = [
  { flag: 'collector.interval', file: 'collectInterval', valid: ['1s', '500ms', '2m'], invalid: ['-1s', '5x', '10ms', '2h', '1'] },
  { flag: 'collector.active-window', file: 'activeWindow', valid: ['5m', '30s'], invalid: ['abc', '5 m'] },
  { flag: 'web.read-timeout', file: 'server.readTimeout', valid: ['2s', '1m'], invalid: ['forever', '0.5.1s'] },
  { flag: 'web.write-timeout', file: 'server.writeTimeout', valid: ['3s'], invalid: ['-3s'] },
  { flag: 'web.max-header-bytes', file: 'server.maxHeaderBytes', valid: [8192, 1048576], invalid: [10, 'big', -5] },
  { flag: 'web.enable-gzip', file: 'server.enableGzip', valid: [true, false], invalid: ['maybe'] },
  { flag: 'web.enable-cors', file: 'server.enableCors', valid: [true, false], invalid: ['yes please'] },
  { flag: 'web.telemetry-path', file: 'server.path', valid: ['/m', '/metrics'], invalid: ['metrics', '/a b'] },
  { flag: 'log.level', file: 'logLevel', valid: ['debug', 'warn', 'error'], invalid: ['loud', '7'] },
  { flag: 'log.format', file: 'logFormat', valid: ['json', 'text'], invalid: ['xml'] },
  { flag: 'source', file: 'source', valid: ['auto', 'netdev', 'ebpf'], invalid: ['bpf', 'kernel'] },
  { flag: 'ebpf.attach-mode', file: 'ebpf.attachMode', valid: ['auto', 'tc', 'tcx'], invalid: ['xdp'] },
  { flag: 'collector.interface-filter', file: 'interfaceFilter', valid: ['lo', 'eth*'], invalid: ['[', 'a[b'] },
  { flag: 'collector.active-only', file: 'enableActiveOnly', valid: [true, false], invalid: ['2'] },
];
const envOf = (flag: string): string => `NETPROBE_${flag.replace(/[.-]/g, '_').toUpperCase()}`;

interface Case {
  args: string[];
  env: Record<string, string>;
  file: string | undefined;
  invalidValues: string[];
  invalid: boolean;
  summary: string;
}

function makeCase(next: () => number, fileDir: string, n: number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const args: string[] = [];
  const env: Record<string, string> = {};
  const fileLines: string[] = [];
  const invalidValues: string[] = [];
  const invalidFileValues: string[] = [];
  let invalid = false;
  const summary: string[] = [];
  const knobs = KNOBS.filter(() => next() < 0.35);
  for (const k of knobs) {
    const bad = next() < 0.2;
    const value = bad ? pick(k.invalid) : pick(k.valid);
    const layer = pick(['flag', 'env', 'file'] as const);
    if (bad) {
      invalid = true;
      (layer === 'file' ? invalidFileValues : invalidValues).push(String(value));
    }
    summary.push(`${layer}:${k.flag}=${String(value)}`);
    if (layer === 'flag') args.push(`--${k.flag}=${String(value)}`);
    else if (layer === 'env') env[envOf(k.flag)] = String(value);
    else {
      const [a, b] = k.file.split('.');
      fileLines.push(b ? `${a}:\n  ${b}: ${JSON.stringify(value)}` : `${a}: ${JSON.stringify(value)}`);
    }
  }
  const roll = next();
  if (roll < 0.07) {
    args.push('--bogus.flag=1');
    invalid = true;
    invalidValues.push('--bogus.flag');
    summary.push('unknown flag');
  } else if (roll < 0.12) {
    fileLines.push('colectInterval: 5s');
    invalid = true;
    invalidValues.push('colectInterval');
    summary.push('unknown file key');
  } else if (roll < 0.16) {
    args.push('stray');
    invalid = true;
    invalidValues.push('stray');
    summary.push('stray argument');
  }
  // A malformed file cannot be read, so the bad values in it cannot be named.
  else if (roll < 0.2) {
    fileLines.push('a: [');
    invalid = true;
    invalidFileValues.length = 0;
    summary.push('malformed YAML');
  } else if (roll < 0.23 && fileLines.length === 0) {
    args.push(`--config.file=${join(fileDir, 'missing.yml')}`);
    invalid = true;
    summary.push('missing config file');
  }
  // Section keys (server:, ebpf:) may repeat across knobs: merge them so the YAML stays valid.
  const file = fileLines.length > 0 ? join(fileDir, `case-${n}.yml`) : undefined;
  if (file) args.push(`--config.file=${file}`);
  return {
    args,
    env,
    file: file ? mergeYaml(fileLines) : undefined,
    invalidValues: [...invalidValues, ...invalidFileValues],
    invalid,
    summary: summary.join(' '),
  };
}

function mergeYaml(lines: string[]): string {
  const sections = new Map<string, string[]>();
  const top: string[] = [];
  for (const l of lines) {
    const m = /^(\w+):\n {2}(.*)$/.exec(l);
    if (m) sections.set(m[1]!, [...(sections.get(m[1]!) ?? []), `  ${m[2]}`]);
    else top.push(l);
  }
  return [...top, ...[...sections].map(([k, v]) => `${k}:\n${v.join('\n')}`)].join('\n') + '\n';
}

interface Outcome {
  code: number | string;
  stderr: string;
  started: boolean;
}

async function runCase(ns: Netns, c: Case, fileDir: string, n: number): Promise<Outcome> {
  if (c.file) await writeFile(join(fileDir, `case-${n}.yml`), c.file);
  // Only the listen address is fixed: port 0 in the namespace.
  const [node, nodeArgs] = cliCommand(['--web.listen-address=127.0.0.1:0', ...c.args]);
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...c.env };
  const proc = ns.spawn(node, nodeArgs, { env });
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((r) => proc.once('exit', (code, sig) => r(code ?? sig ?? -1)));
  let started = false;
  // A bound, not a speed target: a CLI start under tsx on a loaded CI machine can take a minute.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
    // Listening, whatever the log level: a LISTEN socket in the worker's own namespace.
    if (listening(proc.pid!, ns)) {
      started = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (proc.exitCode === null && proc.signalCode === null) proc.kill(started ? 'SIGTERM' : 'SIGKILL');
  const kill = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const code = await exited;
  clearTimeout(kill);
  return { code, stderr, started };
}

function listening(pid: number, ns: Netns): boolean {
  try {
    // Until `ip netns exec` has entered the namespace, /proc/<pid>/net shows the root one.
    if (readlinkSync(`/proc/${pid}/ns/net`) !== `net:[${statSync(`/run/netns/${ns.name}`).ino}]`) return false;
    return readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
      .split('\n')
      .slice(1)
      .some((l) => l.trim().split(/\s+/)[3] === '0A');
  } catch {
    return false;
  }
}

const namespaces: Netns[] = [];
let dir: string | undefined;
after(async () => {
  for (const ns of namespaces) await ns.delete();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test(`random flag/env/file combinations (${RUNS} runs): exit 2 with a message per problem, or serve and exit 0; never a stack trace`, async (t) => {
  t.diagnostic(`seed ${seed} (set NP_FUZZ_SEED to replay)`);
  dir = await mkdtemp(join(tmpdir(), 'np-fuzz-'));
  const next = rng(seed);
  const cases = Array.from({ length: RUNS }, (_, i) => makeCase(next, dir!, i));
  for (let w = 0; w < WORKERS; w++) namespaces.push(await Netns.create('npfuzz'));
  const outcomes = new Array<Outcome>(RUNS);
  await Promise.all(
    namespaces.map(async (ns, w) => {
      for (let i = w; i < RUNS; i += WORKERS) outcomes[i] = await runCase(ns, cases[i]!, dir!, i);
    }),
  );

  let valid = 0;
  for (const [i, c] of cases.entries()) {
    const o = outcomes[i]!;
    const where = `case ${i} [${c.summary || 'no settings'}]:\n${o.stderr.slice(0, 2000)}`;
    assert.doesNotMatch(o.stderr, /^\s+at .+:\d+:\d+\)?$/m, `stack trace in ${where}`);
    if (c.invalid) {
      assert.equal(o.code, 2, where);
      assert.equal(o.started, false, where);
      const lines = o.stderr.trim().split('\n');
      for (const l of lines) assert.match(l, /^netprobe: /, where);
      for (const v of c.invalidValues) assert.ok(o.stderr.includes(v), `the message must name ${JSON.stringify(v)}: ${where}`);
    } else {
      valid++;
      assert.equal(o.started, true, `valid input must start: ${where}`);
      assert.equal(o.code, 0, `SIGTERM must exit 0: ${where}`);
    }
  }
  t.diagnostic(`${RUNS} runs: ${RUNS - valid} invalid (all exit 2, no stack trace), ${valid} valid (all served and exited 0)`);
});
