/**
 * A dedicated network namespace holding N veth interfaces (N/2 pairs, both
 * ends inside), for the collection, scrape and memory benchmarks: exporters
 * started inside it see exactly these interfaces plus `lo`. Built with one
 * `ip -batch` call, which takes seconds even for thousands of interfaces.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from './netns.js';
import { onCleanup } from './cleanup-registry.js';

export interface VethFarm {
  ns: Netns;
  /** Interface names created (excluding `lo`). */
  names: string[];
  /** Seconds `ip -batch` took to create them. */
  createSeconds: number;
  /** Deletes the namespace and with it every interface (idempotent). */
  remove(): Promise<void>;
}

/** Creates a namespace with `count` veth interfaces, all up. `count` must be even. */
export async function createVethFarm(count: number, prefix = 'npbf'): Promise<VethFarm> {
  if (count % 2 !== 0) throw new Error(`veth farm size must be even, got ${count}`);
  const ns = await Netns.create(prefix);
  const remove = onCleanup(`namespace ${ns.name}`, () => ns.delete());
  try {
    return { ns, ...(await addVethPairs(ns, count)), remove };
  } catch (e) {
    await remove();
    throw e;
  }
}

/**
 * Adds `count` veth interfaces (`count`/2 pairs, both ends in `ns`, all up)
 * to an existing namespace, e.g. a pod node's; they go with the namespace.
 */
export async function addVethPairs(ns: Netns, count: number): Promise<{ names: string[]; createSeconds: number }> {
  if (count % 2 !== 0) throw new Error(`veth count must be even, got ${count}`);
  const dir = await mkdtemp(join(tmpdir(), 'netprobe-bench-'));
  try {
    const names: string[] = [];
    const lines: string[] = [];
    for (let i = 0; i < count / 2; i++) {
      const [a, b] = [`vf${i}a`, `vf${i}b`];
      names.push(a, b);
      lines.push(`link add ${a} type veth peer name ${b}`);
    }
    for (const name of names) lines.push(`link set ${name} up`);
    const batch = join(dir, 'links.batch');
    await writeFile(batch, lines.join('\n') + '\n');
    const started = performance.now();
    await ns.ip(['-batch', batch], 300_000);
    return { names, createSeconds: (performance.now() - started) / 1000 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
