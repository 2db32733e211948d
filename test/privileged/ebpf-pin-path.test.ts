/**
 * A pin path that is not on bpffs (issue 18 item 1). Under `ip netns exec`
 * /sys is a fresh sysfs, so /sys/fs/bpf is a plain sysfs directory there: a
 * recursive mkdir spun forever on it (100% CPU, no log line, SIGTERM
 * ignored). The CLI must instead exit promptly with NP_ERR_PIN_PATH naming
 * the path and the filesystem found, and create nothing. Each run is bounded:
 * not exited after the bound, it gets SIGTERM, then SIGKILL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filesystemName } from '../../src/bpf/filesystem-names.js';
import { Netns, uniqueTag } from '../support/netns.js';
import { cliCommand } from '../support/netprobe-process.js';

/** Generous for a busy machine; the fixed CLI exits within a few seconds. */
const EXIT_BOUND_MS = 45_000;

/** Runs the CLI in `ns` to its exit; past the bound, SIGTERM (is it answered?) then SIGKILL. */
async function runBounded(ns: Netns, args: string[]): Promise<{ code: number | string; out: string; exitedByItself: boolean }> {
  const [node, nodeArgs] = cliCommand(['--web.listen-address=127.0.0.1:0', '--log.format=json', '--source=ebpf', ...args]);
  const proc = ns.spawn(node, nodeArgs);
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let exitedByItself = true;
  const bound = setTimeout(() => {
    exitedByItself = false;
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 5_000).unref();
  }, EXIT_BOUND_MS);
  const code = await exited;
  clearTimeout(bound);
  return { code, out, exitedByItself };
}

test(
  'a pin path under a plain sysfs /sys/fs/bpf (ip netns exec): prompt NP_ERR_PIN_PATH naming sysfs, nothing created',
  { timeout: 120_000 },
  async (t) => {
    const ns = await Netns.create('nppinsys');
    t.after(() => ns.delete());
    // Inside `ip netns exec` /sys/fs/bpf is sysfs: check that, so the test proves what it says.
    const fsType = await ns.exec('stat', ['-f', '-c', '%T', '/sys/fs/bpf']);
    assert.equal(fsType.trim(), 'sysfs');
    const pinPath = `/sys/fs/bpf/np-${uniqueTag()}/netprobe`;
    const { code, out, exitedByItself } = await runBounded(ns, [`--ebpf.pin-path=${pinPath}`]);
    assert.ok(exitedByItself, `did not exit within ${EXIT_BOUND_MS} ms (exit ${code} after SIGTERM/SIGKILL):\n${out}`);
    assert.equal(code, 1, out);
    assert.match(out, /"code":"NP_ERR_PIN_PATH"/, out);
    assert.ok(
      out.includes(
        `--ebpf.pin-path ${pinPath}: its nearest existing parent /sys/fs/bpf is on sysfs, not on a bpffs mount; nothing was created`,
      ),
      out,
    );
    assert.match(out, /mount -t bpf bpf \/sys\/fs\/bpf/, out);
    assert.doesNotMatch(out, /exporter listening/, out);
  },
);

test('a pin path on an ordinary filesystem: NP_ERR_PIN_PATH naming it, and no directory left behind', { timeout: 120_000 }, async (t) => {
  const ns = await Netns.create('nppinext');
  const base = mkdtempSync(join(tmpdir(), 'np-pin-notbpf-'));
  t.after(async () => {
    await ns.delete();
    rmSync(base, { recursive: true, force: true });
  });
  const pinPath = join(base, 'a', 'netprobe');
  const { code, out, exitedByItself } = await runBounded(ns, [`--ebpf.pin-path=${pinPath}`]);
  assert.ok(exitedByItself, out);
  assert.equal(code, 1, out);
  assert.match(out, /"code":"NP_ERR_PIN_PATH"/, out);
  const found = filesystemName(statfsSync(base).type);
  assert.ok(out.includes(`its nearest existing parent ${base} is on ${found}, not on a bpffs mount; nothing was created`), out);
  assert.equal(existsSync(join(base, 'a')), false, 'created a directory it then rejected');
});
