/**
 * Measures the overview's memory and build cost at one interface count, in a
 * fresh process run with --expose-gc (so heap numbers are after a full GC):
 * the rate history after one and after three full turns of the ring (it must
 * not grow with run length), and buildOverviewSnapshot against its peer, the
 * exposition snapshot, built from the same samples in the same process.
 * Usage: node --expose-gc --import tsx overview-worker.ts <interfaces> <intervalMs> <rounds>
 * Prints one JSON line.
 */
import { performance } from 'node:perf_hooks';
import { RateHistory } from '../../src/collector/rate-history.js';
import type { InterfaceSample } from '../../src/collector/interface-sample.js';
import { buildOverviewSnapshot } from '../../src/exposition/overview-snapshot.js';
import { buildExpositionSnapshot } from '../../src/exposition/exposition-snapshot.js';
import { InterfaceLabelCache } from '../../src/exposition/interface-labels.js';

const [interfaces, intervalMs, rounds] = process.argv.slice(2).map(Number) as [number, number, number];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function samples(round: number): InterfaceSample[] {
  return Array.from({ length: interfaces }, (_, i) => ({
    ifindex: i + 2,
    name: `veth${i.toString(16).padStart(8, '0')}`,
    active: true,
    ingress: {
      packets: BigInt(round * 10 + i),
      bytes: BigInt(round * 15_000 + i),
      segments: 0n,
      packetsPerSecond: i % 97,
      bytesPerSecond: (i * 1234.5) % 1e7,
    },
    egress: {
      packets: BigInt(round * 7 + i),
      bytes: BigInt(round * 9000 + i),
      segments: 0n,
      packetsPerSecond: i % 13,
      bytesPerSecond: (i * 777.7) % 1e6,
    },
  }));
}

function heap(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const current = samples(1);
// Warm-up: the same work once, dropped, so compiled code and V8's own tables are not counted below.
{
  const warm = new RateHistory({ intervalMs });
  for (let i = 0; i < warm.capacity; i++) warm.record(i * intervalMs, current);
}
const before = heap();
const history = new RateHistory({ intervalMs });
let t = 0;
for (let i = 0; i < history.capacity; i++) history.record((t += intervalMs), current);
const afterOneTurn = heap() - before;
for (let i = 0; i < 2 * history.capacity; i++) history.record((t += intervalMs), current);
const afterThreeTurns = heap() - before;

const trust = {
  up: true,
  source: 'ebpf',
  attachMode: 'tcx',
  version: 'bench',
  startedAt: 0,
  collectIntervalMs: intervalMs,
  interfacesCounted: interfaces,
  interfacesUncounted: 0,
  overflow: 0,
  uncountedPackets: 0,
  collections: 1,
  collectionErrors: 0,
  lastError: null,
  lastCollection: t,
  series: 0,
};
const labels = new InterfaceLabelCache();
const overviewMs: number[] = [];
const expositionMs: number[] = [];
let jsonBytes = 0;
let gzipBytes = 0;
for (let r = 0; r < rounds + 3; r++) {
  const s = samples(r + 2);
  const t0 = performance.now();
  const o = buildOverviewSnapshot({ samples: s, trust, history, nowMs: t });
  const t1 = performance.now();
  await buildExpositionSnapshot(
    {
      samples: s,
      up: true,
      collections: r,
      lastSuccessSeconds: t / 1000,
      source: 'ebpf',
      attachMode: 'tcx',
      attachedInterfaces: interfaces,
      collectionDurationSeconds: 0.001,
      collectionErrors: 0,
      sourceStats: {},
      version: 'bench',
      processFamilies: [],
    },
    labels,
  );
  const t2 = performance.now();
  if (r >= 3) {
    overviewMs.push(t1 - t0);
    expositionMs.push(t2 - t1);
  }
  jsonBytes = o.json.length;
  gzipBytes = o.gzip.length;
}
process.stdout.write(
  `${JSON.stringify({ interfaces, intervalMs, capacity: history.capacity, ringBytes: history.byteLength, afterOneTurn, afterThreeTurns, overviewMs, expositionMs, jsonBytes, gzipBytes })}\n`,
);
