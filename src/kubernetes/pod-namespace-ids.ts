/**
 * Which pod each network namespace id belongs to, given some processes of
 * each pod. Pure: the resolver passes the two lookups (RTM_GETNSID of a pid,
 * and the pod of a pid read again).
 */
import { NSID_NOT_ASSIGNED } from '../net/netns-id.js';

/**
 * Pod UID by namespace id. For each pod, its processes are tried in turn
 * until one is in a namespace with an id here and is still in the pod: a
 * process that exited, whose pid was reused, or that lives in a namespace
 * without an id (the node's own — a hostNetwork pod, or any process placed in
 * the pod's cgroup from outside) does not stop the others from being tried.
 */
export function podsByNamespaceId(
  pods: ReadonlyMap<string, readonly number[]>,
  nsidOfPid: (pid: number) => number | undefined,
  podOfPid: (pid: number) => string | undefined,
): Map<number, string> {
  const byNsid = new Map<number, string>();
  for (const [uid, pids] of pods) {
    for (const pid of pids) {
      const nsid = nsidOfPid(pid);
      if (nsid === undefined || nsid === NSID_NOT_ASSIGNED) continue;
      // The pid may have been reused between the two reads: trust it only if it is still in the pod.
      if (podOfPid(pid) !== uid) continue;
      byNsid.set(nsid, uid);
      break;
    }
  }
  return byNsid;
}
