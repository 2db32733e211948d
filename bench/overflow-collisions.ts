/**
 * How many interfaces land in np_overflow on a churned node (the numbers in
 * docs/architecture.md, "The slot array and the overflow hash").
 *
 *   npx tsx bench/overflow-collisions.ts            the model: averages over many churn histories
 *   sudo npx tsx bench/overflow-collisions.ts --measure
 *                                                   one history on the real kernel, netprobe attached
 *
 * A node has `fixed` long-lived interfaces (host interfaces, DaemonSet pods)
 * and `pods` short-lived pod veths; a churn deletes a random pod and creates
 * a new one, whose host veth takes the namespace's next ifindex. netprobe
 * places each new interface as `CounterTable.claim` does: its slot (ifindex
 * mod 1024) if free, else the hash; a deleted one frees what it held.
 * `--measure` replays one history with real veth pairs in a namespace of its
 * own while the EbpfManager follows them, and prints the manager's
 * `interfaces_overflow` beside the model's count for the same history.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NP_SLOTS } from '../src/bpf/abi.js';

/** A small deterministic generator: a history is reproducible from its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One churn history: the victim (an index into the live pods) of each churn. */
function history(pods: number, churns: number, seed: number): number[] {
  const next = random(seed);
  return Array.from({ length: churns }, () => Math.floor(next() * pods));
}

/** Interfaces in the hash after each churn (sampled every `every` churns from `from` on). */
function model(fixed: number, pods: number, victims: number[], every = 1, from = 0): number[] {
  let next = 1;
  const owner = new Set<number>();
  const hashed = new Set<number>();
  const add = (ifindex: number): number => {
    const slot = ifindex & (NP_SLOTS - 1);
    if (owner.has(slot)) hashed.add(ifindex);
    else owner.add(slot);
    return ifindex;
  };
  const del = (ifindex: number): void => {
    if (!hashed.delete(ifindex)) owner.delete(ifindex & (NP_SLOTS - 1));
  };
  for (let i = 0; i < fixed; i++) add(next++);
  const live = Array.from({ length: pods }, () => add(next++));
  const out: number[] = [];
  victims.forEach((v, c) => {
    del(live[v]!);
    live[v] = add(next++);
    if (c + 1 >= from && (c + 1) % every === 0) out.push(hashed.size);
  });
  return out;
}

async function measure(fixed: number, pods: number, churns: number, seed: number): Promise<void> {
  const { Netns, ip } = await import('../test/support/netns.js');
  const { Agent } = await import('../test/support/ebpf-agent-driver.js');
  const victims = history(pods, churns, seed);
  const node = await Netns.create('npcoln');
  const other = await Netns.create('npcolp');
  const dir = mkdtempSync(join(tmpdir(), 'np-collisions-'));
  const agent = Agent.start(node, ['--include=hv*,pv*']);
  try {
    await agent.ready();
    const batch = async (lines: string[]): Promise<void> => {
      writeFileSync(join(dir, 'batch'), lines.join('\n') + '\n');
      await ip(['-n', node.name, '-batch', join(dir, 'batch')], 600_000);
    };
    // Only the host end lives in the node's namespace, as with a CNI plugin.
    const pod = (n: number): string => `link add pv${n} type veth peer name pp${n} netns ${other.name}`;
    await batch(Array.from({ length: fixed }, (_, i) => `link add hv${i} type veth peer name hp${i} netns ${other.name}`));
    let n = 0;
    const live = Array.from({ length: pods }, () => n++);
    await batch(live.map(pod));
    for (let c = 0; c < victims.length; c += 100) {
      await batch(
        victims.slice(c, c + 100).flatMap((v) => {
          const lines = [`link del pv${live[v]}`, pod(n)];
          live[v] = n++;
          return lines;
        }),
      );
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const read = await agent.request('read', 'counters');
      const counted = (read.interfaces as unknown[]).length;
      if (counted === fixed + pods || Date.now() > deadline) {
        const stats = read.stats as Record<string, string>;
        console.log(
          `real kernel: ${fixed} long-lived + ${pods} pods, ${churns} churns (seed ${seed}): ${counted} counted, ` +
            `${stats.interfaces_overflow} in the hash; the model says ${model(fixed, pods, victims).at(-1)}`,
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  } finally {
    await agent.stop();
    await node.delete();
    await other.delete();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--measure')) {
  await measure(13, 97, 1000, 7);
} else {
  for (const [fixed, pods] of [
    [13, 97],
    [40, 200],
    [100, 400],
  ] as const) {
    // Every 50th moment between 1,000 and 20,000 churns, over 20 histories.
    const samples = Array.from({ length: 20 }, (_, seed) => model(fixed, pods, history(pods, 20_000, seed + 1), 50, 1000)).flat();
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    const some = samples.filter((x) => x > 0).length / samples.length;
    console.log(
      `${fixed} long-lived + ${pods} pods: in the hash on average ${mean.toFixed(1)} (${((100 * mean) / (fixed + pods)).toFixed(1)}%), ` +
        `at most ${Math.max(...samples)}; at least one in ${(100 * some).toFixed(0)}% of moments`,
    );
  }
  console.log(`13 long-lived + 97 pods after 1000 churns (seed 7): ${model(13, 97, history(97, 1000, 7)).at(-1)} in the hash`);
}
