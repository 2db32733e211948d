/**
 * Which pod a process belongs to, from the text of /proc/<pid>/cgroup. Pure.
 *
 * The kubelet puts every container of a pod under a per-pod cgroup whose
 * name carries the pod UID, in one of these shapes (cgroup v1 lines are
 * `N:controller:/path`, the v2 line is `0::/path`):
 * - systemd driver: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`
 *   (`-` of the UID written as `_`; Guaranteed pods sit directly under kubepods.slice: `kubepods-pod<uid>.slice`)
 * - cgroupfs driver: `/kubepods/besteffort/pod<uid>/<id>` (or `/kubepods/pod<uid>/<id>`)
 * - with a --cgroup-root or a nested node (kind): a prefix such as `/kubelet.slice/kubelet-kubepods.slice/...` or `/docker/<id>/kubepods/...`
 * - seen through a cgroup namespace: the path may start with `/../..`
 * Static (mirror) pods have a 32-hex-digit UID without dashes.
 */

const UUID = '[0-9a-fA-F]{8}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{12}';
const HASH = '[0-9a-fA-F]{32}';
/** A path segment naming the pod: `pod<uid>` (cgroupfs) or `...-pod<uid>.slice` (systemd). */
const POD_SEGMENT = new RegExp(`^(?:[A-Za-z0-9_]+-)*pod(${UUID}|${HASH})(?:\\.slice)?$`);

/** The pod UID (lower case, `-` form) of the process whose /proc/<pid>/cgroup reads `text`; undefined outside kubepods. */
export function podUidFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    // `hierarchy-id:controllers:path`; the path may itself contain ':'.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const uid = podUidFromCgroupPath(line.slice(second + 1));
    if (uid) return uid;
  }
  return undefined;
}

/** The pod UID in one cgroup path, if a kubepods segment precedes a pod segment. */
export function podUidFromCgroupPath(path: string): string | undefined {
  let inKubepods = false;
  for (const segment of path.split('/')) {
    if (!inKubepods) {
      inKubepods = /(^|-)kubepods([-.]|$)/.test(segment);
      if (!inKubepods) continue;
    }
    const m = POD_SEGMENT.exec(segment);
    if (m) return m[1]!.replace(/_/g, '-').toLowerCase();
  }
  return undefined;
}
