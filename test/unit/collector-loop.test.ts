import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { CollectionLoop } from '../../src/collector/collection-loop.js';
import { Collector } from '../../src/collector/collector.js';
import type { CounterRow, CounterSource } from '../../src/source/counter-source.js';

test('a burst of triggers costs one debounced collection; runs never overlap', async (t) => {
  let runs = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  const loop = new CollectionLoop({
    intervalMs: 60_000,
    debounceMs: 20,
    run: async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await sleep(30);
      concurrent--;
    },
    onError: (e) => assert.fail(String(e)),
  });
  t.after(() => loop.stop());
  loop.start();
  for (let i = 0; i < 10; i++) loop.trigger();
  await sleep(150);
  assert.equal(runs, 1);
  // A trigger while a run is in progress queues exactly one more.
  const during = loop.runNow();
  loop.trigger();
  loop.trigger();
  await during;
  await sleep(200);
  assert.equal(runs, 3);
  assert.equal(maxConcurrent, 1);
});

test('a trigger also owes a settling collection settleMs later, once for a burst', async (t) => {
  const at: number[] = [];
  const start = performance.now();
  const loop = new CollectionLoop({
    intervalMs: 60_000,
    debounceMs: 20,
    settleMs: 250,
    run: async () => {
      at.push(performance.now() - start);
    },
    onError: (e) => assert.fail(String(e)),
  });
  t.after(() => loop.stop());
  loop.start();
  loop.trigger();
  await sleep(50);
  loop.trigger(); // the burst goes on: the settling collection moves with the last trigger
  await sleep(600);
  assert.equal(at.length, 3, `collections at ${at.map((x) => x.toFixed(0)).join(', ')} ms`);
  assert.ok(at[2]! >= 290, `the settling collection comes settleMs after the last trigger (${at[2]!.toFixed(0)} ms)`);
});

test('the loop runs every interval and keeps going after a failing run', async (t) => {
  let runs = 0;
  const errors: unknown[] = [];
  const loop = new CollectionLoop({
    intervalMs: 20,
    debounceMs: 5,
    run: async () => {
      runs++;
      if (runs === 2) throw new Error('boom');
    },
    onError: (e) => errors.push(e),
  });
  t.after(() => loop.stop());
  loop.start();
  await sleep(200);
  await loop.stop();
  const afterStop = runs;
  assert.ok(runs >= 4, `expected several runs, got ${runs}`);
  assert.equal(errors.length, 1);
  await sleep(60);
  assert.equal(runs, afterStop, 'no run after stop()');
});

test('a failed read keeps the state: the next good read computes the rate over the whole gap', () => {
  let now = 0;
  let fail = false;
  let packets = 0n;
  const source: CounterSource = {
    kind: 'netdev',
    attachMode: undefined,
    interfaceCount: 1,
    readCounters(): CounterRow[] {
      if (fail) throw new Error('netlink: EBUSY');
      return [{ ifindex: 2, name: 'eth0', direction: 'ingress', packets, bytes: packets, segments: packets }];
    },
    close: async () => {},
  };
  const collector = new Collector(source, { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: false }, () => now);
  assert.equal(collector.collect().ok, true);
  fail = true;
  now = 1000;
  packets = 100n;
  const failed = collector.collect();
  assert.equal(failed.ok, false);
  assert.match(String((failed as { error: Error }).error.message), /EBUSY/);
  fail = false;
  now = 2000;
  packets = 400n;
  const good = collector.collect();
  assert.ok(good.ok);
  assert.equal(good.samples[0]!.ingress.packetsPerSecond, 200);
});
