/**
 * The custom-configuration example: port 9090, a 3 s collection interval,
 * only the interfaces eth0 and wlan0 (names or globs such as `eth*`), only
 * while they carry traffic, with debug logs.
 *
 * Run, as root (or with CAP_BPF and CAP_NET_ADMIN), from the repository:
 *
 *     npx tsx examples/custom-config.ts
 *
 * then open http://localhost:9090/metrics. It runs for five minutes; Ctrl-C
 * stops it early. EXAMPLE_RUN_MS=10000 shortens the run (the tests use it).
 */
import { once } from 'node:events';
import { EbpfManager } from '../src/bpf/index.js';
import { Exporter, type ExporterConfigInput } from '../src/exporter/index.js';

const runMs = Number(process.env.EXAMPLE_RUN_MS ?? 5 * 60_000);

const config: ExporterConfigInput = {
  server: {
    port: 9090, // custom port
    path: '/metrics', // metrics path
    enableCors: true, // Access-Control-Allow-Origin: *
    enableGzip: true, // gzip when the client accepts it
  },
  collectInterval: 3_000, // milliseconds
  interfaceFilter: ['eth0', 'wlan0'], // interfaces to export
  enableActiveOnly: true, // only interfaces that carried traffic recently
  logLevel: 'debug',
};

const ebpf = new EbpfManager();
await ebpf.loadNetworkMonitor();
try {
  const exporter = new Exporter(ebpf, config);
  const timeUp = AbortSignal.timeout(runMs);
  await exporter.start(timeUp);
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
