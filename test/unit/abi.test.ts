/**
 * src/bpf/abi.ts against bpf/netprobe.h: the header's constants are read
 * from its text and its struct layouts measured by compiling a probe with
 * clang, so the two can never drift apart silently. Also the pure helpers
 * (slot index, per-CPU sums) and the FFI option struct layouts (no kernel).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, arch } from 'node:os';
import { join } from 'node:path';
import * as abi from '../../src/bpf/abi.js';
import { checkLayouts } from '../../src/sys/libbpf.js';

const header = readFileSync(new URL('../../bpf/netprobe.h', import.meta.url), 'utf8');
const define = (name: string): number => {
  const m = new RegExp(`#define ${name} (.+)`).exec(header);
  assert.ok(m?.[1], `${name} in netprobe.h`);
  return Number(m[1].replace(/\(1u << (\w+)\)/, (_all, bits: string) => String(1 << define(bits))));
};
const enumValue = (name: string): number => {
  const m = new RegExp(`${name} = (\\d+)`).exec(header);
  assert.ok(m?.[1], `${name} in netprobe.h`);
  return Number(m[1]);
};

test('constants equal netprobe.h', () => {
  assert.equal(abi.NP_SLOT_BITS, define('NP_SLOT_BITS'));
  assert.equal(abi.NP_SLOTS, define('NP_SLOTS'));
  assert.equal(abi.NP_OVERFLOW_MAX, define('NP_OVERFLOW_MAX'));
  assert.equal(abi.NP_INGRESS, enumValue('NP_INGRESS'));
  assert.equal(abi.NP_EGRESS, enumValue('NP_EGRESS'));
  assert.equal(abi.NP_STAT_UNCOUNTED, enumValue('NP_STAT_UNCOUNTED'));
  assert.equal(abi.NP_STAT_MAX, enumValue('NP_STAT_MAX'));
});

test('struct sizes and offsets equal what clang compiles from netprobe.h', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-abi-'));
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(
      src,
      `#include <stdio.h>
#include <stddef.h>
#include <linux/types.h>
#include "netprobe.h"
int main(void) {
  printf("%zu %zu %zu %zu %zu %zu %zu\\n", sizeof(struct np_counters), sizeof(struct np_slot), offsetof(struct np_slot, c),
         sizeof(struct np_key), offsetof(struct np_key, direction), offsetof(struct np_counters, bytes), offsetof(struct np_counters, segments));
  return 0;
}
`,
    );
    const archInclude = `/usr/include/${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
    execFileSync('clang', ['-I', new URL('../../bpf', import.meta.url).pathname, '-I', archInclude, src, '-o', join(dir, 'probe')]);
    const [counters, slot, slotC, key, keyDir, bytesOff, segOff] = execFileSync(join(dir, 'probe'), { encoding: 'utf8' })
      .trim()
      .split(' ')
      .map(Number);
    assert.equal(abi.COUNTERS_SIZE, counters);
    assert.equal(abi.SLOT_SIZE, slot);
    assert.equal(slotC, 8, 'counters follow ifindex + reserved in np_slot');
    assert.equal(abi.KEY_SIZE, key);
    assert.equal(keyDir, 4);
    assert.deepEqual([bytesOff, segOff], [8, 16]);
    assert.deepEqual(abi.EXPECTED_MAPS.np_slots, { keySize: 4, valueSize: slot });
    assert.deepEqual(abi.EXPECTED_MAPS.np_overflow, { keySize: key, valueSize: counters });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slot index: (ifindex & (NP_SLOTS-1)) << 1 | direction, for any ifindex', () => {
  assert.equal(abi.slotIndex(1, abi.NP_INGRESS), 2);
  assert.equal(abi.slotIndex(1, abi.NP_EGRESS), 3);
  assert.equal(abi.slotIndex(abi.NP_SLOTS + 1, abi.NP_EGRESS), 3, "wraps: shares ifindex 1's slot");
  assert.equal(abi.slotIndex(0xffffffff, abi.NP_EGRESS), (abi.NP_SLOTS - 1) * 2 + 1);
});

test('per-CPU values: stride rounds to 8, sums are exact bigints', () => {
  assert.equal(abi.perCpuStride(24), 24);
  assert.equal(abi.perCpuStride(20), 24);
  assert.equal(abi.perCpuStride(8), 8);
  const cpus = 3;
  const claim = abi.encodeSlotClaim(77, cpus);
  assert.equal(claim.length, 32 * cpus);
  for (let cpu = 0; cpu < cpus; cpu++) assert.equal(claim.readUInt32LE(cpu * 32), 77);
  // fill counters: cpu n has packets n+1, bytes 2^62 (sum overflows a double, not a bigint)
  for (let cpu = 0; cpu < cpus; cpu++) {
    claim.writeBigUInt64LE(BigInt(cpu + 1), cpu * 32 + 8);
    claim.writeBigUInt64LE(1n << 62n, cpu * 32 + 16);
    claim.writeBigUInt64LE(BigInt(10 * cpu), cpu * 32 + 24);
  }
  assert.deepEqual(abi.sumPerCpuCounters(claim, 0, cpus, 32, 8), { packets: 6n, bytes: 3n << 62n, segments: 30n });
  assert.equal(abi.slotOwner(claim, 0), 77);
  const u64s = Buffer.alloc(8 * cpus);
  u64s.writeBigUInt64LE(5n, 0);
  u64s.writeBigUInt64LE(7n, 16);
  assert.equal(abi.sumPerCpuU64(u64s, 0, cpus), 12n);
});

test('per-CPU sums stay exact at the top of the u64 range (carries between the 32-bit halves)', () => {
  const cpus = 3;
  const buf = Buffer.alloc(24 * cpus);
  const max = (1n << 64n) - 1n;
  for (let cpu = 0; cpu < cpus; cpu++) {
    buf.writeBigUInt64LE(max, cpu * 24);
    buf.writeBigUInt64LE((1n << 32n) + 0xffffffffn, cpu * 24 + 8);
    buf.writeBigUInt64LE(BigInt(Number.MAX_SAFE_INTEGER), cpu * 24 + 16);
  }
  assert.deepEqual(abi.sumPerCpuCounters(buf, 0, cpus, 24, 0), {
    packets: 3n * max,
    bytes: 3n * ((1n << 32n) + 0xffffffffn),
    segments: 3n * BigInt(Number.MAX_SAFE_INTEGER),
  });
  assert.equal(abi.sumPerCpuU64(buf, 0, cpus), max + BigInt(Number.MAX_SAFE_INTEGER) + ((1n << 32n) + 0xffffffffn));
});

test('overflow keys round-trip', () => {
  const key = abi.encodeOverflowKey(123456, abi.NP_EGRESS);
  assert.deepEqual(abi.decodeOverflowKey(key), { ifindex: 123456, direction: abi.NP_EGRESS });
  assert.equal(abi.encodeZeroCounters(4).length, 96);
});

test('FFI option structs are laid out as in libbpf 1.1', () => {
  assert.doesNotThrow(() => checkLayouts());
});
