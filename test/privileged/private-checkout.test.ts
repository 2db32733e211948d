/**
 * The suite passes wherever the checkout is (issue 9, defect 1). A copy of
 * this checkout's working tree is put under a mode-0700 directory (as in a
 * root user's home), and two of its unprivileged cases run from there: the
 * CLI as a non-root user with CAP_BPF and CAP_NET_ADMIN (privilege.test.ts)
 * and EbpfManager as one (ebpf-privileges.test.ts). Before the readable
 * copy (test/support/readable-copy.ts) both died with ERR_MODULE_NOT_FOUND
 * 'tsx': user 65534 could not read the checkout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO } from '../support/repo-paths.js';

const CASES = [
  { file: 'test/privileged/privilege.test.ts', pattern: '^tcx: as a non-root user with only CAP_BPF and CAP_NET_ADMIN' },
  { file: 'test/privileged/ebpf-privileges.test.ts', pattern: '^as an unprivileged user with exactly CAP_BPF and CAP_NET_ADMIN' },
];

/** The working tree as git sees it (tracked and new files, not ignored ones), copied into `to`. */
function copyWorkingTree(to: string): void {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '');
  for (const file of files) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    try {
      cpSync(join(REPO, file), join(to, file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // deleted in the working tree, not yet in the index
    }
  }
  // node_modules is not in git; a link is enough (and is what the readable copy must see through).
  symlinkSync(join(REPO, 'node_modules'), join(to, 'node_modules'));
}

test('unprivileged cases pass from a checkout under a mode-0700 directory', { timeout: 240_000 }, async (t) => {
  const home = mkdtempSync('/tmp/np-private-home-');
  t.after(() => rmSync(home, { recursive: true, force: true }));
  chmodSync(home, 0o700);
  const checkout = join(home, 'netprobe');
  copyWorkingTree(checkout);

  // The premise: user 65534 cannot read this checkout.
  assert.throws(
    () =>
      execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', join(checkout, 'package.json')], {
        stdio: 'pipe',
      }),
    /Permission denied/,
  );

  // Without the parent runner's marker, or the child would skip its files as a nested run.
  const runnerEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
  for (const { file, pattern } of CASES) {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-reporter=tap', `--test-name-pattern=${pattern}`, file],
        { cwd: checkout, env: runnerEnv, timeout: 150_000, maxBuffer: 16 << 20 },
        (error, stdout, stderr) => resolve({ code: error ? (child.exitCode ?? -1) : 0, output: stdout + stderr }),
      );
    });
    t.diagnostic(`${file}: ${/^# pass \d+/m.exec(output)?.[0] ?? '?'}, ${/^# fail \d+/m.exec(output)?.[0] ?? '?'}`);
    assert.doesNotMatch(output, /ERR_MODULE_NOT_FOUND/, `${file}:\n${output.slice(-4000)}`);
    assert.equal(code, 0, `${file} failed from the private checkout:\n${output.slice(-4000)}`);
    assert.match(output, /^# pass [1-9]/m, `${file}: the pattern ran no test:\n${output.slice(-2000)}`);
    assert.match(output, /^# fail 0$/m);
  }
});
