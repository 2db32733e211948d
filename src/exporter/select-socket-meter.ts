/**
 * Opens the socket meter (the pod-side view) when `--collector.pods` runs on
 * the ebpf source, and says plainly why not otherwise: netprobe then shows
 * the host-veth view only, and `/` says per-pod totals may be incomplete.
 */
import { openSocketMeter } from '../bpf/socket-meter/socket-meter.js';
import { podsByCgroupVersion } from '../kubernetes/cgroup-v1-pods.js';
import { cgroupText } from '../kubernetes/proc-pods.js';
import type { Logger } from '../log/logger.js';
import type { CounterSource } from '../source/counter-source.js';
import type { SocketCounterSource } from '../source/socket-counter-source.js';

export interface PodSocketMeter {
  meter?: SocketCounterSource;
  /** Why there is no meter (with pods on). */
  problem?: string;
}

export interface OpenPodSocketMeterOptions {
  podsEnabled: boolean;
  source: CounterSource;
  pinPath?: string;
  logger: Logger;
  /** The kubelet's --cgroup-root (`--kubernetes.cgroup-root`). */
  kubeletCgroupRoot?: string;
  /** For tests: where proc is mounted. */
  procDir?: string;
}

export async function openPodSocketMeter(opts: OpenPodSocketMeterOptions): Promise<PodSocketMeter> {
  const { logger } = opts;
  if (!opts.podsEnabled) return {};
  const without = (problem: string): PodSocketMeter => {
    logger.warn(
      { podSocketView: false, reason: problem },
      `pods are counted at their host-side veths only (${problem}): per-pod totals may be incomplete on datapaths that deliver past the veth (Cilium's redirect, netkit) and hostNetwork pods get none`,
    );
    return { problem };
  };
  if (opts.source.kind !== 'ebpf') return without('the socket meter needs the ebpf source; this run counts with netdev');
  // Checked before the meter opens: with a pin path an opened meter stays attached (and counting every socket's packets) after close.
  try {
    const { v1Only, v2 } = podsByCgroupVersion(opts.procDir, {
      cgroupRoot: opts.kubeletCgroupRoot,
      own: cgroupText(process.pid, opts.procDir),
    });
    if (v1Only.size > 0 && v2.size === 0)
      return without(
        `${v1Only.size} pods run in cgroup v1 only (their processes are outside kubepods in the cgroup2 tree): the kubelet must use cgroup v2 for pod sockets to be counted`,
      );
  } catch (error) {
    logger.debug({ err: error }, 'cannot check where pods live in the cgroup tree');
  }
  let meter: SocketCounterSource;
  try {
    meter = await openSocketMeter({ logger, ...(opts.pinPath ? { pinPath: opts.pinPath } : {}) });
  } catch (error) {
    return without(`the socket meter cannot open: ${error instanceof Error ? error.message : String(error)}`);
  }
  logger.info({ cgroupRoot: meter.cgroupRoot, podSocketView: true }, 'pods are also counted at their sockets (the pod-side view)');
  return { meter };
}
