/**
 * Whether pods' processes live in the cgroup v2 tree, where the socket
 * meter can count them. On hybrid nodes whose kubelet uses cgroup v1 a pod
 * process's v2 line (`0::/…`) is outside kubepods while a v1 line names its
 * pod: its sockets would be counted as the node's. Read once at start from
 * /proc (needs the host PID namespace, as pod attribution does).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cgroupLines, podUidFromCgroupPath, type PodCgroupAnchors } from './pod-cgroup.js';

/** Pods seen (by UID) in cgroup v1 lines only, and pods seen in the v2 tree. */
export function podsByCgroupVersion(procDir = '/proc', anchors: PodCgroupAnchors = {}): { v1Only: Set<string>; v2: Set<string> } {
  // anchors.own is the reader's /proc/self/cgroup text: each line anchors its own hierarchy.
  const own = cgroupLines(anchors.own ?? '');
  const v1Only = new Set<string>();
  const v2 = new Set<string>();
  for (const entry of readdirSync(procDir)) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`${procDir}/${entry}/cgroup`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    let inV2: string | undefined;
    let inV1: string | undefined;
    for (const line of text.split('\n')) {
      const m = /^(\d+):([^:]*):(.*)$/.exec(line);
      if (!m) continue;
      const uid = podUidFromCgroupPath(m[3]!, { cgroupRoot: anchors.cgroupRoot, own: own.get(`${m[1]}:${m[2]}`) });
      if (m[1] === '0' && m[2] === '') inV2 = uid;
      else inV1 ??= uid;
    }
    if (inV2) v2.add(inV2);
    else if (inV1) v1Only.add(inV1);
  }
  for (const uid of v2) v1Only.delete(uid);
  return { v1Only, v2 };
}
