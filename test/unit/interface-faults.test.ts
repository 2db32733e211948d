/**
 * The kernel's drop and error counters per interface: carried from the
 * source's rows into the samples (kept when a read lacks them, kept with a
 * departed interface's finals for its retention, never inherited by a new
 * interface on a reused ifindex), and rendered as the netprobe_interface_*
 * drop and error families with the per-interface labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { advanceCollection, type CollectionRules } from '../../src/collector/collection-state.js';
import type { CounterRow, InterfaceFaults } from '../../src/source/counter-source.js';
import { expositionInput, renderToStrings, sample } from '../support/exposition-input.js';

const RULES: CollectionRules = { includeInterface: () => true, activeWindowMs: 60_000, activeOnly: false, departedRetentionMs: 3_000 };

function faults(base: bigint): InterfaceFaults {
  return {
    rxDropped: base + 1n,
    txDropped: base + 2n,
    rxErrors: base + 3n,
    txErrors: base + 4n,
    rxMissedErrors: base + 5n,
    rxFifoErrors: base + 6n,
    rxOverErrors: base + 7n,
    rxNohandler: base + 8n,
  };
}

function rows(ifindex: number, name: string, packets: bigint, f?: InterfaceFaults): CounterRow[] {
  return (['ingress', 'egress'] as const).map((direction) => ({
    ifindex,
    name,
    direction,
    packets,
    bytes: packets * 100n,
    segments: packets,
    ...(f ? { faults: f } : {}),
  }));
}

test('faults reach the samples; a read without them keeps the last ones', () => {
  let step = advanceCollection(undefined, rows(2, 'eth0', 5n, faults(10n)), 0, RULES);
  assert.deepEqual(step.samples[0]!.faults, faults(10n));
  step = advanceCollection(step.state, rows(2, 'eth0', 6n, faults(20n)), 1_000, RULES);
  assert.deepEqual(step.samples[0]!.faults, faults(20n));
  step = advanceCollection(step.state, rows(2, 'eth0', 7n), 2_000, RULES);
  assert.deepEqual(step.samples[0]!.faults, faults(20n), 'a failed dump does not make the series vanish or go back');
});

test('a source that never reads them exports no faults', () => {
  const step = advanceCollection(undefined, rows(2, 'eth0', 5n), 0, RULES);
  assert.equal('faults' in step.samples[0]!, false);
});

test('a departed interface keeps its final faults for its retention, like its traffic counters', () => {
  let step = advanceCollection(undefined, [...rows(2, 'eth0', 1n, faults(0n)), ...rows(9, 'veth9', 5n, faults(10n))], 0, RULES);
  // The source's finals of the deleted interface, with the faults its RTM_DELLINK carried.
  step = advanceCollection(step.state, [...rows(2, 'eth0', 1n, faults(0n)), ...rows(9, 'veth9', 7n, faults(30n))], 1_000, RULES);
  step = advanceCollection(step.state, rows(2, 'eth0', 1n, faults(0n)), 1_500, RULES);
  const gone = step.samples.find((s) => s.ifindex === 9);
  assert.equal(gone?.departed, true);
  assert.deepEqual(gone?.faults, faults(30n));
  // Gone without finals (missed events): the last faults read stay.
  step = advanceCollection(step.state, [...rows(2, 'eth0', 1n, faults(0n)), ...rows(11, 'veth11', 1n, faults(40n))], 2_000, RULES);
  step = advanceCollection(step.state, rows(2, 'eth0', 1n, faults(0n)), 2_500, RULES);
  assert.deepEqual(step.samples.find((s) => s.ifindex === 11)?.faults, faults(40n));
  // After the retention, both are gone.
  step = advanceCollection(step.state, rows(2, 'eth0', 1n, faults(0n)), 6_000, RULES);
  assert.deepEqual(
    step.samples.map((s) => s.ifindex),
    [2],
  );
});

test("a new interface on a reused ifindex never shows the old one's faults", () => {
  let step = advanceCollection(undefined, rows(9, 'veth9', 50n, faults(100n)), 0, RULES);
  step = advanceCollection(step.state, rows(9, 'vethnew', 1n), 1_000, RULES);
  const fresh = step.samples.find((s) => s.name === 'vethnew');
  assert.ok(fresh);
  assert.equal(fresh.faults, undefined);
  assert.deepEqual(step.samples.find((s) => s.name === 'veth9')?.faults, faults(100n), 'the departed one keeps its own');
});

test('exposition: drops and errors per direction, receive details per interface, exact u64 values, pod labels', () => {
  const max = 18_446_744_073_709_551_615n;
  const { text } = renderToStrings(
    expositionInput({
      samples: [sample(2, 'eth0', { faults: { ...faults(0n), rxNohandler: max } }), sample(3, 'nofaults')],
    }),
  );
  const lines = (prefix: string): string[] => text.split('\n').filter((l) => l.startsWith(prefix));
  assert.deepEqual(lines('netprobe_interface_drops_total'), [
    'netprobe_interface_drops_total{direction="ingress",ifindex="2",interface="eth0"} 1',
    'netprobe_interface_drops_total{direction="egress",ifindex="2",interface="eth0"} 2',
  ]);
  assert.deepEqual(lines('netprobe_interface_errors_total'), [
    'netprobe_interface_errors_total{direction="ingress",ifindex="2",interface="eth0"} 3',
    'netprobe_interface_errors_total{direction="egress",ifindex="2",interface="eth0"} 4',
  ]);
  assert.deepEqual(lines('netprobe_interface_receive_'), [
    'netprobe_interface_receive_missed_total{ifindex="2",interface="eth0"} 5',
    'netprobe_interface_receive_fifo_errors_total{ifindex="2",interface="eth0"} 6',
    'netprobe_interface_receive_over_errors_total{ifindex="2",interface="eth0"} 7',
    'netprobe_interface_receive_nohandler_total{ifindex="2",interface="eth0"} 18446744073709551615',
  ]);
  for (const name of ['drops', 'errors', 'receive_missed', 'receive_fifo_errors', 'receive_over_errors', 'receive_nohandler'])
    assert.ok(text.includes(`# TYPE netprobe_interface_${name}_total counter\n`), name);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  assert.equal(`${lint.stdout}${lint.stderr}`, '');

  const withPods = renderToStrings(
    expositionInput({
      samples: [sample(7, 'veth7', { faults: faults(0n), namespace: 'team-a', pod: 'web-1', podUid: 'u1' })],
      pods: { perInterface: true, namespaces: [], unresolved: {} },
    }),
  ).text;
  assert.ok(
    withPods.includes(
      'netprobe_interface_drops_total{direction="egress",ifindex="7",interface="veth7",namespace="team-a",pod="web-1"} 2\n',
    ),
  );
  assert.ok(
    withPods.includes('netprobe_interface_receive_nohandler_total{ifindex="7",interface="veth7",namespace="team-a",pod="web-1"} 8\n'),
  );
});
