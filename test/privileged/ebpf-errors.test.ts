/**
 * How the loader fails and reports: a verifier rejection (clear error, the
 * verifier log at debug level), a missing object file, a second
 * loadNetworkMonitor(), no libbpf.so.1; and `auto` says which mode it chose. Each case runs
 * the loader inside a fresh namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../support/netns.js';
import { Agent } from '../support/ebpf-agent-driver.js';
import { compileFixtureProgram } from '../support/bpf-compile.js';

async function namespace(t: { after: (fn: () => Promise<void>) => void }): Promise<Netns> {
  const ns = await Netns.create('npe');
  t.after(() => ns.delete());
  return ns;
}

test('a program the verifier rejects: NP_ERR_BPF_LOAD naming the object, the verifier log at debug', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'np-rejected-'));
  t.after(async () => rmSync(dir, { recursive: true, force: true }));
  const object = compileFixtureProgram('ebpf-rejected.bpf.c', dir);
  const ns = await namespace(t);
  const agent = Agent.start(ns, [`--object=${object}`], { env: { ...process.env, NP_AGENT_LOG: 'debug' } });
  t.after(() => agent.stop());
  const e = await agent.next(['ready']);
  assert.equal(e.code, 'NP_ERR_BPF_LOAD');
  assert.match(String(e.message), new RegExp(`load BPF object ${object}: the kernel rejected it`));
  assert.match(String(e.message), /--log.level=debug/);
  assert.equal(await agent.exited, 1);
  const debugLines = agent.log.split('\n').filter((l) => l.includes('"level":"debug"'));
  assert.ok(
    debugLines.some((l) => /invalid access to packet|R\d+ invalid mem access|BEGIN PROG LOAD LOG/.test(l)),
    'the verifier log is in the debug log',
  );
  assert.doesNotMatch(await ns.exec('tc', ['qdisc', 'show']), /clsact/);
});

test('a missing object file: the error names the path', { timeout: 60_000 }, async (t) => {
  const ns = await namespace(t);
  const agent = Agent.start(ns, ['--object=/nonexistent/netprobe.bpf.o']);
  t.after(() => agent.stop());
  const e = await agent.next(['ready']);
  assert.equal(e.code, 'NP_ERR_BPF');
  assert.match(String(e.message), /open BPF object \/nonexistent\/netprobe\.bpf\.o: ENOENT/);
  assert.equal(await agent.exited, 1);
});

test('auto picks tcx on this kernel and says so; a second loadNetworkMonitor() is refused', { timeout: 60_000 }, async (t) => {
  const ns = await namespace(t);
  const agent = Agent.start(ns, ['--mode=auto'], { env: { ...process.env, NP_AGENT_LOG: 'info' } });
  t.after(() => agent.stop());
  const ready = await agent.ready();
  const [major = 0, minor = 0] = execFileSync('uname', ['-r'], { encoding: 'utf8' }).split('.').map(Number);
  const hasTcx = major > 6 || (major === 6 && minor >= 6);
  // On a kernel with tcx, auto must choose it: a fallback here would hide a broken probe.
  assert.equal(ready.attachMode, hasTcx ? 'tcx' : 'tc');
  assert.match(agent.log, /attach mode auto: /);
  const again = await agent.request('reload', 'reloaded').catch((e: Error) => e);
  assert.ok(again instanceof Error && /already loaded/.test(again.message), JSON.stringify(again));
  assert.equal(await agent.close(), 0);
});

test('no libbpf.so.1: NP_ERR_NO_LIBBPF naming the package to install', { timeout: 60_000 }, async (t) => {
  // Hide the library in a private mount namespace (inside the test's network namespace).
  const path = /libbpf\.so\.1 \(.*\) => (\S+)/.exec(execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }))?.[1];
  assert.ok(path, 'libbpf.so.1 is installed');
  const ns = await namespace(t);
  const agent = Agent.start(ns, [], {
    wrapper: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind /dev/null ${path} && exec "$@"`, 'sh'],
  });
  t.after(() => agent.stop());
  const e = await agent.next(['ready']);
  assert.equal(e.code, 'NP_ERR_NO_LIBBPF');
  assert.match(String(e.message), /^load libbpf\.so\.1: /);
  assert.match(String(e.message), /apt-get install libbpf1/);
  assert.equal(await agent.exited, 1);
});
