/**
 * Part 3's measuring side. Runs INSIDE a veth-farm namespace: opens the
 * counter source named by argv[2] (`ebpf`: EbpfManager attached to every
 * interface, tcx or tc per argv[4]; `netdev`: the kernel-statistics fallback),
 * starts an Exporter on the namespace's loopback with a collect interval so
 * long that only our calls collect, and times `rounds` (argv[3]) full
 * collection cycles (`collectNow()`: read all counters in one batch, rates,
 * render text and OpenMetrics, gzip both) and, apart, the counter read alone.
 * Prints one JSON line. With argv[5] = a file path, then runs as many cycles
 * again under the V8 sampling profiler and writes the profile there.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { EbpfManager } from '../../src/bpf/index.js';
import type { CounterSource } from '../../src/source/counter-source.js';
import { NetdevSource } from '../../src/source/netdev-source.js';
import { createLogger } from '../../src/log/logger.js';
import { Exporter } from '../../src/exporter/index.js';

const [sourceKind, roundsArg, attachMode = 'auto', profilePath] = process.argv.slice(2);
const rounds = Number(roundsArg);
if ((sourceKind !== 'ebpf' && sourceKind !== 'netdev') || !(rounds > 0))
  throw new Error('usage: collection-worker.ts ebpf|netdev ROUNDS [auto|tcx|tc [PROFILE.cpuprofile]]');
if (attachMode !== 'auto' && attachMode !== 'tcx' && attachMode !== 'tc') throw new Error(`bad attach mode ${attachMode}`);

const logger = createLogger({ level: 'warn' });
let source: CounterSource;
const attachStarted = performance.now();
if (sourceKind === 'ebpf') {
  const ebpf = new EbpfManager({ attachMode, logger });
  await ebpf.loadNetworkMonitor();
  source = ebpf;
} else {
  source = new NetdevSource({ logger });
}
const attachMs = performance.now() - attachStarted;

const exporter = new Exporter(source, { server: { host: '127.0.0.1', port: 0 }, collectInterval: 3_600_000, logLevel: 'warn' }, { logger });
try {
  await exporter.start();
  for (let i = 0; i < 3; i++) await exporter.collectNow(); // warm-up: JIT, buffers
  const collectMs: number[] = [];
  const readMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    await exporter.collectNow();
    collectMs.push(performance.now() - t);
    t = performance.now();
    source.readCounters();
    readMs.push(performance.now() - t);
  }
  // Profiled apart from the timed rounds: the profiler's own cost stays out of the numbers.
  if (profilePath) {
    const profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
    await profiler.post('Profiler.start');
    for (let i = 0; i < rounds; i++) await exporter.collectNow();
    const { profile } = await profiler.post('Profiler.stop');
    await writeFile(profilePath, JSON.stringify(profile));
    profiler.disconnect();
  }
  console.log(
    JSON.stringify({
      source: source.kind,
      attachMode: source.attachMode ?? null,
      interfaces: source.interfaceCount,
      rows: source.readCounters().length,
      attachMs,
      collectMs,
      readMs,
    }),
  );
} finally {
  await exporter.stop();
  await source.close();
}
