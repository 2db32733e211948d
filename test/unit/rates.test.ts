import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advanceCollection, type CollectionRules } from '../../src/collector/collection-state.js';
import type { CounterRow, Direction } from '../../src/source/counter-source.js';

const ALL: CollectionRules = { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: false };

function row(ifindex: number, name: string, direction: Direction, packets: bigint, bytes: bigint, segments = packets): CounterRow {
  return { ifindex, name, direction, packets, bytes, segments };
}

test('rates are 0 on the first collection, even with counts already present', () => {
  const { samples } = advanceCollection(undefined, [row(2, 'eth0', 'ingress', 100n, 1000n), row(2, 'eth0', 'egress', 7n, 70n)], 1000, ALL);
  assert.equal(samples.length, 1);
  assert.equal(samples[0]!.ingress.packetsPerSecond, 0);
  assert.equal(samples[0]!.egress.bytesPerSecond, 0);
  assert.equal(samples[0]!.ingress.packets, 100n);
});

test('rates are the delta over the real elapsed monotonic time', () => {
  const first = advanceCollection(undefined, [row(2, 'eth0', 'ingress', 100n, 1000n), row(2, 'eth0', 'egress', 0n, 0n)], 10_000, ALL);
  // 2.5 s later: +500 packets, +1_000_000 bytes ingress; +3 egress packets.
  const second = advanceCollection(
    first.state,
    [row(2, 'eth0', 'ingress', 600n, 1_001_000n), row(2, 'eth0', 'egress', 3n, 180n)],
    12_500,
    ALL,
  );
  const s = second.samples[0]!;
  assert.equal(s.ingress.packetsPerSecond, 200);
  assert.equal(s.ingress.bytesPerSecond, 400_000);
  assert.equal(s.egress.packetsPerSecond, 1.2);
  assert.equal(s.egress.bytesPerSecond, 72);
});

test('a counter that went backwards (interface re-created) gives rate 0, never negative', () => {
  const first = advanceCollection(
    undefined,
    [row(5, 'veth0', 'ingress', 1000n, 100_000n), row(5, 'veth0', 'egress', 1000n, 100_000n)],
    0,
    ALL,
  );
  const second = advanceCollection(
    first.state,
    [row(5, 'veth0', 'ingress', 10n, 1_000n), row(5, 'veth0', 'egress', 2000n, 200_000n)],
    1000,
    ALL,
  );
  const s = second.samples[0]!;
  assert.equal(s.ingress.packetsPerSecond, 0);
  assert.equal(s.ingress.bytesPerSecond, 0);
  assert.equal(s.egress.packetsPerSecond, 1000);
  // The next collection measures from the reset value again.
  const third = advanceCollection(
    second.state,
    [row(5, 'veth0', 'ingress', 30n, 3_000n), row(5, 'veth0', 'egress', 2000n, 200_000n)],
    2000,
    ALL,
  );
  assert.equal(third.samples[0]!.ingress.packetsPerSecond, 20);
  assert.equal(third.samples[0]!.egress.packetsPerSecond, 0);
});

test('a zero or negative elapsed time gives rate 0 instead of Infinity or NaN', () => {
  const first = advanceCollection(undefined, [row(1, 'lo', 'ingress', 1n, 1n)], 500, ALL);
  const second = advanceCollection(first.state, [row(1, 'lo', 'ingress', 5n, 5n)], 500, ALL);
  assert.equal(second.samples[0]!.ingress.packetsPerSecond, 0);
});

test('counters beyond 2^53 stay exact bigints and give finite rates', () => {
  const big = 2n ** 63n - 10n;
  const first = advanceCollection(undefined, [row(3, 'eth1', 'egress', big, big)], 0, ALL);
  const second = advanceCollection(first.state, [row(3, 'eth1', 'egress', big + 4n, big + 8n)], 2000, ALL);
  const s = second.samples[0]!;
  assert.equal(s.egress.packets, big + 4n);
  assert.equal(s.egress.packetsPerSecond, 2);
  assert.equal(s.egress.bytesPerSecond, 4);
});

test('a direction missing from the rows is exported as zero', () => {
  const { samples } = advanceCollection(undefined, [row(4, 'eth2', 'egress', 9n, 90n)], 0, ALL);
  assert.equal(samples[0]!.ingress.packets, 0n);
  assert.equal(samples[0]!.ingress.bytes, 0n);
  assert.equal(samples[0]!.egress.packets, 9n);
});
