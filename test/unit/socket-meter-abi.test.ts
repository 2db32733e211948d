/**
 * src/bpf/socket-meter/abi.ts against bpf/socket-meter.h (constants read from
 * the header's text, struct layouts measured by compiling a probe with clang),
 * the committed object against its source, and the pure cgroup2 mount finder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, arch } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as abi from '../../src/bpf/socket-meter/abi.js';
import { encodeOwnedSlot } from '../../src/bpf/owned-slots.js';
import { chooseCgroup2Mount, findCgroup2Root, parseCgroup2Mounts } from '../../src/bpf/socket-meter/cgroup-root.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const header = readFileSync(join(repo, 'bpf/socket-meter.h'), 'utf8');
const define = (name: string): number => {
  const m = new RegExp(`#define ${name} (\\d+)`).exec(header);
  assert.ok(m?.[1], `${name} in socket-meter.h`);
  return Number(m[1]);
};
const enumValue = (name: string): number => {
  const m = new RegExp(`${name} = (\\d+)`).exec(header);
  assert.ok(m?.[1], `${name} in socket-meter.h`);
  return Number(m[1]);
};

test('constants equal socket-meter.h', () => {
  assert.equal(abi.SM_CGROUPS_MAX, define('SM_CGROUPS_MAX'));
  assert.equal(abi.SM_OVERFLOW_CGROUP, BigInt(define('SM_OVERFLOW_CGROUP')));
  assert.equal(abi.SM_LOOPBACK_IFINDEX, define('SM_LOOPBACK_IFINDEX'));
  assert.equal(abi.SM_STAT_MAP_FULL, enumValue('SM_STAT_MAP_FULL'));
  assert.equal(abi.SM_STAT_MAX, enumValue('SM_STAT_MAX'));
  assert.equal(abi.SM_SLOT_BITS, define('SM_SLOT_BITS'));
  assert.equal(abi.SM_SLOTS, 1 << define('SM_SLOT_BITS'));
});

test('struct layout equals what clang compiles from socket-meter.h', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-sm-abi-'));
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(
      src,
      `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "socket-meter.h"
int main(void) {
  printf("%zu %zu %zu %zu %zu %zu %zu\\n", sizeof(struct sm_counters), offsetof(struct sm_counters, egress), offsetof(struct sm_dir, bytes), sizeof(__u64),
    sizeof(struct sm_slot), offsetof(struct sm_slot, c), offsetof(struct sm_slot, cgroup));
  return 0;
}
`,
    );
    const archInclude = `/usr/include/${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
    execFileSync('clang', ['-I', join(repo, 'bpf'), '-I', archInclude, src, '-o', join(dir, 'probe')]);
    const [size, egress, bytes, key, slot, slotCounters, owner] = execFileSync(join(dir, 'probe'), { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map(Number);
    assert.equal(abi.SM_COUNTERS_SIZE, size);
    assert.equal(abi.SM_EGRESS_OFFSET, egress);
    assert.equal(bytes, 8);
    assert.equal(abi.CGROUP_KEY_SIZE, key);
    assert.deepEqual(abi.EXPECTED_MAPS.sm_cgroups, { keySize: key, valueSize: size });
    assert.equal(abi.SM_SLOT_SIZE, slot);
    assert.equal(slotCounters, 0);
    assert.equal(abi.SM_SLOT_OWNER_OFFSET, owner);
    assert.deepEqual(abi.EXPECTED_MAPS.sm_slots, { keySize: abi.STATS_KEY_SIZE, valueSize: slot });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the committed bpf/socket-meter.bpf.o is what its source compiles to', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-sm-obj-'));
  try {
    const out = join(dir, 'socket-meter.bpf.o');
    execFileSync('bash', [join(repo, 'bpf/build.sh'), out, 'bpf/socket-meter.bpf.c']);
    assert.ok(
      readFileSync(out).equals(readFileSync(join(repo, 'bpf/socket-meter.bpf.o'))),
      'rebuild with bash bpf/build.sh and commit the object',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('per-CPU sm_counters sum exactly, per direction', () => {
  const cpus = 3;
  const buf = Buffer.alloc(abi.SM_COUNTERS_SIZE * cpus);
  for (let cpu = 0; cpu < cpus; cpu++) {
    const at = cpu * abi.SM_COUNTERS_SIZE;
    buf.writeBigUInt64LE(BigInt(cpu + 1), at);
    buf.writeBigUInt64LE(1n << 62n, at + 8);
    buf.writeBigUInt64LE(10n, at + 16);
    buf.writeBigUInt64LE(1000n * BigInt(cpu), at + 24);
  }
  assert.deepEqual(abi.sumSocketCounts(buf, 0, cpus), {
    ingressPackets: 6n,
    ingressBytes: 3n << 62n,
    egressPackets: 30n,
    egressBytes: 3000n,
  });
  assert.equal(abi.encodeCgroupKey(0x1234_5678_9abcn).readBigUInt64LE(0), 0x1234_5678_9abcn);
});

test('sm_slots: index = low bits of the id; a claim sets the owner last on every CPU; slot + hash counts add', () => {
  assert.equal(abi.smSlotIndex(5n), 5);
  assert.equal(abi.smSlotIndex(BigInt(abi.SM_SLOTS) + 5n), 5, 'ids SM_SLOTS apart share a slot');
  assert.equal(abi.smSlotIndex((1n << 63n) + 1023n), 1023);
  const cpus = 3;
  const claim = encodeOwnedSlot(abi.encodeCgroupKey(0x1_0000_0007n), abi.SM_SLOT_OWNER, abi.SM_SLOT_SIZE, cpus);
  assert.equal(claim.length, abi.SM_SLOT_SIZE * cpus);
  for (let cpu = 0; cpu < cpus; cpu++) {
    const at = cpu * abi.SM_SLOT_SIZE;
    assert.equal(claim.readBigUInt64LE(at + abi.SM_SLOT_OWNER_OFFSET), 0x1_0000_0007n);
    assert.ok(
      claim.subarray(at, at + abi.SM_SLOT_OWNER_OFFSET).every((b) => b === 0),
      'counters zero',
    );
  }
  for (let cpu = 0; cpu < cpus; cpu++) claim.writeBigUInt64LE(BigInt(cpu + 1), cpu * abi.SM_SLOT_SIZE + abi.SM_EGRESS_OFFSET);
  const slot = abi.sumSlotCounts(claim, 0, cpus);
  assert.deepEqual(slot, { ingressPackets: 0n, ingressBytes: 0n, egressPackets: 6n, egressBytes: 0n });
  const hash = { ingressPackets: 1n, ingressBytes: 2n, egressPackets: 3n, egressBytes: 4n };
  assert.deepEqual(abi.addSocketCounts(hash, slot), { ingressPackets: 1n, ingressBytes: 2n, egressPackets: 9n, egressBytes: 4n });
  assert.deepEqual(abi.addSocketCounts(undefined, slot), slot);
  assert.deepEqual(abi.addSocketCounts(hash, undefined), hash);
  assert.deepEqual(abi.addSocketCounts(undefined, undefined), { ingressPackets: 0n, ingressBytes: 0n, egressPackets: 0n, egressBytes: 0n });
});

const HYBRID = `25 1 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
`;
const UNIFIED_AND_CONTAINER = `40 1 0:30 /kubepods.slice /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw
41 1 0:30 / /host/sys/fs\\040cgroup ro,nosuid - cgroup2 cgroup2 rw
`;

test('cgroup2 mounts: hybrid, unified, a container mount with an escaped space; the whole hierarchy only', () => {
  assert.deepEqual(parseCgroup2Mounts(HYBRID), [{ root: '/', mountPoint: '/sys/fs/cgroup/unified' }]);
  assert.equal(chooseCgroup2Mount(parseCgroup2Mounts(HYBRID))?.mountPoint, '/sys/fs/cgroup/unified');
  const c = parseCgroup2Mounts(UNIFIED_AND_CONTAINER);
  assert.equal(c.length, 2);
  assert.equal(chooseCgroup2Mount(c)?.mountPoint, '/host/sys/fs cgroup', 'a subtree mount (root /kubepods.slice) would miss the rest');
  assert.equal(findCgroup2Root(undefined, HYBRID), '/sys/fs/cgroup/unified');
});

test('no cgroup2 mount: NP_ERR_NO_CGROUP2 naming what was found', () => {
  assert.throws(
    () =>
      findCgroup2Root(
        undefined,
        HYBRID.split('\n')
          .filter((l) => !l.includes('cgroup2'))
          .join('\n'),
      ),
    {
      code: 'NP_ERR_NO_CGROUP2',
      message: /no cgroup2 filesystem is mounted/,
    },
  );
  assert.throws(() => findCgroup2Root(undefined, '40 1 0:30 /kubepods.slice /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n'), {
    code: 'NP_ERR_NO_CGROUP2',
    message: /\/sys\/fs\/cgroup \(shows \/kubepods.slice only\)/,
  });
  assert.throws(() => findCgroup2Root('/proc'), { code: 'NP_ERR_NO_CGROUP2', message: /\/proc is not a cgroup2 mount/ });
});
