import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advanceCollection, type CollectionRules, type CollectionState } from '../../src/collector/collection-state.js';
import type { CounterRow } from '../../src/source/counter-source.js';
import { compileInterfaceFilter } from '../../src/net/interface-filter.js';

function rows(ifindex: number, name: string, ingress: bigint, egress: bigint): CounterRow[] {
  return [
    { ifindex, name, direction: 'ingress', packets: ingress, bytes: ingress * 100n, segments: ingress },
    { ifindex, name, direction: 'egress', packets: egress, bytes: egress * 100n, segments: egress },
  ];
}

test('active = a packet moved in either direction within the window; inactive once the window passes', () => {
  const rules: CollectionRules = { includeInterface: () => true, activeWindowMs: 10_000, activeOnly: false };
  let state: CollectionState | undefined;
  const at = (t: number, ingress: bigint, egress: bigint): boolean => {
    const step = advanceCollection(state, rows(2, 'eth0', ingress, egress), t, rules);
    state = step.state;
    return step.samples[0]!.active;
  };
  assert.equal(at(0, 100n, 0n), false, 'first sight: no evidence of when the counts were made');
  assert.equal(at(5_000, 100n, 0n), false, 'nothing moved');
  assert.equal(at(10_000, 100n, 1n), true, 'egress alone counts');
  assert.equal(at(15_000, 100n, 1n), true, 'still within the window');
  assert.equal(at(20_000, 100n, 1n), true, 'exactly at the window edge');
  assert.equal(at(25_000, 100n, 1n), false, 'window passed');
  assert.equal(at(30_000, 101n, 1n), true, 'ingress alone counts');
});

test('a counter reset with packets counted since then is activity', () => {
  const rules: CollectionRules = { includeInterface: () => true, activeWindowMs: 1_000, activeOnly: false };
  const a = advanceCollection(undefined, rows(7, 'veth1', 500n, 500n), 0, rules);
  const b = advanceCollection(a.state, rows(7, 'veth1', 3n, 0n), 5_000, rules);
  assert.equal(b.samples[0]!.active, true);
  const c = advanceCollection(b.state, rows(7, 'veth1', 0n, 0n), 5_100, rules);
  assert.equal(c.samples[0]!.active, true, 'reset to zero after activity 100 ms ago: still within the window');
  const d = advanceCollection(c.state, rows(7, 'veth1', 0n, 0n), 9_000, rules);
  assert.equal(d.samples[0]!.active, false);
});

test('enableActiveOnly leaves inactive interfaces out but keeps their state for the next collection', () => {
  const rules: CollectionRules = { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: true };
  const a = advanceCollection(undefined, [...rows(1, 'lo', 10n, 10n), ...rows(2, 'eth0', 10n, 10n)], 0, rules);
  assert.deepEqual(a.samples, []);
  const b = advanceCollection(a.state, [...rows(1, 'lo', 10n, 10n), ...rows(2, 'eth0', 20n, 10n)], 1_000, rules);
  assert.deepEqual(
    b.samples.map((s) => s.name),
    ['eth0'],
  );
  assert.equal(b.samples[0]!.ingress.packetsPerSecond, 10, 'the rate uses the state kept while it was hidden');
});

test('the interface filter (names and globs) decides which interfaces are exported', () => {
  const rules: CollectionRules = { includeInterface: compileInterfaceFilter(['eth*', 'lo']), activeWindowMs: 60_000, activeOnly: false };
  const all = [
    ...rows(1, 'lo', 1n, 1n),
    ...rows(2, 'eth0', 1n, 1n),
    ...rows(3, 'eth1', 1n, 1n),
    ...rows(4, 'veth9', 1n, 1n),
    ...rows(5, 'wlan0', 1n, 1n),
  ];
  const { samples, state } = advanceCollection(undefined, all, 0, rules);
  assert.deepEqual(
    samples.map((s) => s.name),
    ['lo', 'eth0', 'eth1'],
  );
  assert.equal(state.interfaces.size, 3, 'filtered-out interfaces are not even tracked');
});

test('an exclusion in the filter (!lo) exports everything else', () => {
  const rules: CollectionRules = { includeInterface: compileInterfaceFilter(['!lo']), activeWindowMs: 60_000, activeOnly: false };
  const { samples } = advanceCollection(undefined, [...rows(1, 'lo', 1n, 1n), ...rows(2, 'eth0', 1n, 1n)], 0, rules);
  assert.deepEqual(
    samples.map((s) => s.name),
    ['eth0'],
  );
});
