/**
 * Where a Node process spent its CPU: reads a V8 `.cpuprofile` (from
 * `node --cpu-prof`) and lists the functions with the most self time, for the
 * "target not met" notes of the results.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface HotFunction {
  name: string;
  /** Share of all samples, in percent. */
  selfPercent: number;
}

/** Self time per function (by name and location), heaviest first. */
export function hotFunctions(profile: CpuProfile, repoRoot: string, top = 12): HotFunction[] {
  const total = profile.samples.length || 1;
  const byName = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || node.callFrame.functionName === '(idle)') continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${relative(repoRoot, url.replace(/^file:\/\//, ''))}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    byName.set(name, (byName.get(name) ?? 0) + hits);
  }
  return [...byName.entries()]
    .map(([name, hits]) => ({ name, selfPercent: (100 * hits) / total }))
    .sort((a, b) => b.selfPercent - a.selfPercent)
    .slice(0, top);
}

/** Non-idle samples of a profile. */
function busySamples(p: CpuProfile): number {
  const idle = new Set(p.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  return p.samples.filter((id) => !idle.has(id)).length;
}

/**
 * Reads the busiest `.cpuprofile` in `dir` (node writes one per thread; the
 * module loader's thread is mostly idle).
 */
export async function readBusiestProfile(dir: string): Promise<CpuProfile> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const profiles = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(dir, f), 'utf8')) as CpuProfile));
  const busiest = profiles.sort((a, b) => busySamples(b) - busySamples(a))[0];
  if (!busiest) throw new Error(`no .cpuprofile in ${dir}`);
  return busiest;
}
