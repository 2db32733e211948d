/**
 * The clsact ownership journal: what a restart after SIGKILL reads back to
 * prove a qdisc was netprobe's. Appends per change, replays to the same
 * entries, ignores a torn last line, takes over an older version's JSON file,
 * and compacts instead of growing without bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClsactOwnership } from '../../src/bpf/tc-counter/clsact-state.js';
import { silentLogger } from '../../src/log/logger.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'np-clsact-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const open = (dir: string): ClsactOwnership => ClsactOwnership.forCurrentNetns(silentLogger(), 42n, dir);
const journal = (dir: string): string => join(dir, 'clsact-netns-cookie-42.journal');

test('entries survive a restart; a reused ifindex with another name is not ours; the last forget removes the file', () => {
  withDir((dir) => {
    const first = open(dir);
    first.record(5, 'veth5');
    first.record(6, 'veth6');
    first.forget(5);
    assert.equal(readFileSync(journal(dir), 'utf8'), '+5 veth5\n+6 veth6\n-5\n', 'one appended line per change');
    const second = open(dir);
    assert.equal(second.owns(6, 'veth6'), true);
    assert.equal(second.owns(5, 'veth5'), false);
    assert.equal(second.owns(6, 'other'), false);
    assert.equal(readFileSync(journal(dir), 'utf8'), '+6 veth6\n', 'compacted when read');
    second.forget(6);
    assert.equal(existsSync(journal(dir)), false);
  });
});

test('a torn last line (SIGKILL mid-write) is skipped', () => {
  withDir((dir) => {
    writeFileSync(journal(dir), '+7 veth7\n+8 ve');
    const o = open(dir);
    assert.equal(o.owns(7, 'veth7'), true);
    assert.equal(o.owns(8, 've'), true, 'a name cut short is still a whole line: it only ever matches that exact name');
    appendFileSync(journal(dir), '-');
    assert.equal(open(dir).owns(7, 'veth7'), true);
  });
});

test("an older version's JSON file joins the journal and goes", () => {
  withDir((dir) => {
    const legacy = join(dir, 'clsact-netns-cookie-42.json');
    writeFileSync(legacy, JSON.stringify({ version: 1, clsact: [{ ifindex: 3, name: 'eth1' }, { bad: true }] }));
    const o = open(dir);
    assert.equal(o.owns(3, 'eth1'), true);
    assert.equal(existsSync(legacy), false);
    assert.equal(readFileSync(journal(dir), 'utf8'), '+3 eth1\n');
  });
});

test('the journal is compacted instead of growing with churn', () => {
  withDir((dir) => {
    const o = open(dir);
    o.record(1, 'keep');
    for (let i = 0; i < 2000; i++) {
      o.record(100 + i, `v${i}`);
      o.forget(100 + i);
    }
    const lines = readFileSync(journal(dir), 'utf8').split('\n').filter(Boolean).length;
    assert.ok(lines <= 4 * 2 + 256 + 2, `${lines} lines for one entry`);
    assert.equal(open(dir).owns(1, 'keep'), true);
  });
});
