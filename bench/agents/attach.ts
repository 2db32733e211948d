/**
 * Runs INSIDE a benchmark namespace: attaches netprobe's programs (through
 * EbpfManager, the real loader) to every interface matching argv[3..] in the
 * attach mode argv[2], prints `attached MODE N`, and on SIGTERM prints the
 * packets it counted per interface as JSON, detaches and exits 0. Used by the
 * throughput part to put the data path under load without the HTTP side.
 */
import { EbpfManager } from '../../src/bpf/index.js';

const [mode, ...include] = process.argv.slice(2);
if (mode !== 'tcx' && mode !== 'tc') throw new Error(`usage: attach.ts tcx|tc [interface...]`);

const ebpf = new EbpfManager({ attachMode: mode, include });
await ebpf.loadNetworkMonitor();
console.log(`attached ${ebpf.attachMode} ${ebpf.interfaceCount}`);

const stop = async (): Promise<void> => {
  const packets: Record<string, number> = {};
  for (const row of ebpf.readCounters()) packets[`${row.name}/${row.direction}`] = Number(row.packets);
  console.log(JSON.stringify({ packets }));
  await ebpf.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
setInterval(() => undefined, 1 << 30);
