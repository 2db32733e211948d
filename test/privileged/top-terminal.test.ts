/**
 * `netprobe top` as a person uses it: under tmux (a real terminal), against
 * the real `netprobe` CLI counting a veth pair with iperf3 traffic in a test
 * namespace. The busy interface is listed first; keys sort and filter; `q`
 * quits with status 0. `--once` prints a plain table; a second exporter with
 * TLS and basic auth, and a third that requires a client certificate, show
 * that top speaks all three, and that refusals are one clear line and a
 * non-zero status, never a stack trace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { Netns, vethBetween, type VethPair } from '../support/netns.js';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { quietIpv6 } from '../support/traffic.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

const run = promisify(execFile);
const PASSWORD = 'top-secret-pw';

let left: Netns;
let right: Netns;
let busy: VethPair;
let quiet: VethPair;
let np: NetprobeProcess;
let secured: NetprobeProcess;
let mutual: NetprobeProcess;
let dir: string;
let pki: TestPki;
const tmuxSocket = `np-top-${process.pid}-${Date.now().toString(36)}`;
const traffic: ChildProcess[] = [];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'np-top-'));
  pki = await makeTestPki(dir);
  left = await Netns.create('nptl');
  right = await Netns.create('nptr');
  await quietIpv6(left, right);
  busy = await vethBetween(left, right);
  quiet = await vethBetween(left, right);
  np = await startNetprobe(left, ['--source=ebpf', '--collector.interval=1s']);
  await writeFile(
    join(dir, 'web.yml'),
    [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      'basic_auth_users:',
      `  prometheus: ${bcrypt.hashSync(PASSWORD, 4)}`,
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'password'), `${PASSWORD}\n`);
  secured = await startNetprobe(left, ['--source=netdev', `--web.config.file=${join(dir, 'web.yml')}`]);
  await writeFile(
    join(dir, 'mtls.yml'),
    [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca_file: ${pki.caCert}`,
      '',
    ].join('\n'),
  );
  mutual = await startNetprobe(left, ['--source=netdev', `--web.config.file=${join(dir, 'mtls.yml')}`]);
  const port = String(20_000 + Math.floor(Math.random() * 20_000));
  traffic.push(right.spawn('iperf3', ['-s', '-B', busy.addrB, '-p', port, '-1']));
  await sleep(500);
  traffic.push(left.spawn('iperf3', ['-c', busy.addrB, '-p', port, '-t', '60', '-b', '20M', '--connect-timeout', '3000']));
  await sleep(3000); // a few collections with traffic
});

after(async () => {
  await run('tmux', ['-L', tmuxSocket, 'kill-server']).catch(() => undefined);
  for (const p of traffic) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await np?.stop('SIGKILL');
  await secured?.stop('SIGKILL');
  await mutual?.stop('SIGKILL');
  await left?.delete();
  await right?.delete();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs `netprobe top ARGS` inside `left` to completion. */
async function top(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, nodeArgs] = cliCommand(['top', ...args]);
  try {
    const { stdout, stderr } = await run('ip', ['netns', 'exec', left.name, node, ...nodeArgs], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

function tmux(args: string[]): Promise<string> {
  return run('tmux', ['-L', tmuxSocket, ...args], { timeout: 10_000 }).then((r) => r.stdout);
}

/** Polls the tmux screen until `ok` accepts it. */
async function screenUntil(ok: (screen: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < deadline) {
    screen = await tmux(['capture-pane', '-p', '-t', 'top']);
    if (ok(screen)) return screen;
    await sleep(200);
  }
  assert.fail(`${what}; the screen was:\n${screen}`);
}

/** The interface names in the table on a screen (or in --once output), in order. */
function tableNames(text: string): string[] {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => l.startsWith('INTERFACE'));
  if (head < 0) return [];
  return lines
    .slice(head + 1)
    .map((l) => l.split(/\s+/)[0]!)
    .filter(Boolean);
}

test('--once: one plain table, the busy interface first, exit 0', async () => {
  const r = await top([`--url=http://127.0.0.1:${np.port}`, '--once']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(!r.stdout.includes('\x1b'), 'no escape sequences in --once output');
  assert.match(r.stdout, /^netprobe \S+ at http:\/\/127\.0\.0\.1:\d+ · source ebpf\/tcx · up /);
  assert.match(r.stdout, /^status: ok$/m);
  const names = tableNames(r.stdout);
  assert.equal(names[0], busy.a, `busy first in:\n${r.stdout}`);
  assert.ok(names.includes(quiet.a) && names.includes('lo'), 'every interface listed');
  const row = r.stdout.split('\n').find((l) => l.startsWith(busy.a))!;
  assert.match(row, /\d(\.\d+)? M\s/, `busy row shows MB/s: ${row}`);
});

test('under tmux: busy interface first, keys sort and filter, q quits with status 0', async () => {
  const status = join(dir, 'top-status');
  const [node, nodeArgs] = cliCommand(['top', `--url=http://127.0.0.1:${np.port}`, '--interval=1']);
  const command = ['ip', 'netns', 'exec', left.name, node, ...nodeArgs].map((a) => `'${a}'`).join(' ');
  await tmux(['new-session', '-d', '-s', 'top', '-x', '130', '-y', '30', `${command}; echo $? > '${status}'; sleep 60`]);

  let screen = await screenUntil((s) => tableNames(s).length >= 3 && tableNames(s)[0] === busy.a, 'busy interface first');
  assert.match(screen, /sort: bytes\/s/);
  assert.match(screen, /source ebpf\/tcx/);

  await tmux(['send-keys', '-t', 'top', 'n']);
  screen = await screenUntil((s) => /sort: name/.test(s), 'sorted by name after n');
  const byName = tableNames(screen);
  assert.deepEqual(byName, [...byName].sort());

  await tmux(['send-keys', '-t', 'top', '/']);
  await tmux(['send-keys', '-t', 'top', '-l', quiet.a]);
  await tmux(['send-keys', '-t', 'top', 'Enter']);
  screen = await screenUntil((s) => tableNames(s).length === 1, 'one row after filtering');
  assert.deepEqual(tableNames(screen), [quiet.a]);
  assert.match(screen, new RegExp(`filter: ${quiet.a}`));

  await tmux(['send-keys', '-t', 'top', 'Escape']);
  await tmux(['send-keys', '-t', 'top', 'b']);
  await screenUntil((s) => tableNames(s)[0] === busy.a && /sort: bytes\/s/.test(s), 'back to bytes/s, unfiltered');

  await tmux(['send-keys', '-t', 'top', 'q']);
  const deadline = Date.now() + 10_000;
  let code = '';
  while (Date.now() < deadline && code === '') {
    code = await readFile(status, 'utf8').catch(() => '');
    await sleep(100);
  }
  assert.equal(code.trim(), '0', 'q quits with status 0');
});

test('TLS and basic auth like a scraper; refusals are one line and a non-zero status', async () => {
  const url = `--url=https://127.0.0.1:${secured.port}`;
  const ok = await top([
    url,
    `--tls.ca-file=${pki.caCert}`,
    '--tls.server-name=localhost',
    '--auth.username=prometheus',
    `--auth.password-file=${join(dir, 'password')}`,
    '--once',
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /source netdev/);

  const oneLine = (r: { code: number; stdout: string; stderr: string }, pattern: RegExp): void => {
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  };
  oneLine(await top([url, '--once']), /^netprobe top: cannot read https:\/\/127\.0\.0\.1:\d+: TLS failed: .*--tls\.ca-file/);
  oneLine(
    await top([url, `--tls.ca-file=${pki.caCert}`, '--tls.server-name=localhost', '--once']),
    /refused the credentials \(HTTP 401\); it asks for basic auth: pass --auth\.username/,
  );
  oneLine(
    await top([url, '--tls.insecure-skip-verify', '--auth.username=prometheus', '--auth.password=wrong', '--once']),
    /refused the credentials \(HTTP 401\); check --auth\.username and the password/,
  );
  oneLine(
    await top(['--url=http://127.0.0.1:1', '--once']),
    /^netprobe top: cannot read http:\/\/127\.0\.0\.1:1: connection refused; is netprobe running there\? check --url/,
  );
  const mtls = [`--url=https://127.0.0.1:${mutual.port}`, `--tls.ca-file=${pki.caCert}`, '--tls.server-name=localhost', '--once'];
  const withCert = await top([...mtls, `--tls.cert-file=${pki.clientCert}`, `--tls.key-file=${pki.clientKey}`]);
  assert.equal(withCert.code, 0, withCert.stderr);
  assert.match(withCert.stdout, /source netdev/);
  oneLine(await top(mtls), /TLS failed: .*it asks for a client certificate: pass --tls\.cert-file and --tls\.key-file/);
  const usage = await top(['--nope']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /^netprobe top: unknown flag --nope; see netprobe top --help\n$/);
});
