/**
 * Pods from real parts (test/support/cni-pod.ts): named namespaces networked
 * by Debian's CNI plugins (bridge + host-local, ptp), a process in a kubepods
 * cgroup (systemd driver on cgroup v2, cgroupfs driver on v1 memory), and a
 * pod log directory. netprobe runs in the "node" namespace with
 * --collector.pods; every label is compared with the pod that was made and
 * every counter with the kernel's statistics of that veth (less the packet or
 * two the CNI plugin sent before netprobe attached, measured while quiet).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns } from '../support/netns.js';
import { PodNode, type Pod } from '../support/cni-pod.js';
import { sendUdp } from '../support/traffic.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';

function info(s: Scrape, pod: Pod): string | undefined {
  return s.lines.find((l) => l.startsWith('netprobe_pod_interface_info{') && l.includes(`interface="${pod.hostVeth}"`));
}

type Counters = [number, number, number, number]; // rx packets, rx bytes, tx packets, tx bytes

function collections(s: Scrape): number {
  const line = s.lines.find((l) => l.startsWith('netprobe_collection_total '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function readBoth(
  node: PodNode,
  scraper: ScrapeLoop,
  pod: Pod,
  settled = false,
): Promise<{ np: Counters; kernel: Counters; stable: boolean }> {
  let s = await scraper.fresh();
  let k = await node.ns.linkStats(pod.hostVeth);
  let stable = true;
  if (settled) {
    // A scrape from a collection that began after the kernel was read (two after one scraped since): it
    // holds all the kernel had counted then.
    const seen = collections(await scraper.fresh());
    s = await scraper.until((x) => (collections(x) >= seen + 2 ? x : undefined), 45_000, `collection ${seen + 2}`);
    const again = await node.ns.linkStats(pod.hostVeth);
    stable = JSON.stringify(again) === JSON.stringify(k);
    k = again;
  }
  const labels = { interface: pod.hostVeth, namespace: pod.spec.namespace, pod: pod.spec.name };
  const np = [
    valueIn(s.lines, 'netprobe_tc_packets_total', { ...labels, direction: 'ingress' }) ?? NaN,
    valueIn(s.lines, 'netprobe_tc_bytes_total', { ...labels, direction: 'ingress' }) ?? NaN,
    valueIn(s.lines, 'netprobe_tc_packets_total', { ...labels, direction: 'egress' }) ?? NaN,
    valueIn(s.lines, 'netprobe_tc_bytes_total', { ...labels, direction: 'egress' }) ?? NaN,
  ] as Counters;
  return { np, kernel: [k.rx.packets, k.rx.bytes, k.tx.packets, k.tx.bytes], stable };
}

/**
 * What the kernel counted on the veth before netprobe attached (the plugin's own first packets,
 * e.g. a gratuitous ARP): kernel minus netprobe, once both stood still for a scrape. It stays fixed
 * after that, and is a packet or two at most.
 */
async function preAttachOffset(node: PodNode, scraper: ScrapeLoop, pod: Pod): Promise<Counters> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const r = await readBoth(node, scraper, pod, true);
    if (r.stable && !r.np.some(Number.isNaN)) {
      const offset = r.kernel.map((v, i) => v - r.np[i]!) as Counters;
      assert.ok(offset[0] <= 3 && offset[2] <= 3 && offset.every((v) => v >= 0), `offset ${JSON.stringify(offset)} before any traffic`);
      return offset;
    }
  }
  assert.fail(`${pod.hostVeth}: the counters never stood still`);
}

/** Exact comparison (less the pre-attach offset), read again until it holds or a generous deadline passes: a scrape and the kernel read are not one instant. */
async function countersMatchKernel(node: PodNode, scraper: ScrapeLoop, pod: Pod, offset: Counters): Promise<void> {
  let last = '';
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { np, kernel } = await readBoth(node, scraper, pod);
    const want = kernel.map((v, i) => v - offset[i]!);
    if (JSON.stringify(np) === JSON.stringify(want)) return;
    last = `netprobe ${JSON.stringify(np)} kernel ${JSON.stringify(kernel)} less ${JSON.stringify(offset)}`;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.fail(`${pod.spec.shape} pod ${pod.spec.name}: counters never equalled the kernel's: ${last}`);
}

test(
  'pods on bridge and ptp networks get their namespace and pod; counters equal the kernel; a missing log dir and a hostNetwork pod',
  { timeout: 150_000 },
  async (t) => {
    const node = await PodNode.create();
    t.after(() => node.cleanup());
    const np = await startNetprobe(node.ns, [
      '--collector.pods',
      `--kubernetes.pod-logs-dir=${node.logsDir}`,
      `--kubernetes.cgroup-root=${node.cgroupRoot}`,
      '--collector.interval=500ms',
      '--log.level=debug',
    ]);
    t.after(() => np.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
    t.after(() => scraper.stop());

    const web = await node.addPod({ namespace: 'team-a', name: 'web-7f9c-x2x', shape: 'bridge', driver: 'systemd' });
    const db = await node.addPod({ namespace: 'team-b', name: 'db-0', shape: 'ptp', driver: 'cgroupfs' });
    const nameless = await node.addPod({ namespace: 'team-c', name: 'gone-logs', shape: 'ptp', logDir: false });
    const hostNet = await node.addPod({ namespace: 'kube-system', name: 'kube-proxy-abcde', hostNetwork: true });

    for (const pod of [web, db]) {
      const line = await scraper.until((s) => info(s, pod), 15_000, `${pod.hostVeth} labelled`);
      assert.equal(
        line,
        `netprobe_pod_interface_info{ifindex="${pod.ifindex}",interface="${pod.hostVeth}",namespace="${pod.spec.namespace}",pod="${pod.spec.name}",pod_uid="${pod.uid}"} 1`,
      );
    }

    await t.test('counters on each pod veth equal the kernel statistics, both directions', async () => {
      const offsets = new Map<Pod, Counters>();
      for (const pod of [web, db]) {
        await node.quietNeighbours(pod);
        offsets.set(pod, await preAttachOffset(node, scraper, pod));
      }
      for (const pod of [web, db]) {
        await sendUdp(node.ns, pod.ip, 300); // node -> pod: host veth egress
        await sendUdp(pod, pod.gateway, 200, 700); // pod -> node: host veth ingress
      }
      for (const pod of [web, db]) await countersMatchKernel(node, scraper, pod, offsets.get(pod)!);
      const s = await scraper.fresh();
      for (const pod of [web, db]) {
        const kernel = await node.ns.linkStats(pod.hostVeth);
        assert.ok(kernel.rx.packets >= 200 && kernel.tx.packets >= 300, JSON.stringify(kernel));
        // One pod per namespace here: the namespace total is that veth's count.
        const offset = offsets.get(pod)!;
        assert.equal(
          valueIn(s.lines, 'netprobe_namespace_bytes_total', { namespace: pod.spec.namespace, direction: 'ingress' }),
          kernel.rx.bytes - offset[1],
        );
        assert.equal(
          valueIn(s.lines, 'netprobe_namespace_packets_total', { namespace: pod.spec.namespace, direction: 'egress' }),
          kernel.tx.packets - offset[2],
        );
      }
    });

    await t.test('a pod without a log directory: pod_uid in the info metric, empty names, counted as unresolved', async () => {
      const line = await scraper.until((s) => info(s, nameless), 15_000, 'the nameless pod labelled by UID');
      assert.equal(
        line,
        `netprobe_pod_interface_info{ifindex="${nameless.ifindex}",interface="${nameless.hostVeth}",namespace="",pod="",pod_uid="${nameless.uid}"} 1`,
      );
      const s = await scraper.fresh();
      assert.equal(valueIn(s.lines, 'netprobe_pod_interfaces_unresolved', { reason: 'no_pod_log_dir' }), 1);
      assert.equal(valueIn(s.lines, 'netprobe_pod_interfaces_unresolved', { reason: 'no_pod_process' }), 0);
      assert.equal(
        valueIn(s.lines, 'netprobe_tc_packets_total', { interface: nameless.hostVeth, namespace: '', pod: '', direction: 'ingress' }) !==
          undefined,
        true,
      );
      assert.match(np.output(), new RegExp(`pod ${nameless.uid} has no log directory`));
    });

    await t.test('a hostNetwork pod claims no interface', async () => {
      const s = await scraper.fresh();
      assert.ok(!s.lines.some((l) => l.includes(hostNet.uid)), 'the hostNetwork pod UID appears in the output');
      assert.ok(!s.lines.some((l) => l.includes(`pod="${hostNet.spec.name}"`)), 'an interface is labelled with the hostNetwork pod');
      assert.ok(!s.lines.some((l) => l.includes('namespace="kube-system"')));
      // The node's own interfaces carry empty pod labels.
      assert.equal(
        valueIn(s.lines, 'netprobe_tc_packets_total', { interface: 'lo', namespace: '', pod: '', direction: 'ingress' }) !== undefined,
        true,
      );
    });

    await t.test('a veth whose peer namespace holds no pod process is exported unlabelled and counted as unresolved', async (t2) => {
      // What a non-Kubernetes container looks like: a namespace with a veth to the node and no kubepods process.
      const bare = await Netns.create('npbare');
      t2.after(() => bare.delete());
      const orphan = `orph${process.pid % 100000}`;
      await node.ns.ip(['link', 'add', orphan, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', bare.name]);
      await scraper.until(
        (x) => (valueIn(x.lines, 'netprobe_pod_interfaces_unresolved', { reason: 'no_pod_process' }) === 1 ? true : undefined),
        15_000,
        'the orphan veth counted as unresolved',
      );
      const s = await scraper.fresh();
      assert.notEqual(
        valueIn(s.lines, 'netprobe_tc_packets_total', { interface: orphan, namespace: '', pod: '', direction: 'ingress' }),
        undefined,
      );
      assert.ok(!s.lines.some((l) => l.startsWith('netprobe_pod_interface_info') && l.includes(`interface="${orphan}"`)));
      // A veth whose peer shares a pod's namespace belongs to that pod.
      await web.exec('ip', ['link', 'add', 'eth9', 'type', 'veth', 'peer', 'name', `side${process.pid % 100000}`, 'netns', node.ns.name]);
      await scraper.until(
        (x) =>
          x.lines.some(
            (l) =>
              l.startsWith('netprobe_pod_interface_info') &&
              l.includes(`interface="side${process.pid % 100000}"`) &&
              l.includes(`pod="${web.spec.name}"`),
          )
            ? true
            : undefined,
        15_000,
        "the second veth of the web pod's namespace labelled with the web pod",
      );
    });

    assert.equal(scraper.scrapes.filter((s) => s.status !== 200).length, 0, 'every scrape succeeded');
  },
);
