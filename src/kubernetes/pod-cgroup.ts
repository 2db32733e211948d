/**
 * Which pod a process belongs to, from the text of /proc/<pid>/cgroup. Pure.
 *
 * The kubelet puts every container of a pod under a per-pod cgroup whose
 * name carries the pod UID, in one of these shapes (cgroup v1 lines are
 * `N:controller:/path`, the v2 line is `0::/path`):
 * - systemd driver: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope`
 *   (`-` of the UID written as `_`; Guaranteed pods sit directly under kubepods.slice: `kubepods-pod<uid>.slice`)
 * - cgroupfs driver: `/kubepods/besteffort/pod<uid>/<id>` (or `/kubepods/pod<uid>/<id>`)
 * - with a --cgroup-root: under it (`/kubelet/kubepods/...`; systemd: `/kubelet.slice/kubelet-kubepods.slice/...`)
 * - a node in a container (kind, docker-in-docker on cgroup v1): under that container's cgroup, `/docker/<id>/kubepods/...`
 * - seen through a cgroup namespace: the path may start with `/../..`
 * Static (mirror) pods have a 32-hex-digit UID without dashes.
 *
 * Where the kubepods segment sits matters: a local user may create cgroups
 * of any name below their delegated systemd subtree
 * (`/user.slice/user-1000.slice/user@1000.service/kubepods/pod<uid>`), so a
 * kubepods segment counts only where the kubelet (root) puts it — anchored
 * (see kubepodsAt).
 */

const UUID = '[0-9a-fA-F]{8}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{12}';
const HASH = '[0-9a-fA-F]{32}';
/** A path segment naming the pod: `pod<uid>` (cgroupfs) or `...-pod<uid>.slice` (systemd). */
const POD_SEGMENT = new RegExp(`^(?:[A-Za-z0-9_]+-)*pod(${UUID}|${HASH})(?:\\.slice)?$`);
const KUBEPODS_SEGMENT = /(^|-)kubepods([-.]|$)/;

/** Where the kubelet's cgroups may be, besides the root of the hierarchy. */
export interface PodCgroupAnchors {
  /** The kubelet's --cgroup-root (`/` by default): kubepods directly below it counts. */
  cgroupRoot?: string;
  /**
   * The reader's own cgroup on the same hierarchy (a path) or, for
   * podUidFromCgroup, the text of its /proc/self/cgroup: a kubelet in the same
   * container as the reader (kind, docker-in-docker) puts kubepods below one
   * of its ancestors, which no local user controls.
   */
  own?: string;
}

/** The pod UID (lower case, `-` form) of the process whose /proc/<pid>/cgroup reads `text`; undefined outside kubepods. */
export function podUidFromCgroup(text: string, anchors: PodCgroupAnchors = {}): string | undefined {
  const own = anchors.own === undefined ? new Map<string, string>() : cgroupLines(anchors.own);
  for (const [hierarchy, path] of cgroupLines(text)) {
    const uid = podUidFromCgroupPath(path, { cgroupRoot: anchors.cgroupRoot, own: own.get(hierarchy) });
    if (uid) return uid;
  }
  return undefined;
}

/** The pod UID in one cgroup path, if a pod segment follows a kubepods segment where the kubelet puts it. */
export function podUidFromCgroupPath(path: string, anchors: PodCgroupAnchors = {}): string | undefined {
  const segments = path.split('/').filter((s) => s !== '');
  const start = kubepodsAt(segments, anchors);
  if (start === undefined) return undefined;
  for (const segment of segments.slice(start)) {
    const m = POD_SEGMENT.exec(segment);
    if (m) return m[1]!.replace(/_/g, '-').toLowerCase();
  }
  return undefined;
}

/**
 * The index of the anchored kubepods segment of `segments`, or undefined.
 * Anchored means one of:
 * - below a cgroup namespace's `..` run, right after it (the child of a
 *   common ancestor with the reader, which only that ancestor's owner makes);
 * - below the root, or below an ancestor of the reader's own cgroup: either
 *   the cgroup root's segments then kubepods, or a chain of systemd slices
 *   whose names spell their own ancestry (`kubelet.slice/kubelet-kubepods.slice`),
 *   which systemd itself creates.
 */
function kubepodsAt(segments: readonly string[], anchors: PodCgroupAnchors): number | undefined {
  let up = 0;
  while (segments[up] === '..') up++;
  if (up > 0) return KUBEPODS_SEGMENT.test(segments[up] ?? '') ? up : undefined;
  const root = (anchors.cgroupRoot ?? '/').split('/').filter((s) => s !== '');
  const own = (anchors.own ?? '/').split('/').filter((s) => s !== '');
  for (let depth = 0; depth <= own.length; depth++) {
    if (depth > 0 && segments[depth - 1] !== own[depth - 1]) break; // no longer an ancestor of the reader's cgroup
    const underRoot = root.every((s, i) => segments[depth + i] === s) ? depth + root.length : undefined;
    if (underRoot !== undefined && KUBEPODS_SEGMENT.test(segments[underRoot] ?? '')) return underRoot;
    const slices = sliceChainEnd(segments, depth);
    if (slices !== undefined) return slices;
  }
  return undefined;
}

/** The kubepods slice ending a systemd slice chain that starts at `from` (`a.slice/a-b.slice/a-b-kubepods.slice`). */
function sliceChainEnd(segments: readonly string[], from: number): number | undefined {
  let stem = '';
  for (let i = from; i < segments.length; i++) {
    const m = /^(.+)\.slice$/.exec(segments[i]!);
    if (!m) return undefined;
    const name = m[1]!;
    if (stem === '' ? name.includes('-') : !name.startsWith(`${stem}-`) || name.slice(stem.length + 1).includes('-')) return undefined;
    if (name === 'kubepods' || name.endsWith('-kubepods')) return i;
    stem = name;
  }
  return undefined;
}

/** `hierarchy-id:controllers` → path, for each line of a /proc/<pid>/cgroup text. */
export function cgroupLines(text: string): Map<string, string> {
  const lines = new Map<string, string>();
  for (const line of text.split('\n')) {
    // `hierarchy-id:controllers:path`; the path may itself contain ':'.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    lines.set(line.slice(0, second), line.slice(second + 1));
  }
  return lines;
}
