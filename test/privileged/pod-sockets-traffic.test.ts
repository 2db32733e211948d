/**
 * The pod-side view against known traffic, from real parts (test/support/
 * cni-pod.ts: Debian's CNI plugins with dual-stack host-local, kubepods
 * cgroups in the cgroup v2 tree, pod log dirs; netprobe's CLI scraped):
 * - a bridged and a routed (ptp) pod exchange UDP with the node over IPv4
 *   and IPv6 with known counts both ways: netprobe_pod_socket_* equal them
 *   exactly (packets, and L3 bytes: payload + 28 or + 48), and then a TCP
 *   connection per pod and family adds exactly the segments the kernel
 *   counted on that socket (`ss -tiH` segs_in/segs_out in the pod's
 *   namespace, read after the transfer and before the socket closes); no
 *   pod is flagged blind;
 * - a container that starts, sends and exits between two collections (a
 *   long interval): its datagrams are in its pod's series when its cgroup
 *   was still there at the next collection, and otherwise wholly in the
 *   pod's or wholly in `reason="unmapped"`: never lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Pod } from '../support/cni-pod.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';
import { BLIND_FLOOR_PACKETS } from '../../src/collector/blind-window.js';
import { UdpPeer, cgroupDirOf, removeWhenEmpty } from '../support/cgroup-process.js';
import { addContainerCgroup } from '../support/pod-containers.js';
import { podSocketCounts as podCounts, podSocketView, UDP4, UDP6, type Four } from '../support/pod-socket-view.js';
import { startTcpServer, tcpSocketStats, tcpTransfer, type TcpTransfer } from '../support/tcp-stream.js';

function collections(s: Scrape): number {
  const line = s.lines.find((l) => l.startsWith('netprobe_collection_total '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/** A scrape of a collection that began after this call (the one in progress, if any, may predate it). */
async function laterCollection(scraper: ScrapeLoop): Promise<Scrape> {
  const seen = collections(await scraper.fresh());
  return scraper.until((s) => (collections(s) >= seen + 2 ? s : undefined), 60_000, `collection ${seen + 2}`);
}

test(
  'bridged and routed pods, IPv4 and IPv6: UDP exact both ways, TCP equal to the kernel’s per-socket segments, nobody flagged blind',
  { timeout: 300_000 },
  async (t) => {
    const { node, np, scraper, stoppers, cgroups } = await podSocketView(t, { ipv6: true, interval: '500ms' });

    const web = await node.addPod({ namespace: 'shop', name: 'web-7f9c', shape: 'bridge' });
    const db = await node.addPod({ namespace: 'data', name: 'db-1', shape: 'ptp' });
    const pods = [web, db];
    for (const pod of pods) {
      assert.match(pod.ip6, /:/, `${pod.spec.name} has an IPv6 address from host-local`);
      await node.quietNeighbours(pod);
    }
    // Per pod one container with an IPv4 and an IPv6 UDP peer; the node's peers live outside kubepods.
    const peers = new Map<Pod, { v4: UdpPeer; v6: UdpPeer; dir: string }>();
    for (const pod of pods) {
      const { dir } = addContainerCgroup(node, pod, 'app');
      cgroups.push(dir);
      const v4 = await UdpPeer.start({ netns: pod.netns, cgroupDir: dir, port: 7000, family: 'udp4' });
      stoppers.push(v4);
      const v6 = await UdpPeer.start({ netns: pod.netns, cgroupDir: dir, port: 7006, family: 'udp6' });
      stoppers.push(v6);
      peers.set(pod, { v4, v6, dir });
    }
    const own = cgroupDirOf(process.pid);
    const node4 = await UdpPeer.start({ netns: node.ns.name, cgroupDir: own, port: 7001, family: 'udp4' });
    stoppers.push(node4);
    const node6 = await UdpPeer.start({ netns: node.ns.name, cgroupDir: own, port: 7007, family: 'udp6' });
    stoppers.push(node6);

    // Known counts, different for every pod, family and direction.
    const plan = new Map<Pod, { in4: [number, number]; in6: [number, number]; out4: [number, number]; out6: [number, number] }>([
      [web, { in4: [300, 200], in6: [250, 900], out4: [200, 700], out6: [150, 1200] }],
      [db, { in4: [180, 400], in6: [220, 64], out4: [90, 1000], out6: [130, 333] }],
    ]);
    for (const pod of pods) {
      const p = plan.get(pod)!;
      const { v4, v6 } = peers.get(pod)!;
      await node4.send(pod.ip, 7000, ...p.in4);
      await node6.send(pod.ip6, 7006, ...p.in6);
      await v4.send(pod.gateway, 7001, ...p.out4);
      await v6.send(pod.gateway6, 7007, ...p.out6);
    }
    const want = new Map<Pod, Four>();
    for (const pod of pods) {
      const p = plan.get(pod)!;
      const { v4, v6 } = peers.get(pod)!;
      const got4 = await v4.receivedAtLeast(p.in4[0]);
      const got6 = await v6.receivedAtLeast(p.in6[0]);
      assert.deepEqual(
        [got4, got6],
        [
          { packets: p.in4[0], bytes: p.in4[0] * p.in4[1] },
          { packets: p.in6[0], bytes: p.in6[0] * p.in6[1] },
        ],
        `${pod.spec.name}: every datagram reached its socket`,
      );
      want.set(pod, [
        p.in4[0] + p.in6[0],
        p.in4[0] * (p.in4[1] + UDP4) + p.in6[0] * (p.in6[1] + UDP6),
        p.out4[0] + p.out6[0],
        p.out4[0] * (p.out4[1] + UDP4) + p.out6[0] * (p.out6[1] + UDP6),
      ]);
    }
    const sentOut = (k: 'out4' | 'out6') => pods.reduce((n, pod) => n + plan.get(pod)![k][0], 0);
    assert.equal((await node4.receivedAtLeast(sentOut('out4'))).packets, sentOut('out4'));
    assert.equal((await node6.receivedAtLeast(sentOut('out6'))).packets, sentOut('out6'));

    const exact = (s: Scrape): boolean =>
      pods.every((pod) => JSON.stringify(podCounts(s, pod.spec.namespace, pod.spec.name)) === JSON.stringify(want.get(pod)));
    await scraper
      .until((s) => (exact(s) ? true : undefined), 60_000, 'UDP counts exact')
      .catch(async (e: unknown) => {
        const s = await scraper.fresh();
        throw new Error(
          `${String(e)}\nwant ${JSON.stringify(pods.map((p) => want.get(p)))}\nhave ${JSON.stringify(pods.map((p) => podCounts(s, p.spec.namespace, p.spec.name)))}`,
        );
      });

    // TCP: per pod one connection per family to a server in the node (outside kubepods), all kept open.
    const server = await startTcpServer(node.ns.name, own, 7100);
    stoppers.push(server);
    const streams = new Map<Pod, TcpTransfer[]>();
    for (const pod of pods) {
      const list: TcpTransfer[] = [];
      for (const gateway of [pod.gateway, pod.gateway6]) {
        const s = await tcpTransfer(pod.netns, peers.get(pod)!.dir, gateway, 7100, 3 << 20, 1 << 20);
        stoppers.push(s);
        list.push(s);
      }
      streams.set(pod, list);
    }
    // The kernel's counts of those sockets, and a collection that began after they were read with
    // nothing changing meanwhile (delayed ACKs may still be on their way at the first look).
    const segments = async (pod: Pod): Promise<Array<{ segsIn: number; segsOut: number; bytesSent: number; bytesReceived: number }>> =>
      Promise.all(streams.get(pod)!.map((s) => tcpSocketStats((cmd, args) => pod.exec(cmd, args), s.localPort)));
    const deadline = Date.now() + 90_000;
    let last: string;
    for (;;) {
      const k1 = await Promise.all(pods.map(segments));
      const s = await laterCollection(scraper);
      const k2 = await Promise.all(pods.map(segments));
      const wantTcp = pods.map((pod, i) => {
        const base = want.get(pod)!;
        return [base[0] + k2[i]!.reduce((n, k) => n + k.segsIn, 0), base[2] + k2[i]!.reduce((n, k) => n + k.segsOut, 0)];
      });
      const have = pods.map((pod) => {
        const c = podCounts(s, pod.spec.namespace, pod.spec.name);
        return [c[0], c[2]];
      });
      last = `kernel ${JSON.stringify(k2)}; want packets ${JSON.stringify(wantTcp)}, have ${JSON.stringify(have)}`;
      if (JSON.stringify(k1) === JSON.stringify(k2) && JSON.stringify(wantTcp) === JSON.stringify(have)) {
        for (const [i, pod] of pods.entries()) {
          const c = podCounts(s, pod.spec.namespace, pod.spec.name);
          const payload = k2[i]!.reduce((n, k) => [n[0]! + k.bytesReceived, n[1]! + k.bytesSent], [0, 0]);
          // L3 bytes: the payload plus the headers of every skb (a GSO skb carries one set for all its segments).
          assert.ok(c[1] - want.get(pod)![1] > payload[0]!, `${pod.spec.name}: ingress bytes above the payload received`);
          assert.ok(c[3] - want.get(pod)![3] > payload[1]!, `${pod.spec.name}: egress bytes above the payload sent`);
          assert.ok(k2[i]!.every((k) => k.bytesSent >= 3 << 20 && k.bytesReceived >= 1 << 20));
        }
        t.diagnostic(last);
        break;
      }
      assert.ok(Date.now() < deadline, `TCP segments at the pods' sockets: ${last}`);
    }

    const s = await scraper.fresh();
    for (const pod of pods) {
      const c = podCounts(s, pod.spec.namespace, pod.spec.name);
      // One pod per namespace: the namespace totals are that pod's.
      assert.equal(
        valueIn(s.lines, 'netprobe_namespace_socket_packets_total', { namespace: pod.spec.namespace, direction: 'ingress' }),
        c[0],
      );
      assert.equal(valueIn(s.lines, 'netprobe_namespace_socket_bytes_total', { namespace: pod.spec.namespace, direction: 'egress' }), c[3]);
      const blind = valueIn(s.lines, 'netprobe_pod_blind_packets_total', { namespace: pod.spec.namespace, pod: pod.spec.name });
      assert.ok(blind !== undefined && blind >= 0 && blind < Number(BLIND_FLOOR_PACKETS), `${pod.spec.name}: ${blind} blind packets`);
    }
    const overview = JSON.parse(await node.ns.exec('curl', ['-s', `http://127.0.0.1:${np.port}/api/v1/overview`])) as {
      trust: { podSockets?: { open: boolean; blindPods: string[] } };
    };
    assert.deepEqual(overview.trust.podSockets, { open: true, blindPods: [] }, 'no routed or bridged pod flagged');
    assert.equal(scraper.scrapes.filter((x) => x.status !== 200).length, 0, 'every scrape succeeded');
  },
);

test(
  'a container that starts, sends and exits between two collections: in its pod’s series, or wholly unattributed, never lost',
  { timeout: 300_000 },
  async (t) => {
    // A long interval: a container's whole life fits between two collections.
    const { node, scraper, stoppers, cgroups } = await podSocketView(t, { interval: '10s' });
    const pod = await node.addPod({ namespace: 'jobs', name: 'cron-28391', shape: 'ptp' });
    await node.quietNeighbours(pod);
    const sink = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });
    stoppers.push(sink);
    const unmapped = (s: Scrape): [number, number] => [
      valueIn(s.lines, 'netprobe_unattributed_socket_packets_total', { direction: 'egress', reason: 'unmapped' }) ?? NaN,
      valueIn(s.lines, 'netprobe_unattributed_socket_bytes_total', { direction: 'egress', reason: 'unmapped' }) ?? NaN,
    ];
    const podOut = (s: Scrape): [number, number] => {
      const c = podCounts(s, 'jobs', 'cron-28391');
      return [Number.isNaN(c[2]) ? 0 : c[2], Number.isNaN(c[3]) ? 0 : c[3]];
    };
    let received = 0;
    /** One short-lived container: its cgroup, a process that sends `n` datagrams and exits; the cgroup removed at once or kept. */
    const shortLived = async (name: string, n: number, size: number, removeAtOnce: boolean): Promise<string> => {
      const { dir } = addContainerCgroup(node, pod, name);
      cgroups.push(dir);
      const peer = await UdpPeer.start({ netns: pod.netns, cgroupDir: dir, port: 7500, family: 'udp4' });
      await peer.send(pod.gateway, 7001, n, size);
      await peer.stop();
      received += n;
      assert.equal((await sink.receivedAtLeast(received)).packets, received, 'the node received every datagram');
      if (removeAtOnce) await removeWhenEmpty(dir);
      return dir;
    };

    // Kept until a collection has looked: the pod's, exactly.
    const before = await laterCollection(scraper);
    const kept = await shortLived('once-a', 120, 100, false);
    const seen = await laterCollection(scraper);
    await removeWhenEmpty(kept);
    assert.deepEqual(podOut(seen), [podOut(before)[0] + 120, podOut(before)[1] + 120 * (100 + UDP4)], 'in its pod’s series');

    // Gone before any collection looked: not in the pod's series, in `unmapped` (a lower bound: the meter
    // is the machine's, and other processes' short-lived cgroups land there too). A collection that
    // happened to run during the container's life places it in its pod: then the pod has all of it.
    let unattributedOnce = false;
    for (let attempt = 0; attempt < 5 && !unattributedOnce; attempt++) {
      // Right after a collection (scraped every 300 ms, collected every 10 s).
      const a = await laterCollection(scraper);
      const c0 = collections(a);
      const n = 80 + attempt;
      await shortLived(`once-b${attempt}`, n, 200, true);
      const between = collections(await scraper.fresh()) === c0;
      const b = await laterCollection(scraper);
      const dPod = [podOut(b)[0] - podOut(a)[0], podOut(b)[1] - podOut(a)[1]];
      const dUnmapped = [unmapped(b)[0] - unmapped(a)[0], unmapped(b)[1] - unmapped(a)[1]];
      const bytes = n * (200 + UDP4);
      t.diagnostic(
        `attempt ${attempt}: sent ${n}; pod +${JSON.stringify(dPod)}, unmapped +${JSON.stringify(dUnmapped)}, between collections: ${between}`,
      );
      if (dPod[0] === 0) {
        assert.deepEqual(dPod, [0, 0]);
        assert.ok(dUnmapped[0]! >= n && dUnmapped[1]! >= bytes, `unmapped +${JSON.stringify(dUnmapped)} holds all ${n} datagrams`);
        unattributedOnce = true;
      } else assert.deepEqual(dPod, [n, bytes], 'placed in its pod: the pod has all of it');
    }
    assert.ok(unattributedOnce, 'no attempt fitted between two collections');
    assert.equal(scraper.scrapes.filter((x) => x.status !== 200).length, 0, 'every scrape succeeded');
  },
);
