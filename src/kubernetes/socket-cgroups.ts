/**
 * Where a socket cgroup belongs, from the node alone: the cgroup v2 tree
 * (a cgroup id is the inode number of its directory), the kubepods path
 * shapes (pod-cgroup.ts), the kubelet's pod log directories (namespace and
 * pod name by UID) and its container log links (container name by id).
 *
 * Cheap: the tree is walked only when the socket meter reports a cgroup id
 * not placed yet (a new container or node service sending for the first
 * time), and the two log directories are listed at most once per
 * collection, only while some cgroup still lacks its names.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { containerIdFromCgroupDir, indexContainerLogLinks, type ContainerIdentity } from './container-log-link.js';
import { podUidFromCgroupPath, type PodCgroupAnchors } from './pod-cgroup.js';
import { indexPodLogDirs, type PodIdentity } from './pod-log-dir.js';

/** What a cgroup directory is: a pod's (names '' while unknown) or the node's own. */
export type CgroupPlace = { kind: 'pod'; uid: string; namespace: string; pod: string; container: string } | { kind: 'node' };

export interface SocketCgroupsOptions {
  /** The cgroup2 mount (the socket meter's cgroupRoot). */
  cgroupRoot: string;
  /** The kubelet's pod log directory (`--kubernetes.pod-logs-dir`). */
  logsDir: string;
  /** The kubelet's container log links; by default `containers` beside `logsDir`. */
  containerLogsDir?: string;
  /** Where kubepods may sit besides the hierarchy's root: the kubelet's --cgroup-root, netprobe's own v2 cgroup path. */
  anchors?: PodCgroupAnchors;
  logger: Logger;
}

/** Tree walks deeper than this stop (a kubepods container sits at depth 4-6; the guard is against loops of bind mounts). */
const MAX_DEPTH = 16;

export class SocketCgroups {
  readonly containerLogsDir: string;
  private pods: Map<string, PodIdentity> | undefined;
  private containers: Map<string, ContainerIdentity> | undefined;
  private readonly problems = new Map<string, string>();

  constructor(private readonly opts: SocketCgroupsOptions) {
    this.containerLogsDir = opts.containerLogsDir ?? join(dirname(opts.logsDir), 'containers');
  }

  /** Forgets the log directory listings: the next `describe` lists them again. Call once per collection. */
  newCollection(): void {
    this.pods = undefined;
    this.containers = undefined;
  }

  /** The path (relative to the root, starting with `/`) of each of `ids` found in the tree now; one walk for all. */
  locate(ids: readonly bigint[]): Map<bigint, string> {
    const wanted = new Set(ids);
    const found = new Map<bigint, string>();
    const walk = (dir: string, rel: string, depth: number): void => {
      if (found.size === wanted.size || depth > MAX_DEPTH) return;
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return; // removed meanwhile
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const child = join(dir, e.name);
        const childRel = `${rel}/${e.name}`;
        const ino = inode(child);
        if (ino !== undefined && wanted.has(ino)) found.set(ino, childRel);
        walk(child, childRel, depth + 1);
      }
    };
    const rootIno = inode(this.opts.cgroupRoot);
    if (rootIno !== undefined && wanted.has(rootIno)) found.set(rootIno, '/');
    walk(this.opts.cgroupRoot, '', 1);
    return found;
  }

  /** Whether the cgroup `id` still lives at `path`. */
  exists(id: bigint, path: string): boolean {
    return inode(join(this.opts.cgroupRoot, path)) === id;
  }

  dirExists(path: string): boolean {
    return inode(join(this.opts.cgroupRoot, path)) !== undefined;
  }

  /** What the cgroup at `path` is, with the names known now. */
  describe(path: string): CgroupPlace {
    const uid = podUidFromCgroupPath(path, this.opts.anchors);
    if (!uid) return { kind: 'node' };
    const pod = this.podNames().get(uid);
    const id = containerIdFromCgroupDir(basename(path));
    const container = id === undefined ? undefined : this.containerNames().get(id);
    return { kind: 'pod', uid, namespace: pod?.namespace ?? '', pod: pod?.name ?? '', container: container?.container ?? '' };
  }

  private podNames(): Map<string, PodIdentity> {
    this.pods ??= indexPodLogDirs(this.list(this.opts.logsDir));
    return this.pods;
  }

  private containerNames(): Map<string, ContainerIdentity> {
    this.containers ??= indexContainerLogLinks(this.list(this.containerLogsDir));
    return this.containers;
  }

  private list(dir: string): string[] {
    try {
      const names = readdirSync(dir);
      if (this.problems.delete(dir)) this.opts.logger.info({ dir }, 'socket view: the log directory is readable again');
      return names;
    } catch (e) {
      const problem = `${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
      if (problem !== this.problems.get(dir))
        this.opts.logger.warn(
          { dir, err: problem },
          `socket view: cannot list ${dir} (${problem}); mount the kubelet's /var/log/pods and /var/log/containers read-only: until then pod sockets wait for their names and then count as unattributed`,
        );
      this.problems.set(dir, problem);
      return [];
    }
  }
}

function inode(path: string): bigint | undefined {
  try {
    return statSync(path, { bigint: true }).ino;
  } catch {
    return undefined;
  }
}
