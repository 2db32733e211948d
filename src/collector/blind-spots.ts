/**
 * Where the host-veth view is blind: per pod, the packets its sockets
 * received that its host-side veth(s) never carried towards it, summed over
 * collections as max(0, Δ socket ingress − Δ veth TC egress segments). Pure.
 *
 * The exporter reads the socket meter BEFORE the TC counters, so a packet a
 * socket received was already past the veth when the veth was read: on a
 * routed or bridged pod Δ socket ≤ Δ veth in every collection (the veth also
 * carries ARP, ICMP and packets the kernel answers itself), and the counter
 * stays 0. Under a redirect past the veth (Cilium's bpf_redirect_peer,
 * netkit) the difference is what the veth view missed.
 *
 * A pod is compared only across two collections that saw the same set of
 * labelled veths for it (a veth re-created, not yet labelled, or a
 * hostNetwork pod without one is no evidence).
 */
import type { InterfaceSample } from './interface-sample.js';
import type { PodSocketSample } from './socket-state.js';

interface PodBaseline {
  namespace: string;
  pod: string;
  /** Sum of the pod's sockets' received packets at the last comparison. */
  socketIngress: bigint;
  /** Sum of its veths' TC egress segments then; undefined: no baseline. */
  vethEgress: bigint | undefined;
  /** Which veths (ifindex:name, sorted) the baseline was read from. */
  veths: string;
  blind: bigint;
  /** It had a labelled veth at some point (a hostNetwork pod never does). */
  hasVeth: boolean;
}

export type BlindSpotState = ReadonlyMap<string, PodBaseline>;

export interface BlindSpotSample {
  uid: string;
  namespace: string;
  pod: string;
  /** Packets received by the pod's sockets that its veth never carried, since netprobe started comparing. */
  packets: bigint;
}

/** Per pod UID: the blind packets so far. Pods that left the socket view (past their retention) are dropped. */
export function advanceBlindSpots(
  previous: BlindSpotState | undefined,
  pods: readonly PodSocketSample[],
  interfaces: readonly InterfaceSample[],
): { state: BlindSpotState; samples: BlindSpotSample[] } {
  const socket = new Map<string, { namespace: string; pod: string; ingress: bigint; departed: boolean }>();
  for (const p of pods) {
    const s = socket.get(p.uid);
    if (s) {
      s.ingress += p.ingress.packets;
      s.departed &&= p.departed;
    } else socket.set(p.uid, { namespace: p.namespace, pod: p.pod, ingress: p.ingress.packets, departed: p.departed });
  }
  const veths = new Map<string, { keys: string[]; egress: bigint }>();
  for (const i of interfaces) {
    if (i.podUid === undefined || i.departed) continue;
    let v = veths.get(i.podUid);
    if (!v) veths.set(i.podUid, (v = { keys: [], egress: 0n }));
    v.keys.push(`${i.ifindex}:${i.name}`);
    v.egress += i.egress.segments;
  }
  const state = new Map<string, PodBaseline>();
  const samples: BlindSpotSample[] = [];
  for (const [uid, s] of socket) {
    const before = previous?.get(uid);
    const v = veths.get(uid);
    const entry: PodBaseline = before
      ? { ...before }
      : { namespace: s.namespace, pod: s.pod, socketIngress: 0n, vethEgress: undefined, veths: '', blind: 0n, hasVeth: false };
    const key = v ? v.keys.sort().join(',') : '';
    if (
      v &&
      !s.departed &&
      entry.vethEgress !== undefined &&
      entry.veths === key &&
      v.egress >= entry.vethEgress &&
      s.ingress >= entry.socketIngress
    ) {
      const missed = s.ingress - entry.socketIngress - (v.egress - entry.vethEgress);
      if (missed > 0n) entry.blind += missed;
    }
    entry.socketIngress = s.ingress;
    entry.vethEgress = v && !s.departed ? v.egress : undefined;
    entry.veths = key;
    entry.hasVeth ||= v !== undefined;
    state.set(uid, entry);
    // A hostNetwork pod has no veth view to be blind: no series.
    if (entry.hasVeth) samples.push({ uid, namespace: entry.namespace, pod: entry.pod, packets: entry.blind });
  }
  samples.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  return { state, samples };
}
