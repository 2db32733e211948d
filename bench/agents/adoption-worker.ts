/**
 * Runs inside the bench namespace (`ip netns exec`): attaches to every
 * interface matching argv[3] with a pin path, stops (the programs stay
 * pinned and counting), starts again (adopting), and finally removes the
 * pinned state. Prints one JSON line with the three durations in ms.
 * Usage: adoption-worker.ts <pin-path> <tcx|tc> <include glob>
 */
import { EbpfManager } from '../../src/bpf/index.js';

const [pinPath, mode, include] = process.argv.slice(2) as [string, 'tcx' | 'tc', string];
const opts = { pinPath, attachMode: mode, include: [include] };

const timed = async (work: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await work();
  return performance.now() - t0;
};

const first = new EbpfManager(opts);
const attachMs = await timed(() => first.loadNetworkMonitor());
const attached = first.interfaceCount;
const stopMs = await timed(() => first.close());
const second = new EbpfManager(opts);
const adoptMs = await timed(() => second.loadNetworkMonitor());
const adopted = second.interfaceCount;
await second.close();
const cleanupMs = await timed(() => EbpfManager.removePinned({ pinPath }));
console.log(JSON.stringify({ attachMs, stopMs, adoptMs, cleanupMs, attached, adopted }));
