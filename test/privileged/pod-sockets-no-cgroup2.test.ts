/**
 * The pod-side view without the cgroup2 mount: netprobe's CLI in a mount
 * namespace of the test's own where /sys/fs/cgroup/unified is unmounted (the
 * machine's mounts untouched). It names the missing mount, exports
 * `netprobe_pod_socket_view 0`, and the pod's host veth is still counted
 * and labelled (the TC view does not need cgroup2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodNode } from '../support/cni-pod.js';
import { startPodNetprobe } from '../support/pod-socket-view.js';
import { ScrapeLoop, valueIn } from '../support/scrape-loop.js';
import { sendUdp } from '../support/traffic.js';
import { CGROUP2 } from '../support/cgroup-process.js';
import { OWN_MOUNTS } from '../support/pod-containers.js';

/**
 * The test's own mounts again (`ip netns exec` remounts /sys), then a private mount namespace
 * without the cgroup2 mount, in the node's network namespace.
 */
const WITHOUT_CGROUP2 = [...OWN_MOUNTS, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', `umount -l ${CGROUP2} && exec "$@"`, 'sh'];

test('without the cgroup2 mount: a message naming it, the socket view off, the pod veth still counted', { timeout: 180_000 }, async (t) => {
  const node = await PodNode.create();
  t.after(() => node.cleanup());
  const pod = await node.addPod({ namespace: 'shop', name: 'web-1', shape: 'bridge' });
  await node.quietNeighbours(pod);
  const np = await startPodNetprobe(node, { wrap: WITHOUT_CGROUP2 });
  t.after(() => np.stop('SIGKILL'));
  const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
  t.after(() => scraper.stop());
  t.diagnostic(/"reason":"([^"]*)"/.exec(np.output())?.[1] ?? '');
  assert.match(np.output(), /pods are counted at their host-side veths only \([^)]*cgroup2/, np.output());
  const labels = { interface: pod.hostVeth, namespace: 'shop', pod: 'web-1', direction: 'egress' };
  const before = await scraper.until((s) => valueIn(s.lines, 'netprobe_tc_packets_total', labels), 30_000, 'the pod veth labelled');
  const kernelBefore = (await node.ns.linkStats(pod.hostVeth)).tx.packets;
  await sendUdp(node.ns, pod.ip, 150);
  const kernelAfter = (await node.ns.linkStats(pod.hostVeth)).tx.packets;
  assert.ok(kernelAfter - kernelBefore >= 150);
  await scraper.until(
    (s) => (valueIn(s.lines, 'netprobe_tc_packets_total', labels) === before + (kernelAfter - kernelBefore) ? true : undefined),
    30_000,
    'the host veth counted what the kernel saw',
  );
  const s = await scraper.fresh();
  assert.ok(s.lines.includes('netprobe_pod_socket_view 0'));
  assert.ok(!s.lines.some((l) => l.startsWith('netprobe_pod_socket_packets_total{')));
  assert.equal(scraper.scrapes.filter((x) => x.status !== 200).length, 0, 'every scrape succeeded');
});
