/**
 * Where the host-veth view is blind: per pod, the packets its sockets
 * received that its host-side veth(s) never carried towards it, summed per
 * collection as max(0, Δ socket ingress − Δ veth TC egress segments). Pure.
 *
 * The exporter reads the socket meter BEFORE the TC counters, so a packet a
 * socket had received was past its veth when the veth was read. One case
 * remains: a packet past the veth but not yet at the socket when a
 * collection reads (in flight) is in that collection's veth delta and the
 * next one's socket delta. So a collection's negative difference is carried
 * into the next one (one collection only: an old surplus of ARP or
 * kernel-answered packets on the veth must not hide later blindness). The
 * collection a comparison begins at has no earlier difference to carry, yet
 * may have packets in flight (under load, packets that passed both between
 * the socket read and the veth read): it carries the veth's packets since the
 * previous collection instead, an upper bound of those in flight. So a
 * comparison begins only at the second collection that saw the same set of
 * labelled veths. On a routed or bridged pod the counter then stays 0. Under
 * a redirect past the veth (Cilium's bpf_redirect_peer, netkit) it grows by
 * what the veth missed.
 *
 * A pod is compared only across collections that saw the same set of
 * labelled veths for it (a veth re-created or not labelled yet is no
 * evidence). Its series appears when its comparison begins, so a 0 means
 * "compared and not blind"; a hostNetwork pod without a veth has none.
 */
import type { InterfaceSample } from './interface-sample.js';
import type { PodSocketSample } from './pod-socket-sample.js';

interface PodBaseline {
  namespace: string;
  pod: string;
  /** Socket received packets and veth TC egress segments at the last collection; undefined: no comparison running. */
  socketAt: bigint | undefined;
  vethAt: bigint;
  /** Which veths (ifindex:name, sorted) were read. */
  veths: string;
  /** The last collection's (Δ socket − Δ veth) where negative, else 0. */
  carry: bigint;
  blind: bigint;
  /** A comparison began at some point (a hostNetwork pod's never does): it has a series. */
  compared: boolean;
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
    const v = veths.get(uid);
    const entry: PodBaseline = {
      ...(previous?.get(uid) ?? {
        namespace: s.namespace,
        pod: s.pod,
        socketAt: undefined,
        vethAt: 0n,
        veths: '',
        carry: 0n,
        blind: 0n,
        compared: false,
      }),
    };
    const key = v ? v.keys.sort().join(',') : '';
    // The same veths as at the last collection, not reset: comparable with it.
    const sameVeths = v !== undefined && !s.departed && key !== '' && entry.veths === key && v.egress >= entry.vethAt;
    if (sameVeths && entry.socketAt !== undefined && s.ingress >= entry.socketAt) {
      const d = s.ingress - entry.socketAt - (v.egress - entry.vethAt);
      if (d + entry.carry > 0n) entry.blind += d + entry.carry;
      entry.carry = d < 0n ? d : 0n;
    } else if (sameVeths)
      entry.carry = entry.vethAt - v.egress; // begins: what may be in flight
    else entry.carry = 0n; // no comparison across a veth change, a reset or a pod without a veth
    entry.socketAt = sameVeths ? s.ingress : undefined;
    entry.vethAt = v ? v.egress : 0n;
    entry.veths = key;
    entry.compared ||= sameVeths;
    state.set(uid, entry);
    // A hostNetwork pod has no veth view to be blind: no series.
    if (entry.compared) samples.push({ uid, namespace: entry.namespace, pod: entry.pod, packets: entry.blind });
  }
  samples.sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0));
  return { state, samples };
}

/**
 * The blind totals a restarted exporter continues from: those of pods that had a veth (a restored
 * pod counts as having one, so a hostNetwork pod carried here would get a 0 series after a restart).
 */
export function carriedBlindSpots(
  state: BlindSpotState | undefined,
): Array<{ uid: string; namespace: string; pod: string; packets: bigint }> {
  return [...(state ?? new Map<string, PodBaseline>())]
    .filter(([, b]) => b.compared)
    .map(([uid, b]) => ({ uid, namespace: b.namespace, pod: b.pod, packets: b.blind }));
}

/** The state a restart starts from: the totals kept, every comparison begins anew. */
export function restoredBlindSpots(
  carried: ReadonlyArray<{ uid: string; namespace: string; pod: string; packets: bigint }>,
): BlindSpotState {
  return new Map(
    carried.map((b) => [
      b.uid,
      { namespace: b.namespace, pod: b.pod, socketAt: undefined, vethAt: 0n, veths: '', carry: 0n, blind: b.packets, compared: true },
    ]),
  );
}
