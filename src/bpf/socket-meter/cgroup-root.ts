/**
 * Where the cgroup v2 hierarchy is mounted: the socket meter attaches its
 * programs at its root. Found at run time from /proc/self/mountinfo (parsing
 * pure, reading apart): /sys/fs/cgroup on unified nodes,
 * /sys/fs/cgroup/unified on hybrid ones, anywhere a container mounted it.
 */
import { readFileSync, statfsSync } from 'node:fs';
import { NetprobeError } from '../../errors/index.js';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface Cgroup2Mount {
  /** The mount point (octal escapes of mountinfo decoded). */
  mountPoint: string;
  /** The cgroup path mounted there: '/' for the whole hierarchy. */
  root: string;
}

/** Every cgroup2 mount in a mountinfo text, in file order. Pure. */
export function parseCgroup2Mounts(mountinfo: string): Cgroup2Mount[] {
  const out: Cgroup2Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    // "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const fields = line.slice(0, sep).split(' ');
    if (fields.length < 5) continue;
    out.push({ root: unescape(fields[3] ?? ''), mountPoint: unescape(fields[4] ?? '') });
  }
  return out;
}

/**
 * The mount to attach at: one showing the whole hierarchy (root '/'), the
 * conventional paths first. Undefined when there is none. Pure.
 */
export function chooseCgroup2Mount(mounts: readonly Cgroup2Mount[]): Cgroup2Mount | undefined {
  const whole = mounts.filter((m) => m.root === '/');
  const preferred = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];
  for (const p of preferred) {
    const m = whole.find((x) => x.mountPoint === p);
    if (m) return m;
  }
  return whole[0];
}

/**
 * The cgroup2 root to attach at: `explicit` when given (checked to be a
 * cgroup2 mount), else found in /proc/self/mountinfo. Throws
 * NP_ERR_NO_CGROUP2 naming what is missing.
 */
export function findCgroup2Root(explicit?: string, mountinfo?: string): string {
  if (explicit !== undefined) {
    let type: number;
    try {
      type = statfsSync(explicit).type;
    } catch (e) {
      throw new NetprobeError('NP_ERR_NO_CGROUP2', `cgroup2 root ${explicit}: ${(e as Error).message}`, { cause: e });
    }
    if (type !== CGROUP2_SUPER_MAGIC)
      throw new NetprobeError('NP_ERR_NO_CGROUP2', `${explicit} is not a cgroup2 mount (filesystem magic 0x${type.toString(16)})`);
    return explicit;
  }
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8');
  const mounts = parseCgroup2Mounts(text);
  const chosen = chooseCgroup2Mount(mounts);
  if (!chosen) {
    const partial = mounts.map((m) => `${m.mountPoint} (shows ${m.root} only)`).join(', ');
    throw new NetprobeError(
      'NP_ERR_NO_CGROUP2',
      partial
        ? `no cgroup2 mount of the whole hierarchy in /proc/self/mountinfo; found ${partial}`
        : 'no cgroup2 filesystem is mounted (none in /proc/self/mountinfo)',
    );
  }
  return chosen.mountPoint;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_all, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
