/**
 * The pod socket view under test: a node of CNI pods (cni-pod.ts), netprobe
 * with `--collector.pods` and the ebpf source in the test's own mount
 * namespace (cgroup2 visible), a scrape loop, and what the test starts in
 * between (UDP peers, container cgroups); all undone after the test. Plus the
 * four socket counts of one pod as a scrape shows them.
 */
import type { TestContext } from 'node:test';
import { PodNode } from './cni-pod.js';
import { removeCgroup } from './cgroup-process.js';
import { startNetprobe, type NetprobeProcess } from './netprobe-process.js';
import { OWN_MOUNTS } from './pod-containers.js';
import { ScrapeLoop, valueIn, type Scrape } from './scrape-loop.js';

/** L3 + UDP headers: the socket meter counts L3 bytes. */
export const UDP4 = 28;
export const UDP6 = 48;

/** Ingress packets, ingress bytes, egress packets, egress bytes. */
export type Four = [number, number, number, number];

export interface PodSocketView {
  node: PodNode;
  np: NetprobeProcess;
  scraper: ScrapeLoop;
  /** Stopped (last first) after the test, before the node goes. */
  stoppers: Array<{ stop(): Promise<void> }>;
  /** Cgroup directories removed after the test, before the node goes. */
  cgroups: string[];
}

/** netprobe with the pod-side view on `node`, in the test's own mount namespace (cgroup2 visible) unless `wrap` says otherwise. */
export function startPodNetprobe(
  node: PodNode,
  opts: { interval?: string; args?: readonly string[]; wrap?: string[] } = {},
): Promise<NetprobeProcess> {
  return startNetprobe(
    node.ns,
    [
      '--source=ebpf',
      '--collector.pods',
      `--kubernetes.pod-logs-dir=${node.logsDir}`,
      `--kubernetes.cgroup-root=${node.cgroupRoot}`,
      `--collector.interval=${opts.interval ?? '500ms'}`,
      ...(opts.args ?? []),
    ],
    { wrap: opts.wrap ?? OWN_MOUNTS },
  );
}

/** A node, netprobe with the pod-side view at `interval` (and `args`) in it, a scrape loop; all undone after the test. */
export async function podSocketView(
  t: TestContext,
  opts: { ipv6?: boolean; interval: string; args?: string[]; scrape?: { intervalMs?: number; keep?: RegExp } },
): Promise<PodSocketView> {
  const node = await PodNode.create({ ipv6: opts.ipv6 });
  const stoppers: Array<{ stop(): Promise<void> }> = [];
  const cgroups: string[] = [];
  t.after(async () => {
    for (const s of stoppers.reverse()) await s.stop();
    for (const dir of cgroups) removeCgroup(dir);
    await node.cleanup();
  });
  const np = await startPodNetprobe(node, { interval: opts.interval, args: opts.args });
  t.after(() => np.stop('SIGKILL'));
  const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300, ...opts.scrape });
  t.after(() => scraper.stop());
  return { node, np, scraper, stoppers, cgroups };
}

/** A pod's socket counts in a scrape (NaN where a series is absent). */
export function podSocketCounts(s: Scrape, namespace: string, pod: string): Four {
  const v = (family: string, direction: string): number => valueIn(s.lines, family, { direction, namespace, pod }) ?? NaN;
  return [
    v('netprobe_pod_socket_packets_total', 'ingress'),
    v('netprobe_pod_socket_bytes_total', 'ingress'),
    v('netprobe_pod_socket_packets_total', 'egress'),
    v('netprobe_pod_socket_bytes_total', 'egress'),
  ];
}
