/**
 * The exporter's pod-side view (src/exporter/socket-view.ts) over a meter
 * in memory: a failed read of the socket counters keeps the last good
 * values exported (the series do not vanish for a scrape).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SocketView } from '../../src/exporter/socket-view.js';
import type { SocketCounterRow, SocketCounterSource } from '../../src/source/socket-counter-source.js';

test('a failed read of the socket counters exports the last good values again', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'np-socket-view-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'system.slice'));
  const id = statSync(join(root, 'system.slice'), { bigint: true }).ino;
  let fail = false;
  const rows: SocketCounterRow[] = [
    { cgroupId: id, direction: 'ingress', packets: 3n, bytes: 300n },
    { cgroupId: id, direction: 'egress', packets: 5n, bytes: 500n },
  ];
  const meter: SocketCounterSource = {
    cgroupRoot: root,
    readSocketCounters: () => {
      if (fail) throw new Error('EIO reading the socket map');
      return rows;
    },
    forget: () => new Map(),
    close: async () => undefined,
  };
  const view = new SocketView(meter, {
    containers: false,
    departedRetentionMs: 60_000,
    logsDir: join(root, 'no-logs'),
    cgroupRoot: '/',
    logger: pino({ level: 'silent' }),
  });
  view.collect();
  const good = view.exposition([]);
  const node = good.unattributed.find((u) => u.reason === 'node');
  assert.deepEqual(node?.egress, { packets: 5n, bytes: 500n });
  fail = true;
  view.collect();
  const after = view.exposition([]);
  assert.deepEqual(after.unattributed, good.unattributed, 'the last good values stand');
  assert.match(view.trust().problem ?? '', /EIO reading the socket map/, 'and the page says the read failed');
});
