/**
 * Containers of the pods cni-pod.ts makes: a container is a cgroup v2
 * directory `cri-containerd-<id>.scope` beside its pod's first process, and
 * the kubelet's log link `<pod>_<namespace>_<container>-<id>.log` that names
 * it. A UDP peer (cgroup-process.ts) can live in it. netprobe must run in
 * the test's own mount namespace to see the cgroup2 mount: `OWN_MOUNTS`.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { PodNode, Pod } from './cni-pod.js';
import { makeContainerCgroup, UdpPeer } from './cgroup-process.js';

/** Enter the test's own mount namespace again (cgroup2 and bpffs visible), keeping the node's network namespace. */
export const OWN_MOUNTS = ['nsenter', `--mount=/proc/${process.pid}/ns/mnt`, `--wd=${process.cwd()}`, '--'];

export interface ContainerCgroup {
  name: string;
  id: string;
  /** The container's cgroup directory (absolute). */
  dir: string;
}

export interface Container extends ContainerCgroup {
  peer: UdpPeer;
}

/** A container of `pod` named `name`: its cgroup and its kubelet log link (no process yet). */
export function addContainerCgroup(node: PodNode, pod: Pod, name: string): ContainerCgroup {
  const id = randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, '');
  const dir = makeContainerCgroup(pod.pid, id);
  const links = join(node.dir, 'containers');
  mkdirSync(links, { recursive: true });
  symlinkSync(
    join(node.logsDir, `${pod.spec.namespace}_${pod.spec.name}_${pod.uid}`, name, '0.log'),
    join(links, `${pod.spec.name}_${pod.spec.namespace}_${name}-${id}.log`),
  );
  return { name, id, dir };
}

/** A container of `pod` named `name` with a UDP peer in it on `port`; pushed onto `made` for cleanup. */
export async function addContainer(
  node: PodNode,
  pod: Pod,
  name: string,
  port: number,
  made: Container[],
  family: 'udp4' | 'udp6' = 'udp4',
): Promise<Container> {
  const cg = addContainerCgroup(node, pod, name);
  const peer = await UdpPeer.start({ netns: pod.netns || node.ns.name, cgroupDir: cg.dir, port, family });
  const c = { ...cg, peer };
  made.push(c);
  return c;
}
