/**
 * The CLI's start-up measures for its footprint (issue 11): which V8 flags a
 * process still lacks, the restart with them (same PID, arguments, loader
 * and NODE_OPTIONS kept), and the trim of read-only file pages. The real
 * command runs here with the netdev source on a loopback port; the memory
 * effect itself is measured in bench part 5, not asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isShortLivedCommand, missingRuntimeFlags, RUNTIME_FLAGS } from '../../src/cli/runtime-flags.js';
import { trimmableMappings, trimStartupPages } from '../../src/cli/trim-startup-pages.js';
import { silentLogger } from '../../src/log/logger.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

test('missing runtime flags: what execArgv or NODE_OPTIONS already name is left to them, whatever its value', () => {
  const wanted = ['--max-semi-space-size=1', '--optimize-for-size'];
  assert.deepEqual(missingRuntimeFlags(wanted, [], undefined), wanted);
  assert.deepEqual(missingRuntimeFlags(wanted, ['--import', 'tsx'], ''), wanted);
  assert.deepEqual(missingRuntimeFlags(wanted, ['--max-semi-space-size=1', '--optimize-for-size'], undefined), []);
  assert.deepEqual(missingRuntimeFlags(wanted, [], '--max-semi-space-size=16'), ['--optimize-for-size']);
  assert.deepEqual(missingRuntimeFlags(wanted, ['--max_semi_space_size=8'], '  --no-optimize-for-size '), []);
  assert.ok(RUNTIME_FLAGS.includes('--max-semi-space-size=1'));
});

test('short-lived commands are not restarted', () => {
  for (const argv of [['--help'], ['-h'], ['--version'], ['--check'], ['--check=true'], ['top', '--once']])
    assert.equal(isShortLivedCommand(argv), true, argv.join(' '));
  for (const argv of [[], ['--source=netdev'], ['--', '--help'], ['--collector.interval=1s']])
    assert.equal(isShortLivedCommand(argv), false, argv.join(' '));
});

test('trimmable mappings: read-only, file-backed, never written (no private copy)', () => {
  const smaps = [
    '00400000-00b6f000 r--p 00000000 08:01 123 /usr/bin/node',
    'Rss:                5944 kB',
    'Anonymous:             0 kB',
    '00b72000-025fe000 r-xp 00772000 08:01 123 /usr/bin/node',
    'Rss:               16632 kB',
    'Anonymous:             0 kB',
    '0563a000-0563e000 r--p 0523a000 08:01 123 /usr/bin/node',
    'Rss:                  16 kB',
    'Anonymous:            16 kB',
    '0563e000-0565d000 rw-p 0523e000 08:01 123 /usr/bin/node',
    'Rss:                 124 kB',
    'Anonymous:             0 kB',
    '7f0000000000-7f0000100000 r-xp 00000000 00:00 0 ',
    'Rss:                 100 kB',
    'Anonymous:           100 kB',
    '7f0000200000-7f0000300000 r--p 00000000 08:01 9 /usr/lib/libz.so',
    'Rss:                   0 kB',
    'Anonymous:             0 kB',
    '7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]',
    'Rss:                   8 kB',
    'Anonymous:             0 kB',
  ].join('\n');
  assert.deepEqual(trimmableMappings(smaps), [
    { start: 0x400000n, end: 0xb6f000n, path: '/usr/bin/node', rss: 5944 * 1024 },
    { start: 0xb72000n, end: 0x25fe000n, path: '/usr/bin/node', rss: 16632 * 1024 },
  ]);
});

test('trimming this process drops resident file pages, and the process runs on', () => {
  const fileRss = (): number => Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
  const before = fileRss();
  const dropped = trimStartupPages(silentLogger());
  const after = fileRss();
  assert.ok(dropped > 0, 'nothing was trimmed');
  assert.ok(after < before, `RssFile ${before} → ${after}`);
  // Code paged out is read back on use.
  assert.equal((JSON.parse(JSON.stringify({ ok: [1, 2, 3] })) as { ok: number[] }).ok.length, 3);
});

interface Started {
  pid: number;
  cmdline: string[];
  stop(): Promise<number | null>;
}

/** Starts the real command (netdev source, loopback port 0) and reads its command line once it listens. */
async function startCli(env: NodeJS.ProcessEnv): Promise<Started> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, '--source=netdev', '--web.listen-address=127.0.0.1:0', '--log.level=info'],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" within 60 s:\n${log}`)), 60_000);
    child.stderr.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}:\n${log}`)));
  });
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  return {
    pid: child.pid!,
    cmdline,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

test(
  'the command restarts node with its runtime flags: same PID, loader and arguments kept, exits 0 on SIGTERM',
  { timeout: 90_000 },
  async (t) => {
    const cli = await startCli({});
    t.after(() => cli.stop());
    for (const flag of RUNTIME_FLAGS) assert.ok(cli.cmdline.includes(flag), `${flag} missing from ${cli.cmdline.join(' ')}`);
    const script = cli.cmdline.indexOf(MAIN);
    assert.ok(script > 0, cli.cmdline.join(' '));
    assert.deepEqual(cli.cmdline.slice(script + 1), ['--source=netdev', '--web.listen-address=127.0.0.1:0', '--log.level=info']);
    assert.ok(cli.cmdline.slice(0, script).join(' ').includes('--import tsx'), 'the loader option survived');
    assert.equal(await cli.stop(), 0);
  },
);

test("a semi-space size in NODE_OPTIONS is the operator's: not overridden, the other flag still added", { timeout: 90_000 }, async (t) => {
  const cli = await startCli({ NODE_OPTIONS: '--max-semi-space-size=4' });
  t.after(() => cli.stop());
  assert.ok(!cli.cmdline.some((a) => a.startsWith('--max-semi-space-size')), cli.cmdline.join(' '));
  assert.ok(cli.cmdline.includes('--optimize-for-size'), cli.cmdline.join(' '));
  assert.equal(await cli.stop(), 0);
});
