/**
 * The pod-side view from real parts: pods made by Debian's CNI plugins
 * (bridge, ptp) and a hostNetwork pod (test/support/cni-pod.ts), each with a
 * UDP peer started in a cgroup v2 container cgroup of its pod before it opens
 * its socket (test/support/cgroup-process.ts), the real socket meter, and
 * netprobe with --collector.pods. Every pod's socket counters are compared
 * with what its peer received and sent; the node's own peer (outside
 * kubepods) lands in no pod; no routed or bridged pod is flagged blind. A
 * SIGKILLed CLI without a pin path leaves none of its programs (TC, socket
 * meter, drop meter) or links in the kernel, nothing at the cgroup2 root.
 *
 * netprobe runs in the node namespace but in the test's own mount namespace
 * (`ip netns exec` remounts /sys, which hides the cgroup2 mount).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PodNode, type Pod } from '../support/cni-pod.js';
import { privateBpffs } from '../support/bpffs.js';
import { Netns, vethBetween } from '../support/netns.js';
import { installRedirectPeer, type RedirectPeer } from '../support/redirect-peer.js';
import type { NetprobeProcess } from '../support/netprobe-process.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';
import { BLIND_FLOOR_PACKETS } from '../../src/collector/blind-window.js';
import { removeCgroup, UdpPeer, cgroupDirOf } from '../support/cgroup-process.js';
import { addContainer, type Container } from '../support/pod-containers.js';
import { startPodNetprobe } from '../support/pod-socket-view.js';
import { heldBy, loadedPrograms, nothingThere, stillThere } from '../support/bpf-holdings.js';
import { attachedInterfaces } from '../support/tc-attachments.js';
import { waitFor } from '../support/wait-for.js';
import { findCgroup2Root } from '../../src/bpf/socket-meter/cgroup-root.js';

/** UDP/IPv4 headers: the socket meter counts L3 bytes. */
const L3 = 28;

/** netprobe with the pod-side view, `more` flags added. */
function startPodView(node: PodNode, ...more: string[]): Promise<NetprobeProcess> {
  return startPodNetprobe(node, { args: more });
}

function socketValue(s: Scrape, family: string, labels: Record<string, string>): number {
  return valueIn(s.lines, family, labels) ?? NaN;
}

test(
  'pod sockets: routed, bridged and hostNetwork pods counted exactly; the node lands in no pod; nobody flagged blind',
  { timeout: 240_000 },
  async (t) => {
    const node = await PodNode.create();
    const containers: Container[] = [];
    let nodePeer: UdpPeer | undefined;
    t.after(async () => {
      for (const c of containers) await c.peer.stop();
      await nodePeer?.stop();
      for (const c of containers) removeCgroup(c.dir);
      await node.cleanup();
    });
    const np = await startPodView(node, '--log.level=debug');
    t.after(() => np.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
    t.after(() => scraper.stop());
    assert.match(np.output(), /pods are also counted at their sockets/);

    const web = await node.addPod({ namespace: 'shop', name: 'web-5d8f', shape: 'bridge' });
    const db = await node.addPod({ namespace: 'data', name: 'db-0', shape: 'ptp' });
    const host = await node.addPod({ namespace: 'kube-system', name: 'agent-x7', hostNetwork: true });
    for (const pod of [web, db]) await node.quietNeighbours(pod);
    const webApp = await addContainer(node, web, 'app', 7000, containers);
    const dbApp = await addContainer(node, db, 'postgres', 7000, containers);
    const hostApp = await addContainer(node, host, 'agent', 7002, containers);
    // The node's own process: in the test's cgroup, outside kubepods.
    nodePeer = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });

    await nodePeer.send(web.ip, 7000, 300, 200);
    await nodePeer.send(db.ip, 7000, 300, 200);
    await hostApp.peer.send(web.ip, 7000, 150, 300);
    await webApp.peer.send(web.gateway, 7001, 200, 700);
    await dbApp.peer.send(db.gateway, 7001, 200, 700);
    await dbApp.peer.send(db.gateway, 7002, 120, 100);

    const got = {
      web: await webApp.peer.receivedAtLeast(450),
      db: await dbApp.peer.receivedAtLeast(300),
      host: await hostApp.peer.receivedAtLeast(120),
    };
    assert.deepEqual([got.web.packets, got.db.packets, got.host.packets], [450, 300, 120], 'every datagram reached its socket');
    const want = {
      [web.spec.name]: { ns: 'shop', ingress: [450, got.web.bytes + 450 * L3], egress: [200, 200 * (700 + L3)] },
      [db.spec.name]: { ns: 'data', ingress: [300, got.db.bytes + 300 * L3], egress: [320, 200 * (700 + L3) + 120 * (100 + L3)] },
      [host.spec.name]: { ns: 'kube-system', ingress: [120, got.host.bytes + 120 * L3], egress: [150, 150 * (300 + L3)] },
    };
    const read = (s: Scrape, pod: string, ns: string) =>
      (['ingress', 'egress'] as const).map((direction) => [
        socketValue(s, 'netprobe_pod_socket_packets_total', { namespace: ns, pod, direction }),
        socketValue(s, 'netprobe_pod_socket_bytes_total', { namespace: ns, pod, direction }),
      ]);
    await scraper
      .until(
        (s) =>
          Object.entries(want).every(([pod, w]) => JSON.stringify(read(s, pod, w.ns)) === JSON.stringify([w.ingress, w.egress]))
            ? true
            : undefined,
        30_000,
        'every pod socket counter equal to what its peer received and sent',
      )
      .catch(async (e: unknown) => {
        const s = await scraper.fresh();
        throw new Error(
          `${String(e)}\nwant ${JSON.stringify(want)}\nhave ${JSON.stringify(Object.entries(want).map(([pod, w]) => [pod, read(s, pod, w.ns)]))}\n${s.lines.filter((l) => l.includes('socket') || l.includes('blind')).join('\n')}`,
        );
      });

    const s = await scraper.fresh();
    for (const [pod, w] of Object.entries(want)) {
      // One pod per namespace: the namespace total is that pod's.
      assert.equal(socketValue(s, 'netprobe_namespace_socket_packets_total', { namespace: w.ns, direction: 'ingress' }), w.ingress[0], pod);
      assert.equal(socketValue(s, 'netprobe_namespace_socket_bytes_total', { namespace: w.ns, direction: 'egress' }), w.egress[1], pod);
    }
    // Only the pods made here are named (the node's peer is in none; other cgroups on this machine have no log dir here).
    const named = new Set(
      s.lines.filter((l) => l.startsWith('netprobe_pod_socket_packets_total{')).map((l) => /pod="([^"]*)"/.exec(l)![1]),
    );
    assert.deepEqual([...named].sort(), [web.spec.name, db.spec.name, host.spec.name].sort());
    assert.ok(
      socketValue(s, 'netprobe_unattributed_socket_packets_total', { reason: 'node', direction: 'ingress' }) >= 200 + 200 + 0,
      "the node peer received 400 datagrams, counted as the node's",
    );
    // Routed and bridged pods are never flagged; the hostNetwork pod has no veth view to be blind.
    // Read-timing noise only: under the floor, and never named on the page.
    for (const pod of [web, db]) {
      const blind = socketValue(s, 'netprobe_pod_blind_packets_total', { namespace: pod.spec.namespace, pod: pod.spec.name });
      assert.ok(blind >= 0 && blind < Number(BLIND_FLOOR_PACKETS), `${pod.spec.name}: ${blind} blind packets`);
    }
    const overview = JSON.parse(await node.ns.exec('curl', ['-s', `http://127.0.0.1:${np.port}/api/v1/overview`])) as {
      trust: { podSockets?: { open: boolean; blindPods: string[] } };
    };
    assert.deepEqual(overview.trust.podSockets, { open: true, blindPods: [] });
    // The page renders the same trust items (its script reads this document).
    const page = await node.ns.exec('curl', ['-s', `http://127.0.0.1:${np.port}/`]);
    assert.match(page, /podSockets/);
    assert.ok(!s.lines.some((l) => l.startsWith('netprobe_pod_blind_packets_total{') && l.includes(host.spec.name)));
    assert.ok(s.lines.includes('netprobe_pod_socket_view 1'));
    assert.equal(scraper.scrapes.filter((x) => x.status !== 200).length, 0, 'every scrape succeeded');
  },
);

test(
  'two containers of one pod with --collector.pods.containers: each its own series, none at pod level; their loopback adds nothing',
  { timeout: 180_000 },
  async (t) => {
    const node = await PodNode.create();
    const containers: Container[] = [];
    let nodePeer: UdpPeer | undefined;
    t.after(async () => {
      for (const c of containers) await c.peer.stop();
      await nodePeer?.stop();
      for (const c of containers) removeCgroup(c.dir);
      await node.cleanup();
    });
    const np = await startPodView(node, '--collector.pods.containers');
    t.after(() => np.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
    t.after(() => scraper.stop());

    const pod = await node.addPod({ namespace: 'shop', name: 'cart-1', shape: 'bridge' });
    await node.quietNeighbours(pod);
    const app = await addContainer(node, pod, 'app', 7000, containers);
    const sidecar = await addContainer(node, pod, 'envoy', 7003, containers);
    nodePeer = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });

    await nodePeer.send(pod.ip, 7000, 120, 100);
    await nodePeer.send(pod.ip, 7003, 80, 100);
    await app.peer.send(pod.gateway, 7001, 40, 500);
    // app <-> sidecar over the pod's loopback: not counted anywhere.
    await app.peer.send('127.0.0.1', 7003, 500, 100);
    await sidecar.peer.send('127.0.0.1', 7000, 300, 100);
    const appGot = await app.peer.receivedAtLeast(120 + 300);
    const sideGot = await sidecar.peer.receivedAtLeast(80 + 500);
    assert.deepEqual([appGot.packets, sideGot.packets], [420, 580]);

    const want = {
      app: [120, 120 * (100 + L3), 40, 40 * (500 + L3)],
      envoy: [80, 80 * (100 + L3), 0, 0],
    };
    const read = (s: Scrape, container: string) =>
      (['ingress', 'egress'] as const).flatMap((direction) => [
        socketValue(s, 'netprobe_pod_socket_packets_total', { container, namespace: 'shop', pod: 'cart-1', direction }),
        socketValue(s, 'netprobe_pod_socket_bytes_total', { container, namespace: 'shop', pod: 'cart-1', direction }),
      ]);
    const matches = (s: Scrape): boolean =>
      JSON.stringify(read(s, 'app')) === JSON.stringify(want.app) &&
      // The sidecar never sent off the pod: no egress series value other than 0 (or none yet).
      read(s, 'envoy')[0] === want.envoy[0] &&
      read(s, 'envoy')[1] === want.envoy[1] &&
      [0, NaN].some((v) => Object.is(read(s, 'envoy')[2], v));
    await scraper
      .until((s) => (matches(s) ? true : undefined), 30_000, 'each container equal to what it received and sent off the pod')
      .catch(async (e: unknown) => {
        const s = await scraper.fresh();
        throw new Error(
          `${String(e)}\nwant ${JSON.stringify(want)}\nhave app ${JSON.stringify(read(s, 'app'))} envoy ${JSON.stringify(read(s, 'envoy'))}`,
        );
      });
    const s = await scraper.fresh();
    const podLines = s.lines.filter((l) => l.startsWith('netprobe_pod_socket_packets_total{') && l.includes('pod="cart-1"'));
    assert.ok(
      podLines.length > 0 && podLines.every((l) => /container="(app|envoy)"/.test(l)),
      `no pod-level series beside the containers': ${podLines.join(' | ')}`,
    );
    assert.equal(socketValue(s, 'netprobe_namespace_socket_packets_total', { namespace: 'shop', direction: 'ingress' }), 200);
  },
);

test(
  'restart with pins: pod socket totals exact across SIGKILL and SIGTERM, a container gone while netprobe was down included',
  { timeout: 240_000 },
  async (t) => {
    const node = await PodNode.create();
    const bpffs = await privateBpffs();
    const containers: Container[] = [];
    let nodePeer: UdpPeer | undefined;
    let np: NetprobeProcess | undefined;
    let scraper: ScrapeLoop | undefined;
    t.after(async () => {
      await scraper?.stop();
      await np?.stop('SIGKILL');
      for (const c of containers) await c.peer.stop();
      await nodePeer?.stop();
      for (const c of containers) removeCgroup(c.dir);
      await bpffs.cleanup(); // the pinned links go with the bpffs: nothing stays attached
      await node.cleanup();
    });
    const start = async (): Promise<void> => {
      np = await startPodView(node, `--ebpf.pin-path=${join(bpffs.dir, 'np')}`);
      scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
    };
    const expect = async (ingress: number, egress: number, what: string): Promise<void> => {
      const read = (s: Scrape) =>
        [
          socketValue(s, 'netprobe_pod_socket_packets_total', { namespace: 'data', pod: 'kv-0', direction: 'ingress' }),
          socketValue(s, 'netprobe_pod_socket_packets_total', { namespace: 'data', pod: 'kv-0', direction: 'egress' }),
        ] as const;
      await scraper!
        .until((s) => (read(s)[0] === ingress && read(s)[1] === egress ? true : undefined), 30_000, what)
        .catch(async (e: unknown) => {
          throw new Error(`${String(e)}: want ${ingress}/${egress}, have ${JSON.stringify(read(await scraper!.fresh()))}`);
        });
    };
    await start();
    const pod = await node.addPod({ namespace: 'data', name: 'kv-0', shape: 'ptp' });
    await node.quietNeighbours(pod);
    const main = await addContainer(node, pod, 'kv', 7000, containers);
    const job = await addContainer(node, pod, 'backup', 7004, containers);
    nodePeer = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });

    await nodePeer.send(pod.ip, 7000, 100, 100);
    await main.peer.send(pod.gateway, 7001, 50, 100);
    await job.peer.send(pod.gateway, 7001, 20, 100);
    await main.peer.receivedAtLeast(100);
    await expect(100, 70, 'first run');

    await scraper!.stop();
    await np!.stop('SIGKILL');
    // While netprobe is down: more traffic, and the backup container sends, exits and its cgroup goes.
    await nodePeer.send(pod.ip, 7000, 70, 100);
    await main.peer.send(pod.gateway, 7001, 30, 100);
    await job.peer.send(pod.gateway, 7001, 25, 100);
    await job.peer.stop();
    removeCgroup(job.dir);
    await main.peer.receivedAtLeast(170);
    await start();
    await expect(170, 125, 'after a SIGKILL restart');

    await nodePeer.send(pod.ip, 7000, 10, 100);
    await main.peer.receivedAtLeast(180);
    await expect(180, 125, 'before a SIGTERM');
    await scraper!.stop();
    assert.equal(await np!.stop('SIGTERM'), 0);
    await nodePeer.send(pod.ip, 7000, 5, 100);
    await main.peer.receivedAtLeast(185);
    await start();
    await expect(185, 125, 'after a SIGTERM restart');
  },
);

test(
  'Cilium-style redirect past the host veth: the pod socket view counts it exactly, the veth none, and the blind-spot counter names that pod only',
  { timeout: 240_000 },
  async (t) => {
    const node = await PodNode.create();
    const outside = await Netns.create('npout');
    const containers: Container[] = [];
    const peers: UdpPeer[] = [];
    let redirect: RedirectPeer | undefined;
    t.after(async () => {
      await redirect?.stop();
      for (const c of containers) await c.peer.stop();
      for (const p of peers) await p.stop();
      for (const c of containers) removeCgroup(c.dir);
      await outside.delete();
      await node.cleanup();
    });
    const np = await startPodView(node);
    t.after(() => np.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
    t.after(() => scraper.stop());

    const redirected = await node.addPod({ namespace: 'edge', name: 'gw-1', shape: 'ptp' });
    const routed = await node.addPod({ namespace: 'edge', name: 'api-2', shape: 'ptp' });
    for (const pod of [redirected, routed]) await node.quietNeighbours(pod);
    const target = await addContainer(node, redirected, 'gw', 7000, containers);
    const other = await addContainer(node, routed, 'api', 7000, containers);
    const nodePeer = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });
    peers.push(nodePeer);

    // Both pods appear in both views first (through their veths), so the comparison has begun.
    for (const pod of [redirected, routed]) await nodePeer.send(pod.ip, 7000, 10, 100);
    const socketIn = (s: Scrape, pod: Pod) =>
      socketValue(s, 'netprobe_pod_socket_packets_total', { namespace: 'edge', pod: pod.spec.name, direction: 'ingress' });
    const vethOut = (s: Scrape, pod: Pod) =>
      socketValue(s, 'netprobe_tc_packets_total', { interface: pod.hostVeth, pod: pod.spec.name, direction: 'egress' });
    const blind = (s: Scrape, pod: Pod) => socketValue(s, 'netprobe_pod_blind_packets_total', { namespace: 'edge', pod: pod.spec.name });
    // Per pod: socket ingress, blind packets and the veth's egress ('absent': no such series).
    const state = (s: Scrape) =>
      Object.fromEntries(
        [redirected, routed].map((p) => [
          p.spec.name,
          Object.fromEntries(Object.entries({ socketIn, blind, vethOut }).map(([k, f]) => [k, Number.isNaN(f(s, p)) ? 'absent' : f(s, p)])),
        ]),
      );
    await scraper
      .until(
        (s) => ([redirected, routed].every((p) => socketIn(s, p) === 10 && blind(s, p) === 0) ? true : undefined),
        30_000,
        'both pods compared',
      )
      .catch(async (e: unknown) => {
        throw new Error(
          `${String(e).slice(0, 300)}\nwant socketIn 10 and blind 0 per pod, have ${JSON.stringify(state(await scraper.fresh()))}`,
        );
      });
    const before = await scraper.fresh();

    // The uplink to an "outside" namespace; packets for the redirected pod go straight into it.
    const uplink = await vethBetween(outside, node.ns);
    await outside.ip(['route', 'add', `${redirected.ip}/32`, 'via', uplink.addrB]);
    await outside.ip(['route', 'add', `${routed.ip}/32`, 'via', uplink.addrB]);
    await node.ns.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    redirect = await installRedirectPeer(node.ns, { uplink: uplink.b, podAddr: redirected.ip, hostVeth: redirected.hostVeth });
    const sender = await UdpPeer.start({ netns: outside.name, cgroupDir: cgroupDirOf(process.pid), port: 7009 });
    peers.push(sender);
    await sender.send(redirected.ip, 7000, 700, 200);
    await sender.send(routed.ip, 7000, 300, 200); // routed through the node and the veth
    const got = await target.peer.receivedAtLeast(710);
    const gotOther = await other.peer.receivedAtLeast(310);
    assert.deepEqual([got.packets, gotOther.packets], [710, 310]);

    await scraper
      .until(
        (s) => (socketIn(s, redirected) === 710 && socketIn(s, routed) === 310 && blind(s, redirected) === 700 ? true : undefined),
        30_000,
        'the redirected pod: 710 at its socket, 700 of them blind to its veth',
      )
      .catch(async (e: unknown) => {
        const s = await scraper.fresh();
        throw new Error(`${String(e).slice(0, 300)}\nwant socketIn 710/310 and blind 700/0, have ${JSON.stringify(state(s))}`);
      });
    const s = await scraper.fresh();
    assert.equal(vethOut(s, redirected), vethOut(before, redirected), "the redirected pod's host veth carried none of it");
    assert.equal(vethOut(s, routed) - vethOut(before, routed), 300, "the routed pod's host veth carried its 300");
    assert.ok(blind(s, routed) < Number(BLIND_FLOOR_PACKETS), `routed pod: ${blind(s, routed)} blind packets`);
    const overview = JSON.parse(await node.ns.exec('curl', ['-s', `http://127.0.0.1:${np.port}/api/v1/overview`])) as {
      trust: { podSockets?: { open: boolean; blindPods: string[] } };
    };
    assert.deepEqual(overview.trust.podSockets?.blindPods, ['edge/gw-1'], 'the trust panel names that pod and no other');
  },
);

test(
  "SIGKILL without a pin path: none of netprobe's cgroup_skb programs stays at the cgroup2 root, none of its programs stays loaded, the drop meter's link goes too",
  { timeout: 180_000 },
  async (t) => {
    const node = await PodNode.create();
    t.after(() => node.cleanup());
    const pod = await node.addPod({ namespace: 'shop', name: 'cart-2', shape: 'ptp' });
    const np = await startPodView(node);
    t.after(() => np.stop('SIGKILL'));
    assert.match(np.output(), /pods are also counted at their sockets/);
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
    t.after(() => scraper.stop());
    await scraper.until(
      (s) => valueIn(s.lines, 'netprobe_tc_packets_total', { interface: pod.hostVeth, pod: pod.spec.name }),
      60_000,
      `${pod.hostVeth} counted`,
    );
    await scraper.stop();

    // Everything the process holds, by id: the TC counters (tcx links), the socket meter (two cgroup links
    // at the root), the drop meter (a tracing link).
    const held = heldBy(np.pid);
    const names = await loadedPrograms();
    const progNames = held.progs.map((id) => names.get(id) ?? '?').sort();
    const linkTypes = [...held.linkTypes.values()];
    for (const name of ['netprobe_tc_in', 'netprobe_tc_eg', 'netprobe_sk_in', 'netprobe_sk_eg'])
      assert.ok(progNames.includes(name), `${name} among ${progNames.join(',')}`);
    assert.equal(progNames.filter((n) => n.startsWith('netprobe_drop')).length, 1, progNames.join(','));
    assert.equal(linkTypes.filter((x) => x === 'cgroup').length, 2, linkTypes.join(','));
    assert.equal(linkTypes.filter((x) => x === 'tracing' || x === 'raw_tracepoint').length, 1, linkTypes.join(','));
    // lo and the pod's host veth, both hooks.
    assert.ok(linkTypes.filter((x) => x === 'tcx').length >= 4, linkTypes.join(','));
    const root = findCgroup2Root();
    assert.deepEqual((await stillThere(held, root)).atCgroup.map((a) => a.split('#')[0]).sort(), ['netprobe_sk_eg', 'netprobe_sk_in']);

    assert.equal(await np.stop('SIGKILL'), 'SIGKILL');
    // The kernel lets go of the links and programs after the fds close, asynchronously.
    const left = await waitFor(() => stillThere(held, root), nothingThere, { timeoutMs: 120_000 });
    assert.deepEqual(left, { loaded: [], links: [], atCgroup: [] }, 'nothing of netprobe left in the kernel');
    assert.deepEqual(await attachedInterfaces(node.ns), [], 'no TC program on any interface of the node');
  },
);
