/**
 * The pods that have processes on this node, read from /proc/<pid>/cgroup
 * (world-readable: no capability, but the host's PID namespace). I/O only;
 * the parsing is pod-cgroup.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { podUidFromCgroup, type PodCgroupAnchors } from './pod-cgroup.js';

/** Pod UID → some of its processes (a few are enough: any one tells the pod's network namespace). */
export type PodProcesses = Map<string, number[]>;

/** Enough to get past a few processes in no pod network namespace of their own (see PodResolver.podsByNetnsid). */
const PIDS_KEPT_PER_POD = 8;

export function readPodProcesses(procDir = '/proc', anchors: PodCgroupAnchors = {}): PodProcesses {
  const pods: PodProcesses = new Map();
  for (const entry of readdirSync(procDir)) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue; // not a pid
    let text: string;
    try {
      text = readFileSync(`${procDir}/${entry}/cgroup`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const uid = podUidFromCgroup(text, anchors);
    if (!uid) continue;
    const pids = pods.get(uid);
    if (!pids) pods.set(uid, [Number(entry)]);
    else if (pids.length < PIDS_KEPT_PER_POD) pids.push(Number(entry));
  }
  return pods;
}

/** The pod UID of one process now (undefined: gone or not in a pod). */
export function podUidOfProcess(pid: number, procDir = '/proc', anchors: PodCgroupAnchors = {}): string | undefined {
  try {
    return podUidFromCgroup(readFileSync(`${procDir}/${pid}/cgroup`, 'utf8'), anchors);
  } catch {
    return undefined;
  }
}

/** The text of /proc/<pid>/cgroup ('' when unreadable): the reader's own cgroups, to anchor nested kubepods on. */
export function cgroupText(pid: number, procDir = '/proc'): string {
  try {
    return readFileSync(`${procDir}/${pid}/cgroup`, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Whether this process shares the PID namespace of the host. Inside a
 * container without hostPID, /proc/self/status lists one pid per nested
 * PID namespace on its NSpid line.
 */
export function inHostPidNamespace(procDir = '/proc'): boolean {
  try {
    const line = /^NSpid:\s*(.*)$/m.exec(readFileSync(`${procDir}/self/status`, 'utf8'))?.[1];
    return line === undefined || line.trim().split(/\s+/).length === 1;
  } catch {
    return false;
  }
}
