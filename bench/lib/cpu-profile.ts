/**
 * Where a Node process spent its time: reads a V8 CPU profile (from
 * `node:inspector` or `node --cpu-prof`) and lists functions by total
 * (inclusive) and self time, for the "target not met" notes of the results.
 */
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

export interface HotFunction {
  name: string;
  /** Share of non-idle samples in this function or what it called, in percent. */
  totalPercent: number;
  /** Share of non-idle samples in this function itself, in percent. */
  selfPercent: number;
}

/** Frames every stack passes through: they say nothing about where time goes. */
const PLUMBING = new Set(['(root)', '(program)', '(idle)', 'processTicksAndRejections', 'runMicrotasks']);

/** Functions (by name and file) ordered by total time, heaviest first. */
export function hotFunctions(profile: CpuProfile, repoRoot: string, top = 20): HotFunction[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => {
    const { functionName, url, lineNumber } = n.callFrame;
    const file = url ? relative(repoRoot, url.replace(/^file:\/\//, '')) : '';
    return `${functionName || '(anonymous)'}${file ? ` (${file}${lineNumber > 0 ? `:${lineNumber + 1}` : ''})` : ''}`;
  };
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);

  const total = new Map<string, number>();
  const self = new Map<string, number>();
  let busy = 0;
  for (const [id, count] of hits) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') continue;
    busy += count;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + count);
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur)!;
      if (PLUMBING.has(node.callFrame.functionName)) continue;
      onStack.add(label(node));
    }
    for (const name of onStack) total.set(name, (total.get(name) ?? 0) + count);
  }
  const pct = (n: number): number => (100 * n) / (busy || 1);
  return [...total.entries()]
    .map(([name, n]) => ({ name, totalPercent: pct(n), selfPercent: pct(self.get(name) ?? 0) }))
    .filter((h) => h.totalPercent < 99.5)
    .sort((a, b) => b.totalPercent - a.totalPercent)
    .slice(0, top);
}
