/**
 * Container names from the node alone. The kubelet links every container's
 * log as `/var/log/containers/<pod>_<namespace>_<container>-<containerid>.log`
 * and names a container's cgroup after the same id
 * (`cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`, or
 * `<id>` with the cgroupfs driver). Pure.
 */

export interface ContainerIdentity {
  namespace: string;
  pod: string;
  container: string;
}

/** A runtime's container id: 64 hex digits (containerd, CRI-O, Docker). */
const CONTAINER_ID = /^[0-9a-f]{64}$/;
const LINK = /^([a-z0-9][a-z0-9.-]*)_([a-z0-9][a-z0-9-]*)_([a-z0-9][a-z0-9-]*)-([0-9a-f]{64})\.log$/;

/** Parses one link name; undefined for anything else. Names are DNS labels, so `_` separates exactly. */
export function parseContainerLogLink(fileName: string): (ContainerIdentity & { id: string }) | undefined {
  const m = LINK.exec(fileName);
  if (!m) return undefined;
  return { pod: m[1]!, namespace: m[2]!, container: m[3]!, id: m[4]! };
}

/** Indexes a listing of the containers log directory by container id. */
export function indexContainerLogLinks(fileNames: readonly string[]): Map<string, ContainerIdentity> {
  const byId = new Map<string, ContainerIdentity>();
  for (const name of fileNames) {
    const link = parseContainerLogLink(name);
    if (link) byId.set(link.id, { namespace: link.namespace, pod: link.pod, container: link.container });
  }
  return byId;
}

/** The container id a container cgroup directory is named after; undefined for a pod or QoS level directory. */
export function containerIdFromCgroupDir(dirName: string): string | undefined {
  const bare = dirName.replace(/\.scope$/, '').replace(/^(?:[a-z-]*-)?(?=[0-9a-f]{64}$)/, '');
  return CONTAINER_ID.test(bare) ? bare : undefined;
}
