import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLIND_FLOOR_PACKETS, BLIND_SLOTS, BLIND_STEP_MS, BLIND_WINDOW_MS, BlindWindow } from '../../src/collector/blind-window.js';

const at = (s: number): number => 1_700_000_000_000 + s * 1000;

test('a pod is flagged when its blind counter grew by more than the floor within the window, and unflagged after', () => {
  const w = new BlindWindow();
  const floor = BLIND_FLOOR_PACKETS;
  w.record(at(0), [{ uid: 'a', packets: 5n }]);
  assert.equal(w.flagged('a', 5n + floor), false, 'exactly the floor is noise');
  assert.equal(w.flagged('a', 5n + floor + 1n), true);
  // The growth stays in the window for 10 minutes (plus at most one step), then leaves it.
  const grown = 5n + floor + 1n;
  for (let s = 1; s <= BLIND_WINDOW_MS / 1000 + BLIND_STEP_MS / 1000; s++) {
    w.record(at(s), [{ uid: 'a', packets: grown }]);
    if (s < BLIND_WINDOW_MS / 1000) assert.equal(w.flagged('a', grown), true, `still flagged at ${s} s`);
  }
  assert.equal(w.flagged('a', grown), false, 'the growth has left the window');
  assert.equal(w.flagged('unknown', 10_000n), false, 'a pod never recorded is not flagged');
});

test('memory is bounded by the step, not the collection interval', () => {
  const w = new BlindWindow();
  // One hour of 1 s collections.
  for (let s = 0; s < 3600; s++) w.record(at(s), [{ uid: 'a', packets: BigInt(s) }]);
  assert.ok(w.snapshots('a') <= BLIND_SLOTS, `${w.snapshots('a')} snapshots held`);
  // Snapshots every 15 s from 0 s; at 3599 s the base is the newest at least 600 s old: 2985 s (count 2985).
  assert.equal(BLIND_STEP_MS, 15_000);
  assert.equal(w.flagged('a', 2985n + BLIND_FLOOR_PACKETS), false);
  assert.equal(w.flagged('a', 2985n + BLIND_FLOOR_PACKETS + 1n), true);
});

test('pods absent from a collection are forgotten', () => {
  const w = new BlindWindow();
  w.record(at(0), [
    { uid: 'a', packets: 0n },
    { uid: 'b', packets: 0n },
  ]);
  w.record(at(1), [{ uid: 'b', packets: 0n }]);
  assert.equal(w.snapshots('a'), 0);
  assert.equal(w.snapshots('b'), 1);
  // Back again: its window starts over from its count then.
  w.record(at(2), [{ uid: 'a', packets: 1000n }]);
  assert.equal(w.flagged('a', 1000n), false);
});
