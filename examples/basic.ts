/**
 * The basic example: eBPF counters on every interface, exported with every
 * default (port 8081, /metrics, 5 s interval) for five minutes.
 *
 * Run, as root (or with CAP_BPF and CAP_NET_ADMIN), from the repository:
 *
 *     npx tsx examples/basic.ts
 *
 * then open http://localhost:8081/metrics, /health and /. Ctrl-C stops it
 * early; either way every program is detached before it exits.
 * EXAMPLE_RUN_MS=10000 shortens the run (the tests use it).
 *
 * In your own project import from the package instead:
 * `import { EbpfManager } from 'netprobe-exporter/ebpf'` and
 * `import { Exporter } from 'netprobe-exporter/metrics'`.
 */
import { once } from 'node:events';
import { EbpfManager } from '../src/bpf/index.js';
import { Exporter } from '../src/exporter/index.js';

const runMs = Number(process.env.EXAMPLE_RUN_MS ?? 5 * 60_000);

// 1. The eBPF manager, 2. load and attach the TC programs (the error says why not, and what to do).
const ebpf = new EbpfManager();
await ebpf.loadNetworkMonitor();
try {
  // 3. The exporter, with the default configuration.
  const exporter = new Exporter(ebpf);
  // 4. Serve until the time is up (or Ctrl-C).
  const timeUp = AbortSignal.timeout(runMs);
  await exporter.start(timeUp);
  // 5. Wait for the end: the time is up, or Ctrl-C.
  await untilStopped(timeUp);
  await exporter.stop();
  console.log('Exporter stopped');
} finally {
  await ebpf.close();
}

// Not AbortSignal.any([AbortSignal.timeout(...), ...]): on Node 20 the
// timeout signal inside it can be garbage-collected and then never fires.
async function untilStopped(timeUp: AbortSignal): Promise<void> {
  await Promise.race([once(timeUp, 'abort'), once(process, 'SIGINT'), once(process, 'SIGTERM')]);
}
