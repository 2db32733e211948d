/**
 * The kubelet's pod log directories, `/var/log/pods/<namespace>_<name>_<uid>`,
 * give a pod's namespace and name from its UID without the Kubernetes API.
 * Pure. Namespaces and pod names are DNS labels/subdomains, which never
 * contain `_`, so a valid directory name splits into exactly three parts.
 */

/** A pod as netprobe knows it on the node; namespace and name are '' when unknown. */
export interface PodIdentity {
  uid: string;
  namespace: string;
  name: string;
}

const DNS_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const UID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

/** Parses a pod log directory name; undefined for anything else. */
export function parsePodLogDirName(dirName: string): PodIdentity | undefined {
  const parts = dirName.split('_');
  if (parts.length !== 3) return undefined;
  const [namespace, name, uid] = parts as [string, string, string];
  if (!DNS_NAME.test(namespace) || namespace.length > 63 || !DNS_NAME.test(name) || name.length > 253) return undefined;
  const normalized = uid.toLowerCase();
  if (!UID.test(normalized)) return undefined;
  return { uid: normalized, namespace, name };
}

/** Indexes the names of a directory listing by pod UID (entries that are not pod log dirs are skipped). */
export function indexPodLogDirs(dirNames: readonly string[]): Map<string, PodIdentity> {
  const byUid = new Map<string, PodIdentity>();
  for (const dirName of dirNames) {
    const pod = parsePodLogDirName(dirName);
    if (pod) byUid.set(pod.uid, pod);
  }
  return byUid;
}
