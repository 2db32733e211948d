/**
 * Which pod a drop belongs to, from the node alone: the network namespace
 * of a pod is the one its processes are in (`/proc/<pid>/ns/net`, whose
 * inode the drop meter reports), a hostNetwork pod's socket is in the pod's
 * cgroup (socket-cgroups.ts), names come from the kubelet's log directories.
 *
 * Cheap: /proc is scanned only when a drop comes from a namespace no scan
 * has looked for yet (then at most once per collection, and again for a
 * namespace still unknown only every RESCAN_MS), or when a pod's remembered
 * process is gone (to tell whether the pod or its namespace is).
 *
 * Reading another process's `ns/net` link is allowed to a process of the same
 * user (netprobe runs as uid 0) or with CAP_SYS_PTRACE, which netprobe does
 * not have: a pod whose processes all run as another user is not found, and
 * its drops keep empty pod labels (said once in the log).
 */
import { readdirSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { DropPod, DropPodLookup } from '../collector/drop-state.js';
import { indexPodLogDirs, type PodIdentity } from './pod-log-dir.js';
import type { PodCgroupAnchors } from './pod-cgroup.js';
import { podUidOfProcess, readPodProcesses } from './proc-pods.js';
import { SocketCgroups } from './socket-cgroups.js';

/** How often a namespace that no scan could name is looked for again. */
const RESCAN_MS = 30_000;

export interface DropPodsOptions {
  /** The cgroup2 mount, for hostNetwork pods' sockets; undefined: none found (they count as the node's). */
  cgroupRoot: string | undefined;
  /** The namespace the drop meter calls the node's (processes there are hostNetwork pods'). */
  hostNetnsInode: number;
  /** The kubelet's pod log directory (`--kubernetes.pod-logs-dir`). */
  logsDir: string;
  /** Where kubepods may sit (the kubelet's --cgroup-root, netprobe's own cgroups). */
  anchors: PodCgroupAnchors;
  logger: Logger;
  /** For tests: where proc is mounted. */
  procDir?: string;
  /** Monotonic ms (for tests). */
  now?: () => number;
}

export class DropPods implements DropPodLookup {
  /** Pod network namespaces by inode, with a process of the pod in it. */
  private netns = new Map<number, { uid: string; pid: number }>();
  /** A process of each pod (any namespace). */
  private pids = new Map<string, number>();
  private readonly lookedFor = new Set<number>();
  private scannedThisCollection = false;
  private lastScanAt = -Infinity;
  private names: Map<string, PodIdentity> | undefined;
  private readonly cgroups: SocketCgroups | undefined;
  private readonly cgroupPods = new Map<bigint, DropPod | null>();
  private readonly unreadable = new Set<string>();
  private readonly procDir: string;
  private readonly now: () => number;

  constructor(private readonly opts: DropPodsOptions) {
    this.procDir = opts.procDir ?? '/proc';
    this.now = opts.now ?? (() => performance.now());
    this.cgroups =
      opts.cgroupRoot === undefined
        ? undefined
        : new SocketCgroups({ cgroupRoot: opts.cgroupRoot, logsDir: opts.logsDir, anchors: opts.anchors, logger: opts.logger });
  }

  newCollection(): void {
    this.scannedThisCollection = false;
    this.names = undefined;
    this.cgroups?.newCollection();
  }

  podOfNetns(inode: number): DropPod | undefined {
    let e = this.netns.get(inode);
    if (!e && (!this.lookedFor.has(inode) || this.now() - this.lastScanAt >= RESCAN_MS)) {
      this.scan();
      this.lookedFor.add(inode);
      e = this.netns.get(inode);
    }
    return e && this.named(e.uid);
  }

  netnsAlive(inode: number): boolean {
    const e = this.netns.get(inode);
    if (e && netnsInode(this.procDir, e.pid) === inode) return true;
    this.scan();
    return this.netns.has(inode);
  }

  podOfCgroup(id: bigint): DropPod | undefined {
    if (!this.cgroups) return undefined;
    let pod = this.cgroupPods.get(id);
    if (pod === undefined) {
      const path = this.cgroups.locate([id]).get(id);
      const place = path === undefined ? undefined : this.cgroups.describe(path);
      pod = place?.kind === 'pod' ? { uid: place.uid, namespace: place.namespace, pod: place.pod } : null;
      // Names may come later (the log directory appears as the container starts): only a named pod is kept.
      if (pod === null || pod.pod) this.cgroupPods.set(id, pod);
    }
    return pod ?? undefined;
  }

  podAlive(uid: string): boolean {
    const pid = this.pids.get(uid);
    if (pid !== undefined && podUidOfProcess(pid, this.procDir, this.opts.anchors) === uid) return true;
    this.scan();
    return this.pids.has(uid);
  }

  /** One pass over /proc (at most once per collection): every pod's processes and their network namespaces. */
  private scan(): void {
    if (this.scannedThisCollection) return;
    this.scannedThisCollection = true;
    this.lastScanAt = this.now();
    const netns = new Map<number, { uid: string; pid: number }>();
    const pids = new Map<string, number>();
    let processes;
    try {
      processes = readPodProcesses(this.procDir, this.opts.anchors);
    } catch (error) {
      this.opts.logger.warn({ err: error }, 'drop attribution: cannot list the processes; keeping the pods known so far');
      return;
    }
    const self = this.opts.hostNetnsInode;
    for (const [uid, list] of processes) {
      pids.set(uid, list[0]!);
      let readable = false;
      for (const pid of list) {
        const ino = netnsInode(this.procDir, pid);
        if (ino === undefined) continue;
        readable = true;
        if (ino === self) break; // a hostNetwork pod: its drops are found through its sockets' cgroup
        netns.set(ino, { uid, pid });
        break;
      }
      if (!readable && !this.unreadable.has(uid)) {
        this.unreadable.add(uid);
        this.opts.logger.info(
          { podUid: uid },
          `drop attribution: cannot read the network namespace of pod ${uid}'s processes (they run as another user and netprobe lacks CAP_SYS_PTRACE): its drops keep empty pod labels`,
        );
      }
    }
    this.netns = netns;
    this.pids = pids;
  }

  private named(uid: string): DropPod {
    if (!this.names) {
      try {
        this.names = indexPodLogDirs(readdirSync(this.opts.logsDir));
      } catch {
        this.names = new Map(); // the pod resolver and the socket view say so in the log
      }
    }
    const p = this.names.get(uid);
    return { uid, namespace: p?.namespace ?? '', pod: p?.name ?? '' };
  }
}

/** The inode of a process's network namespace (undefined: gone, or not readable to us). */
function netnsInode(procDir: string, pid: number): number | undefined {
  try {
    return Number(statSync(`${procDir}/${pid}/ns/net`).ino);
  } catch {
    return undefined;
  }
}
