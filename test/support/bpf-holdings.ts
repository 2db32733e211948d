/**
 * Which BPF programs and links netprobe had (the fds a process holds, read
 * from its fdinfo, or the pins under a directory), and which of them are
 * still in the kernel: loaded (`bpftool prog show`), live (`bpftool link
 * show`) or attached at a cgroup (`bpftool cgroup show`). By id, never by
 * name: other tests load programs of the same names at the same time.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BpfHoldings {
  /** Program ids (held directly or through a link). */
  progs: number[];
  links: number[];
}

export interface StillThere {
  /** Names of the held programs still loaded. */
  loaded: string[];
  /** Ids of the held links still alive. */
  links: number[];
  /** Names of the held programs attached at the cgroup. */
  atCgroup: string[];
}

/** Every program and link a process holds an fd of, with the kernel's name of each link's type (`tcx`, `cgroup`, ...). */
export function heldBy(pid: number): BpfHoldings & { linkTypes: Map<number, string> } {
  const progs = new Set<number>();
  const links = new Set<number>();
  const linkTypes = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const prog = /^prog_id:\s*(\d+)/m.exec(info)?.[1];
    const link = /^link_id:\s*(\d+)/m.exec(info)?.[1];
    if (prog) progs.add(Number(prog));
    if (link) {
      links.add(Number(link));
      linkTypes.set(Number(link), /^link_type:\s*(\S+)/m.exec(info)?.[1] ?? '?');
    }
  }
  return { progs: [...progs].sort((a, b) => a - b), links: [...links].sort((a, b) => a - b), linkTypes };
}

/** Every program and link pinned under a bpffs directory (maps are skipped). */
export async function pinnedUnder(dir: string): Promise<BpfHoldings> {
  const progs = new Set<number>();
  const links = new Set<number>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const prog = await bpftool(['prog', 'show', 'pinned', path]).catch(() => undefined);
    if (prog) {
      progs.add((prog as { id: number }).id);
      continue;
    }
    const link = (await bpftool(['link', 'show', 'pinned', path]).catch(() => undefined)) as { id: number; prog_id: number } | undefined;
    if (link) {
      links.add(link.id);
      progs.add(link.prog_id);
    }
  }
  return { progs: [...progs].sort((a, b) => a - b), links: [...links].sort((a, b) => a - b) };
}

/** Program names by id of every loaded program. */
export async function loadedPrograms(): Promise<Map<number, string>> {
  const all = (await bpftool(['prog', 'show'])) as Array<{ id: number; name?: string }>;
  return new Map(all.map((p) => [p.id, p.name ?? '']));
}

/** What of `held` the kernel still has: loaded programs, live links, programs attached at `cgroupDir`. */
export async function stillThere(held: BpfHoldings, cgroupDir: string): Promise<StillThere> {
  const loaded = await loadedPrograms();
  const live = new Set(((await bpftool(['link', 'show'])) as Array<{ id: number }>).map((l) => l.id));
  const attached = (await bpftool(['cgroup', 'show', cgroupDir])) as Array<{ id: number; name?: string; attach_type: string }>;
  return {
    loaded: held.progs.filter((id) => loaded.has(id)).map((id) => `${loaded.get(id)}#${id}`),
    links: held.links.filter((id) => live.has(id)),
    atCgroup: attached.filter((a) => held.progs.includes(a.id)).map((a) => `${a.name ?? ''}#${a.id}@${a.attach_type}`),
  };
}

export function nothingThere(s: StillThere): boolean {
  return s.loaded.length === 0 && s.links.length === 0 && s.atCgroup.length === 0;
}

async function bpftool(args: string[]): Promise<unknown> {
  const { stdout } = await run('bpftool', ['-j', ...args], { maxBuffer: 64 << 20 });
  return JSON.parse(stdout.trim() || '[]') as unknown; // `cgroup show` of a cgroup without programs prints nothing
}
