/**
 * The pure parts of the pin path's lock and checks: finding the flock holder
 * in /proc/locks text, naming filesystems, and making directories one level
 * at a time (never a recursive mkdir, which spins on sysfs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flockHolder } from '../../src/bpf/pin-lock.js';
import { filesystemName } from '../../src/bpf/filesystem-names.js';
import { makeDirectories, nearestExisting } from '../../src/bpf/make-directories.js';

// dev 0:0x2d (an anonymous device, as bpffs has) and a large device 259:65540 (major 0x103, minor 0x10004).
const LOCKS = [
  '1: POSIX  ADVISORY  WRITE 77 00:2d:672552 0 EOF',
  '2: FLOCK  ADVISORY  READ 88 00:2d:672552 0 EOF',
  '3: FLOCK  ADVISORY  WRITE 4242 00:2d:672552 0 EOF',
  '3: -> FLOCK  ADVISORY  WRITE 5151 00:2d:672552 0 EOF',
  '4: FLOCK  ADVISORY  WRITE 99 103:10004:12 0 EOF',
  '5: FLOCK  ADVISORY  WRITE 0 00:2e:5 0 EOF',
  '',
].join('\n');
const encode = (major: bigint, minor: bigint): bigint => (minor & 0xffn) | (major << 8n) | ((minor & ~0xffn) << 12n);

test('flockHolder: the exclusive flock of that device and inode, not POSIX, read or waiting locks', () => {
  assert.equal(flockHolder(LOCKS, encode(0n, 0x2dn), 672552n), 4242);
  assert.equal(flockHolder(LOCKS, encode(0x103n, 0x10004n), 12n), 99);
  assert.equal(flockHolder(LOCKS, encode(0n, 0x2dn), 1n), undefined);
  assert.equal(flockHolder(LOCKS, encode(0n, 0x2en), 5n), undefined, 'PID 0: not visible in this PID namespace');
});

test('filesystemName: common magics by name, others by number', () => {
  assert.equal(filesystemName(0x62656572), 'sysfs');
  assert.equal(filesystemName(0xef53), 'ext2/ext3/ext4');
  assert.equal(filesystemName(0xcafe4a11 | 0), 'bpffs', 'a magic read as a signed 32-bit number');
  assert.equal(filesystemName(0x1234), 'an unknown filesystem (magic 0x1234)');
});

test('makeDirectories: every missing level, existing ones kept; a file in the way is an error, never a loop', (t) => {
  const base = mkdtempSync(join(tmpdir(), 'np-mkdirs-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  assert.equal(nearestExisting(join(base, 'a', 'b', 'c')), base);
  makeDirectories(join(base, 'a', 'b', 'c'), 0o700);
  assert.ok(existsSync(join(base, 'a', 'b', 'c')));
  makeDirectories(join(base, 'a', 'b', 'c'), 0o700);
  writeFileSync(join(base, 'file'), '');
  assert.throws(() => makeDirectories(join(base, 'file', 'x'), 0o700), /ENOTDIR/);
  assert.throws(() => makeDirectories(join(base, 'file'), 0o700), /ENOTDIR/);
});
