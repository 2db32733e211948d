import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advanceCollection, type CollectionRules } from '../../src/collector/collection-state.js';
import type { CounterRow } from '../../src/source/counter-source.js';

const ALL: CollectionRules = { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: false };

function rows(ifindex: number, name: string, packets: bigint): CounterRow[] {
  return [
    { ifindex, name, direction: 'ingress', packets, bytes: packets * 10n, segments: packets },
    { ifindex, name, direction: 'egress', packets, bytes: packets * 10n, segments: packets },
  ];
}

test('a vanished interface loses its series at the next collection', () => {
  const a = advanceCollection(undefined, [...rows(2, 'eth0', 5n), ...rows(9, 'veth9', 5n)], 0, ALL);
  assert.equal(a.samples.length, 2);
  const b = advanceCollection(a.state, rows(2, 'eth0', 6n), 1000, ALL);
  assert.deepEqual(
    b.samples.map((s) => s.name),
    ['eth0'],
  );
  assert.equal(b.state.interfaces.size, 1);
});

test('a renamed interface shows only its new name; its counters, rates and activity continue', () => {
  const a = advanceCollection(undefined, rows(4, 'eth1', 100n), 0, ALL);
  const b = advanceCollection(a.state, rows(4, 'eth1', 120n), 1000, ALL);
  const c = advanceCollection(b.state, rows(4, 'wan0', 150n), 2000, ALL);
  assert.deepEqual(
    c.samples.map((s) => [s.ifindex, s.name]),
    [[4, 'wan0']],
  );
  assert.equal(c.samples[0]!.ingress.packets, 150n);
  assert.equal(c.samples[0]!.ingress.packetsPerSecond, 30, 'the same counters: the rate goes on');
  assert.equal(c.samples[0]!.active, true);
  assert.equal(c.state.interfaces.size, 1);
});

test('a re-used ifindex with another name never shows the old name and never a negative rate', () => {
  const a = advanceCollection(undefined, rows(12, 'veth-old', 1_000_000n), 0, ALL);
  const b = advanceCollection(a.state, rows(12, 'veth-new', 3n), 1000, ALL);
  assert.deepEqual(
    b.samples.map((s) => s.name),
    ['veth-new'],
  );
  assert.equal(b.samples[0]!.ingress.packetsPerSecond, 0);
  assert.equal(b.samples[0]!.ingress.packets, 3n);
});

test('samples are ordered by ifindex', () => {
  const { samples } = advanceCollection(undefined, [...rows(30, 'c', 1n), ...rows(2, 'a', 1n), ...rows(11, 'b', 1n)], 0, ALL);
  assert.deepEqual(
    samples.map((s) => s.ifindex),
    [2, 11, 30],
  );
});
