/**
 * Labels host-side veths with their pod, from the node alone (no Kubernetes
 * API, no runtime socket):
 *   host veth --IFLA_LINK_NETNSID--> peer namespace id
 *   /proc/<pid>/cgroup (kubepods) --> pod UID and one of its processes
 *   RTM_GETNSID(pid) --> that pod's namespace id
 *   /var/log/pods/<namespace>_<name>_<uid> --> namespace and name
 *
 * Event-driven: a new veth schedules one scan of /proc soon after; while
 * some veth stays unattributed, scans repeat with a doubling delay (the
 * veth usually exists before the pod's first process does), so /proc is
 * never read in a loop. An attribution made with a namespace and name is
 * kept for the veth's lifetime: labels never flip while a pod lives.
 *
 * A reused namespace id or ifindex cannot carry an old pod's name: a veth
 * is only attributed from a scan that began after the veth appeared (and
 * after pending link events were read), and a namespace id stays with its
 * namespace as long as the veth's peer lives in it.
 */
import { readdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { LinkWatcher } from '../net/link-events.js';
import type { LinkInfo } from '../net/link-message.js';
import { NetnsIdLookup } from '../net/netns-id.js';
import { indexPodLogDirs, type PodIdentity } from './pod-log-dir.js';
import type { PodCgroupAnchors } from './pod-cgroup.js';
import { podsByNamespaceId } from './pod-namespace-ids.js';
import { cgroupText, inHostPidNamespace, podUidOfProcess, readPodProcesses } from './proc-pods.js';

export type { PodIdentity } from './pod-log-dir.js';

/** Why a veth with a peer in another namespace has no (complete) pod labels. */
export type UnresolvedReason = 'no_pod_process' | 'no_pod_log_dir';
export const UNRESOLVED_REASONS: readonly UnresolvedReason[] = ['no_pod_process', 'no_pod_log_dir'];

export interface PodResolverOptions {
  /** The kubelet's pod log directory (`--kubernetes.pod-logs-dir`). */
  logsDir: string;
  /** The kubelet's --cgroup-root (`--kubernetes.cgroup-root`, default `/`): pods' cgroups count only there. */
  cgroupRoot?: string;
  logger: Logger;
  /** Called when an interface's pod labels changed (a collection should follow). */
  onChange: () => void;
  /** For tests: where proc is mounted. */
  procDir?: string;
}

interface TrackedLink {
  name: string;
  netnsid: number;
  /** Scans numbered at or below this began before the link appeared: they may not attribute it. */
  seenAtScan: number;
  pod: PodIdentity | undefined;
  reported: UnresolvedReason | undefined;
}

const FIRST_SCAN_DELAY_MS = 20;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 30_000;

export class PodResolver {
  private readonly links = new Map<number, TrackedLink>();
  private readonly watcher: LinkWatcher;
  private readonly nsids: NetnsIdLookup;
  private scanNumber = 0;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;
  /** A resync from the scan's own dump is in progress (its links must not schedule another scan). */
  private dumping = false;
  private retryMs = FIRST_RETRY_MS;
  private closed = false;
  private logsDirProblem: string | undefined;
  private podsInvisible = false;
  /** netprobe's own pod (undefined outside Kubernetes): read once, it never changes. */
  private readonly ownPod: string | undefined;
  /** Where pod cgroups may be: the kubelet's cgroup root and netprobe's own cgroups (read once). */
  private readonly anchors: PodCgroupAnchors;
  /** Set when pods cannot be found at all (no host PID namespace). */
  readonly missing: string | undefined;

  private constructor(private readonly opts: PodResolverOptions) {
    this.nsids = new NetnsIdLookup();
    this.anchors = { cgroupRoot: opts.cgroupRoot, own: cgroupText(process.pid, opts.procDir) };
    this.ownPod = podUidOfProcess(process.pid, opts.procDir, this.anchors);
    if (!inHostPidNamespace(opts.procDir)) {
      this.missing = 'hostPID';
      opts.logger.warn(
        { missing: 'hostPID' },
        "pod labels need the host's PID namespace (hostPID: true in the pod spec): netprobe sees only its own container's processes, so no interface is attributed to a pod; interfaces are still counted",
      );
    }
    try {
      const started = LinkWatcher.start({
        onLink: (link) => (link.kind === 'del' ? this.forget(link.ifindex) : this.seen(link)),
        onResync: (links) => this.resync(links),
        onError: (err) => opts.logger.warn({ err }, 'pod attribution: link events failed'),
      });
      this.watcher = started.watcher;
      this.resync(started.links);
      this.scan(); // the interfaces present at start are labelled before the first collection
    } catch (e) {
      this.nsids.close();
      throw e;
    }
  }

  /** Starts following interfaces; the first scan runs right away. Throws NetlinkError if netlink cannot be used. */
  static start(opts: PodResolverOptions): PodResolver {
    return new PodResolver(opts);
  }

  /** The pod served by interface `ifindex` named `name`; undefined when none (yet). */
  podOf(ifindex: number, name: string): PodIdentity | undefined {
    const link = this.links.get(ifindex);
    return link && link.name === name ? link.pod : undefined;
  }

  /** Interfaces with a peer in another namespace that lack a pod or its names, by reason. */
  unresolved(): Record<UnresolvedReason, number> {
    const counts: Record<UnresolvedReason, number> = { no_pod_process: 0, no_pod_log_dir: 0 };
    for (const link of this.links.values()) {
      const reason = unresolvedReason(link);
      if (reason) counts[reason]++;
    }
    return counts;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher.close();
    this.nsids.close();
  }

  private seen(link: LinkInfo): void {
    const known = this.links.get(link.ifindex);
    if (link.linkNetnsid === undefined) {
      if (known) this.forget(link.ifindex);
      // A veth created with its peer elsewhere is announced before the peer is
      // linked: the scan re-reads the links and sees the namespace id then.
      if (!this.dumping) this.schedule(FIRST_SCAN_DELAY_MS);
      return;
    }
    if (known && known.name === link.name && known.netnsid === link.linkNetnsid) return;
    this.links.set(link.ifindex, {
      name: link.name,
      netnsid: link.linkNetnsid,
      seenAtScan: this.scanNumber,
      pod: undefined,
      reported: undefined,
    });
    if (known?.pod) this.opts.onChange();
    this.retryMs = FIRST_RETRY_MS;
    if (!this.dumping) this.schedule(FIRST_SCAN_DELAY_MS);
  }

  private forget(ifindex: number): void {
    this.links.delete(ifindex);
  }

  private resync(links: LinkInfo[]): void {
    const present = new Set(links.map((l) => l.ifindex));
    for (const ifindex of [...this.links.keys()]) if (!present.has(ifindex)) this.forget(ifindex);
    for (const link of links) this.seen(link);
  }

  /** Scans after `delayMs`, unless a scan is already due sooner. */
  private schedule(delayMs: number): void {
    if (this.closed) return;
    const due = Date.now() + delayMs;
    if (this.timer && this.dueAt <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.scan();
    }, delayMs);
    this.timer.unref();
  }

  /** One pass over /proc and the log directory; attributes every veth it can. */
  private scan(): void {
    if (this.closed) return;
    // A fresh link list (events queued so far are superseded by it) before this scan counts as "after" them.
    this.watcher.drain();
    this.dumping = true;
    try {
      this.watcher.resync();
    } finally {
      this.dumping = false;
    }
    if (this.timer) clearTimeout(this.timer); // links the dump reported are handled by this scan
    this.timer = undefined;
    const scan = ++this.scanNumber;
    const pending = [...this.links.values()].filter((l) => !l.pod || !l.pod.name);
    if (pending.length === 0) return;
    let changed = false;
    try {
      const names = this.readLogDirs();
      const byNsid = this.missing ? new Map<number, string>() : this.podsByNetnsid();
      for (const link of pending) {
        if (link.seenAtScan >= scan) continue;
        const uid = link.pod?.uid ?? byNsid.get(link.netnsid);
        if (uid === undefined) continue;
        const pod = names.get(uid) ?? { uid, namespace: '', name: '' };
        if (link.pod?.name !== pod.name || link.pod?.uid !== pod.uid) {
          link.pod = pod;
          changed = true;
        }
      }
    } catch (e) {
      this.opts.logger.warn({ err: e }, 'pod attribution: scan failed; retrying');
    }
    for (const link of this.links.values()) {
      const reason = unresolvedReason(link);
      if (reason && reason !== link.reported)
        this.opts.logger.debug(
          { interface: link.name, netnsid: link.netnsid, podUid: link.pod?.uid, reason },
          reason === 'no_pod_process'
            ? `interface ${link.name}: no process in a kubepods cgroup lives in its peer's network namespace (yet)`
            : `interface ${link.name}: pod ${link.pod?.uid} has no log directory in ${this.opts.logsDir}`,
        );
      link.reported = reason;
    }
    if (changed) this.opts.onChange();
    if ([...this.links.values()].some((l) => unresolvedReason(l))) {
      this.schedule(this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    }
  }

  /** Pod UID by the namespace id of its network namespace; hostNetwork pods (no id here) claim nothing. */
  private podsByNetnsid(): Map<number, string> {
    const pods = readPodProcesses(this.opts.procDir, this.anchors);
    this.checkPodsVisible(pods);
    return podsByNamespaceId(
      pods,
      (pid) => this.nsids.ofPid(pid),
      (pid) => podUidOfProcess(pid, this.opts.procDir, this.anchors),
    );
  }

  /**
   * Without the host's PID namespace, /proc shows only netprobe's own pod:
   * no other pod's process is visible although veths lead to other
   * namespaces. inHostPidNamespace cannot always tell (a /proc mounted for
   * the container's own PID namespace shows one NSpid level), so this is the
   * check that catches it there. Said once, and again if it recurs.
   */
  private checkPodsVisible(pods: ReadonlyMap<string, number[]>): void {
    const others = [...pods.keys()].filter((uid) => uid !== this.ownPod).length;
    if (others > 0) {
      this.podsInvisible = false;
      return;
    }
    if (this.podsInvisible) return;
    this.podsInvisible = true;
    this.opts.logger.warn(
      { missing: 'hostPID', interfaces: this.links.size },
      `no pod's process is visible in ${this.opts.procDir ?? '/proc'} although ${this.links.size} interfaces lead to other network namespaces: pod labels need the host's PID namespace (hostPID: true in the pod spec); until then those interfaces are counted without pod labels`,
    );
  }

  private readLogDirs(): Map<string, PodIdentity> {
    try {
      const index = indexPodLogDirs(readdirSync(this.opts.logsDir));
      if (this.logsDirProblem) this.opts.logger.info({ dir: this.opts.logsDir }, 'the pod log directory is readable again');
      this.logsDirProblem = undefined;
      return index;
    } catch (e) {
      const problem = (e as NodeJS.ErrnoException).code ?? String(e);
      if (problem !== this.logsDirProblem)
        this.opts.logger.warn(
          { dir: this.opts.logsDir, missing: 'pod-logs-dir', err: problem },
          `cannot read the pod log directory ${this.opts.logsDir} (${problem}): mount the node's /var/log/pods read-only (hostPath) there, or set --kubernetes.pod-logs-dir; until then pods are labelled with pod_uid only (empty namespace and pod)`,
        );
      this.logsDirProblem = problem;
      return new Map();
    }
  }
}

function unresolvedReason(link: TrackedLink): UnresolvedReason | undefined {
  if (!link.pod) return 'no_pod_process';
  if (!link.pod.name) return 'no_pod_log_dir';
  return undefined;
}
