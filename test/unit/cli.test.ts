/**
 * The real `netprobe` command on invalid input, --help and --version: no
 * root and no kernel needed, since configuration is settled before anything
 * is loaded or attached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function netprobe(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 180_000 }, // generous: a busy CI machine starts tsx slowly
      (error, stdout, stderr) => {
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

const dir = mkdtempSync(join(tmpdir(), 'netprobe-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('invalid input exits 2 with one line per problem naming the field, the value and what is allowed', async (t) => {
  const unreadable = join(dir, 'missing.yaml');
  const cases: Array<{ args: string[]; env?: Record<string, string>; lines: RegExp[] }> = [
    { args: ['--no-such-flag'], lines: [/^netprobe: --no-such-flag: unknown flag; see --help$/] },
    { args: ['--web.listen-addres=:1'], lines: [/^netprobe: --web\.listen-addres: unknown flag \(did you mean --web\.listen-address\?\)/] },
    {
      args: ['--web.listen-address=:65536'],
      lines: [/^netprobe: --web\.listen-address=":65536": port 65536 is out of range: must be from 0 to 65535$/],
    },
    { args: ['--collector.interval=5'], lines: [/^netprobe: --collector\.interval="5": must be a duration like 500ms, 5s/] },
    { args: ['--collector.active-window=forever'], lines: [/^netprobe: --collector\.active-window="forever": must be a duration/] },
    {
      args: ['--ebpf.include=eth 0'],
      lines: [/^netprobe: --ebpf\.include="eth 0": interface pattern "eth 0": interface names never contain white space/],
    },
    { args: ['--source=magic'], lines: [/^netprobe: --source="magic": must be one of auto, ebpf, netdev$/] },
    {
      args: [],
      env: { NETPROBE_LOG_LEVEL: 'chatty' },
      lines: [/^netprobe: NETPROBE_LOG_LEVEL="chatty": must be one of debug, info, warn, error$/],
    },
    {
      args: [`--config.file=${unreadable}`],
      lines: [/^netprobe: --config\.file=".*missing\.yaml": cannot read the config file: no such file$/],
    },
    { args: [`--config.file=${dir}`], lines: [/^netprobe: --config\.file=".*": cannot read the config file: it is a directory$/] },
    { args: [`--config.file=${file('bad.yaml', 'server: [\n')}`], lines: [/^netprobe: .*bad\.yaml: not valid YAML: /] },
    {
      args: [`--config.file=${file('typo.yaml', 'server:\n  prot: 80\n')}`],
      lines: [/^netprobe: .*typo\.yaml: server\.prot: unknown key \(did you mean server\.port\?\)$/],
    },
    {
      args: [`--web.config.file=${unreadable}`],
      lines: [/^netprobe: --web\.config\.file=".*missing\.yaml": cannot read the web config file: no such file$/],
    },
    {
      args: ['--log.level=loud', '--web.max-header-bytes=10', 'extra'],
      env: { NETPROBE_COLLECTOR_INTERVAL: '1 second' },
      lines: [
        /^netprobe: --log\.level="loud": must be one of/,
        /^netprobe: --web\.max-header-bytes="10": must be an integer from 1024/,
        /^netprobe: argument="extra": unexpected argument/,
        /^netprobe: NETPROBE_COLLECTOR_INTERVAL="1 second": must be a duration/,
      ],
    },
  ];
  await Promise.all(
    cases.map((c) =>
      t.test(`${c.args.join(' ')} ${JSON.stringify(c.env ?? {})}`, async () => {
        const run = await netprobe(c.args, c.env);
        assert.equal(run.status, 2, run.stderr);
        assert.equal(run.stdout, '');
        const lines = run.stderr.trimEnd().split('\n');
        assert.equal(lines.length, c.lines.length, run.stderr);
        c.lines.forEach((pattern, i) => assert.match(lines[i] as string, pattern));
        assert.doesNotMatch(run.stderr, /\bat .*\.(ts|js):\d+/, 'no stack trace');
      }),
    ),
  );
});

test('--help prints every option with its default and env var, and exits 0', async () => {
  const run = await netprobe(['--help']);
  assert.equal(run.status, 0);
  assert.match(run.stdout, /^netprobe \S+: /);
  for (const flag of [
    '--web.listen-address=<host:port>',
    '--web.telemetry-path',
    '--web.config.file',
    '--log.level',
    '--log.format',
    '--collector.interval',
    '--collector.active-window',
    '--collector.interface-filter',
    '--[no-]collector.active-only',
    '--ebpf.attach-mode',
    '--ebpf.include',
    '--ebpf.exclude',
    '--source',
    '--web.read-timeout',
    '--web.write-timeout',
    '--web.max-header-bytes',
    '--[no-]web.enable-cors',
    '--[no-]web.enable-gzip',
    '--config.file',
    '--check',
    '--version',
  ]) {
    assert.ok(run.stdout.includes(flag), flag);
  }
  assert.match(run.stdout, /\(default: :8081; env: NETPROBE_WEB_LISTEN_ADDRESS\)/);
});

test('--version prints the package version and exits 0', async () => {
  const run = await netprobe(['--version']);
  assert.deepEqual(run, { status: 0, stdout: `netprobe ${VERSION}\n`, stderr: '' });
});
