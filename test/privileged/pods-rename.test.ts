/**
 * A pod's host veth renamed while it carries traffic (`ip link set X name Y`,
 * live): the same interface, its counters continue. netprobe relabels it —
 * the series under the old name stop, the new name continues with the same
 * counts and the same pod — and the namespace total stays what the kernel
 * counted on that veth, exactly: not the old name's finals plus the new name's
 * counts. After the pod is deleted its finals stay in the total, once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodNode } from '../support/cni-pod.js';
import { uniqueTag } from '../support/netns.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';
import { sendUdp } from '../support/traffic.js';

type Four = [number, number, number, number]; // ingress packets, ingress bytes, egress packets, egress bytes
const FAMILIES = [
  ['packets', 'ingress'],
  ['bytes', 'ingress'],
  ['packets', 'egress'],
  ['bytes', 'egress'],
] as const;

const namespaceTotal = (s: Scrape, namespace: string): Four =>
  FAMILIES.map(([unit, direction]) => valueIn(s.lines, `netprobe_namespace_${unit}_total`, { namespace, direction }) ?? NaN) as Four;
const vethCounters = (s: Scrape, name: string, pod: string): Four =>
  FAMILIES.map(([unit, direction]) => valueIn(s.lines, `netprobe_tc_${unit}_total`, { interface: name, pod, direction }) ?? NaN) as Four;
const minus = (a: Four, b: Four): Four => a.map((v, i) => v - b[i]!) as Four;

/**
 * Whether a per-interface series still carries `name`. Drops by reason are left out: a drop keeps
 * the name its device had when the kernel dropped the packet (netprobe_drops_total is per drop, not
 * per interface), and the node's own not_specified frees can land on the host veth at any time.
 */
const underName = (lines: readonly string[], name: string): boolean =>
  lines.some((l) => !l.startsWith('netprobe_drops_total{') && l.includes(`interface="${name}"`));

test('a renamed pod veth is relabelled and its namespace total stays equal to the kernel counts', { timeout: 150_000 }, async (t) => {
  const node = await PodNode.create();
  t.after(() => node.cleanup());
  const np = await startNetprobe(node.ns, [
    '--collector.pods',
    `--kubernetes.pod-logs-dir=${node.logsDir}`,
    `--kubernetes.cgroup-root=${node.cgroupRoot}`,
    '--collector.interval=500ms',
    '--collector.departed-retention=0s',
  ]);
  t.after(() => np.stop('SIGKILL'));
  const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 200 });
  t.after(() => scraper.stop());
  const namespace = `team-rename-${uniqueTag()}`;
  const web = await node.addPod({ namespace, name: 'web-1', shape: 'ptp' });
  const oldName = web.hostVeth;
  const infoOf = (s: Scrape, name: string): string | undefined =>
    s.lines.find((l) => l.startsWith('netprobe_pod_interface_info{') && l.includes(`interface="${name}"`) && l.includes('pod="web-1"'));
  await scraper.until((s) => infoOf(s, oldName), 15_000, `${oldName} labelled`);
  await node.quietNeighbours(web);

  const kernel = async (name: string): Promise<Four> => {
    const k = await node.ns.linkStats(name);
    return [k.rx.packets, k.rx.bytes, k.tx.packets, k.tx.bytes];
  };
  const collections = (s: Scrape): number => {
    const line = s.lines.find((l) => l.startsWith('netprobe_collection_total '));
    return line === undefined ? NaN : Number(line.split(' ')[1]);
  };
  /**
   * Kernel counts and a scrape from a collection that began after they were read, while the kernel
   * counts stood still: that scrape holds everything the kernel had counted (two equal scrapes in a
   * row could both come from one collection that ran before the last packets).
   */
  const settled = async (name: string): Promise<{ kernel: Four; scrape: Scrape }> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const k1 = await kernel(name);
      const seen = collections(await scraper.fresh());
      const s = await scraper.until((x) => (collections(x) >= seen + 2 ? x : undefined), 45_000, `collection ${seen + 2}`);
      const k2 = await kernel(name);
      if (JSON.stringify(k1) === JSON.stringify(k2)) return { kernel: k2, scrape: s };
      if (Date.now() > deadline) assert.fail(`${name}: the kernel counters never stood still`);
    }
  };

  // What the CNI plugin sent before netprobe attached: kernel minus netprobe while quiet (a packet or two).
  const quiet = await settled(oldName);
  const offset = minus(quiet.kernel, namespaceTotal(quiet.scrape, namespace));
  assert.ok(offset[0] <= 3 && offset[2] <= 3 && offset.every((v) => v >= 0), `offset ${JSON.stringify(offset)}`);

  await sendUdp(node.ns, web.ip, 200); // host veth egress
  await sendUdp(web, web.gateway, 150, 600); // host veth ingress
  const before = await settled(oldName);
  assert.deepEqual(namespaceTotal(before.scrape, namespace), minus(before.kernel, offset), 'before the rename: the kernel counts');

  const newName = `npren${uniqueTag()}`.slice(0, 15);
  await node.ns.ip(['link', 'set', oldName, 'name', newName]);
  await scraper.until(
    (s) => infoOf(s, newName) && !underName(s.lines, oldName),
    15_000,
    `${newName} labelled with the pod and ${oldName} gone`,
  );
  await sendUdp(node.ns, web.ip, 120);
  await sendUdp(web, web.gateway, 80, 900);
  const after = await settled(newName);
  const want = minus(after.kernel, offset);
  assert.ok(want[0] >= before.kernel[0] - offset[0] + 80, `traffic after the rename counted by the kernel: ${JSON.stringify(want)}`);
  assert.deepEqual(namespaceTotal(after.scrape, namespace), want, 'after the rename: still the kernel counts, not twice');
  assert.deepEqual(vethCounters(after.scrape, newName, 'web-1'), want, 'the new name continues the same counters');
  assert.ok(!underName(after.scrape.lines, oldName), 'no series under the old name');

  // Deleted: its finals stay in the total, once.
  await web.remove();
  // Without a departed-retention its series go at the first collection that misses it.
  const gone = await scraper.until((s) => (underName(s.lines, newName) ? undefined : s), 15_000, `${newName}'s series gone`);
  assert.deepEqual(namespaceTotal(gone, namespace), want, 'after the deletion: the same total');
  t.diagnostic(
    `${oldName} → ${newName}; namespace total ${JSON.stringify(want)} equals the kernel's counts less ${JSON.stringify(offset)}`,
  );
});
