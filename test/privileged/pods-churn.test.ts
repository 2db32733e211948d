/**
 * Churn: a few hundred pods (test/support/cni-pod.ts: real CNI plugins,
 * kubepods cgroups, pod log dirs) created and deleted in overlapping waves
 * while a client scrapes netprobe every 250 ms. Checked on every scrape:
 * no failed scrape, a label never names a pod other than the one that made
 * that veth (namespace ids are reused by the kernel as pods go: that is
 * asserted to happen), and namespace totals never decrease. At the end:
 * no series of a deleted pod is left after the retention, and each
 * namespace's totals equal the kernel's final counts of its pods' veths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodNode, type Pod } from '../support/cni-pod.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { cleanupOnSignals } from '../support/cleanup-registry.js';
import { ScrapeLoop, valueIn } from '../support/scrape-loop.js';
import { waitFor } from '../support/wait-for.js';

const WAVES = Number(process.env.NP_CHURN_WAVES ?? 4);
const PODS_PER_WAVE = Number(process.env.NP_CHURN_PODS ?? 50);
const NAMESPACES = ['alpha', 'beta', 'gamma'];
const RETENTION_MS = 3_000;
const DATAGRAMS_PER_POD = 10;

interface Made {
  pod: Pod;
  netnsid: number;
  /** Kernel minus netprobe per counter, from before netprobe attached (fixed once it has). */
  offset?: number[];
  lastSeen?: string;
}

async function inBatches<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

interface KernelLink {
  ifname: string;
  ifindex: number;
  link_netnsid?: number;
  stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } };
}

async function kernelLinks(node: PodNode): Promise<Map<string, KernelLink>> {
  const links = JSON.parse(await node.ns.ip(['-j', '-s', 'link', 'show'])) as KernelLink[];
  return new Map(links.map((l) => [l.ifname, l]));
}

/** One sender in the node namespace: `count` datagrams to every address (the pods answer with ICMP). */
async function sendToAll(node: PodNode, addrs: string[], count: number): Promise<void> {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    s.on('error', () => {});
    const addrs = ${JSON.stringify(addrs)};
    const buf = Buffer.alloc(120, 121);
    let i = 0;
    const next = () => { if (i >= addrs.length * ${count}) return setTimeout(() => s.close(), 100); const a = addrs[i++ % addrs.length]; s.send(buf, 9, a, () => setImmediate(next)); };
    next();`;
  await node.ns.exec(process.execPath, ['-e', script], 60_000);
}

cleanupOnSignals();

test(`churn: ${WAVES * PODS_PER_WAVE} pods in ${WAVES} waves under continuous scraping`, { timeout: 1_200_000 }, async (t) => {
  const node = await PodNode.create();
  t.after(() => node.cleanup());
  const np = await startNetprobe(node.ns, [
    '--collector.pods',
    `--kubernetes.pod-logs-dir=${node.logsDir}`,
    `--kubernetes.cgroup-root=${node.cgroupRoot}`,
    '--collector.interval=500ms',
    `--collector.departed-retention=${RETENTION_MS}ms`,
  ]);
  t.after(() => np.stop('SIGKILL'));
  const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, {
    intervalMs: 250,
    keep: /^netprobe_(pod_interface_info|namespace_\w+|tc_packets_total|tc_bytes_total)\{/,
  });
  t.after(() => scraper.stop());

  const byVeth = new Map<string, Pod>(); // every veth ever made → its pod
  const deleted: Pod[] = [];
  const expected = new Map<string, { packets: number; bytes: number }>(); // `${namespace}/${direction}`
  const nsidsSeen = new Map<number, number>(); // nsid → times handed to a pod
  let previous: Made[] = [];
  let serial = 0;

  for (let wave = 0; wave < WAVES; wave++) {
    const specs = Array.from({ length: PODS_PER_WAVE }, () => {
      const n = serial++;
      return {
        namespace: NAMESPACES[n % NAMESPACES.length]!,
        name: `app-${n}-${n.toString(36)}`,
        shape: n % 2 === 0 ? ('bridge' as const) : ('ptp' as const),
        driver: n % 3 === 0 ? ('cgroupfs' as const) : ('systemd' as const),
      };
    });
    const t0 = Date.now();
    const pods = await inBatches(specs, 10, (spec) => node.addPod(spec));
    const t1 = Date.now();
    await inBatches(pods, 10, (pod) => node.quietNeighbours(pod));
    const links = await kernelLinks(node);
    const made: Made[] = pods.map((pod) => ({ pod, netnsid: links.get(pod.hostVeth)!.link_netnsid! }));
    // Packets before netprobe attached (the plugins' own) are in the kernel's counts only: measured while quiet.
    await settle(node, scraper, made);
    const t2 = Date.now();
    for (const m of made) {
      byVeth.set(m.pod.hostVeth, m.pod);
      nsidsSeen.set(m.netnsid, (nsidsSeen.get(m.netnsid) ?? 0) + 1);
    }
    await sendToAll(
      node,
      pods.map((p) => p.ip),
      DATAGRAMS_PER_POD,
    );

    // Before a pod goes, netprobe has shown its final counts (the kernel's, exactly) with its labels.
    await settle(node, scraper, made);
    t.diagnostic(`wave ${wave}: ${t1 - t0} ms to make ${PODS_PER_WAVE} pods, ${t2 - t1} ms until labelled, ${Date.now() - t2} ms traffic`);

    // The previous wave goes while this one lives.
    const leaving = previous;
    const finalLinks = await kernelLinks(node);
    for (const m of leaving) addExpected(expected, m, finalLinks.get(m.pod.hostVeth)!);
    await inBatches(leaving, 8, ({ pod }) => pod.remove());
    deleted.push(...leaving.map((m) => m.pod));
    previous = made;
  }
  // The last wave: count and remove it too.
  const finalLinks = await kernelLinks(node);
  for (const m of previous) addExpected(expected, m, finalLinks.get(m.pod.hostVeth)!);
  await inBatches(previous, 8, ({ pod }) => pod.remove());
  deleted.push(...previous.map((m) => m.pod));

  // After the retention, nothing of a deleted pod is left: the collection after it ends prunes
  // them, whenever that collection runs on a busy machine.
  const leftovers = (lines: readonly string[]): string[] =>
    lines.filter((l) => deleted.some((p) => l.includes(`"${p.hostVeth}"`) || l.includes(p.uid)));
  const last = await waitFor(
    () => scraper.fresh(),
    (s) => leftovers(s.lines).length === 0,
    { timeoutMs: RETENTION_MS + 60_000 },
  );
  assert.deepEqual(leftovers(last.lines).slice(0, 5), [], 'series of deleted pods after the retention');

  // Checked over every scrape taken during the churn.
  const failed = scraper.scrapes.filter((s) => s.status !== 200);
  assert.deepEqual(failed.slice(0, 3), [], 'failed scrapes');
  const highest = new Map<string, number>();
  let infoLines = 0;
  for (const s of scraper.scrapes) {
    for (const line of s.lines) {
      if (line.startsWith('netprobe_namespace_')) {
        const key = line.slice(0, line.lastIndexOf(' '));
        const v = Number(line.slice(line.lastIndexOf(' ') + 1));
        assert.ok(v >= (highest.get(key) ?? 0), `${key} went down from ${highest.get(key)} to ${v}`);
        highest.set(key, v);
      } else if (line.startsWith('netprobe_pod_interface_info{')) {
        infoLines++;
        const iface = /interface="([^"]+)"/.exec(line)![1]!;
        const pod = byVeth.get(iface);
        assert.ok(pod, `info for an interface no test pod made: ${line}`);
        assert.equal(
          line,
          `netprobe_pod_interface_info{ifindex="${pod.ifindex}",interface="${iface}",namespace="${pod.spec.namespace}",pod="${pod.spec.name}",pod_uid="${pod.uid}"} 1`,
        );
      } else if (line.includes('pod="app-')) {
        const iface = /interface="([^"]+)"/.exec(line)![1]!;
        const pod = byVeth.get(iface)!;
        assert.ok(line.includes(`namespace="${pod.spec.namespace}",pod="${pod.spec.name}"`), `wrong pod on ${iface}: ${line}`);
      }
    }
  }
  assert.ok(infoLines > 0);
  assert.equal(highest.size, NAMESPACES.length * 4, 'namespace totals seen for every namespace, family and direction');
  const reused = [...nsidsSeen.values()].filter((n) => n > 1).length;
  assert.ok(reused > 0, 'the kernel reused no namespace id: the reuse case was not exercised');
  t.diagnostic(`${scraper.scrapes.length} scrapes, ${byVeth.size} pods, ${reused} namespace ids reused`);

  for (const [key, want] of expected) {
    const [namespace, direction] = key.split('/') as [string, string];
    assert.equal(valueIn(last.lines, 'netprobe_namespace_packets_total', { direction, namespace }), want.packets, `${key} packets`);
    assert.equal(valueIn(last.lines, 'netprobe_namespace_bytes_total', { direction, namespace }), want.bytes, `${key} bytes`);
  }
});

/** A departing pod's final counts, as netprobe can see them (the kernel's minus what came before the attach). */
function addExpected(expected: Map<string, { packets: number; bytes: number }>, m: Made, k: KernelLink): void {
  const o = m.offset!;
  for (const [direction, packets, bytes] of [
    ['ingress', k.stats64.rx.packets - o[0]!, k.stats64.rx.bytes - o[1]!],
    ['egress', k.stats64.tx.packets - o[2]!, k.stats64.tx.bytes - o[3]!],
  ] as const) {
    const key = `${m.pod.spec.namespace}/${direction}`;
    const e = expected.get(key) ?? { packets: 0, bytes: 0 };
    expected.set(key, { packets: e.packets + packets, bytes: e.bytes + bytes });
  }
}

/**
 * Waits until every pod of the wave is labelled and its counters equal the
 * kernel's, less what the kernel counted before netprobe attached (taken
 * the first time the pod shows, before any test traffic).
 */
async function settle(node: PodNode, scraper: ScrapeLoop, made: Made[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const s = await scraper.fresh();
    const links = await kernelLinks(node);
    let missing = '';
    for (const m of made) {
      const { pod } = m;
      const k = links.get(pod.hostVeth)!;
      const labels = { interface: pod.hostVeth, namespace: pod.spec.namespace, pod: pod.spec.name };
      const got = [
        valueIn(s.lines, 'netprobe_tc_packets_total', { ...labels, direction: 'ingress' }),
        valueIn(s.lines, 'netprobe_tc_bytes_total', { ...labels, direction: 'ingress' }),
        valueIn(s.lines, 'netprobe_tc_packets_total', { ...labels, direction: 'egress' }),
        valueIn(s.lines, 'netprobe_tc_bytes_total', { ...labels, direction: 'egress' }),
      ];
      const kernel = [k.stats64.rx.packets, k.stats64.rx.bytes, k.stats64.tx.packets, k.stats64.tx.bytes];
      if (got.some((v) => v === undefined)) {
        missing = `${pod.hostVeth} (${pod.spec.name}) not labelled yet`;
        break;
      }
      if (!m.offset) {
        // Taken once netprobe's and the kernel's numbers both stood still for a scrape (no traffic yet).
        const seen = JSON.stringify([got, kernel]);
        if (m.lastSeen !== seen) {
          m.lastSeen = seen;
          missing = `${pod.hostVeth} (${pod.spec.name}) not settled yet`;
          continue; // every pod gets its look in this round
        }
        m.offset = kernel.map((v, i) => v - got[i]!);
      }
      const want = kernel.map((v, i) => v - m.offset![i]!);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        missing = `${pod.hostVeth} (${pod.spec.name}): netprobe ${JSON.stringify(got)} kernel ${JSON.stringify(want)}`;
        break;
      }
    }
    if (!missing) return;
    if (Date.now() > deadline) assert.fail(`a pod never showed labelled counters equal to the kernel's: ${missing}`);
  }
}
