/// <reference lib="dom" />
/**
 * Drops on the overview page, from real parts: two pods made by Debian's CNI
 * bridge plugin (test/support/cni-pod.ts), a veth pair of the test's own
 * into another namespace, the real drop meter, netprobe with --collector.pods,
 * and a real headless Chromium in the node namespace opening `/`.
 *
 * Below the rule: 20 UDP datagrams to a closed port of one pod are 20
 * `no_socket` drops (the pod namespace's UdpNoPorts), under the 100-drop
 * floor: the trust panel's "Drop share" stays not amber. Above it: 500 to a
 * closed port of the other pod (UdpNoPorts 500; its host veth carried about
 * as many packets) and 300 raw frames of an ethertype nothing handles into
 * the node's end of the veth pair (its rx_dropped 300, from sysfs): the tile
 * turns amber and names that pod and that interface with exactly those
 * drops (a pod's: its `no_socket` drops, equal to its UdpNoPorts, plus any
 * stray drop of its namespace that /metrics shows, not_specified left out); the drops chart draws `no_socket`, and its rates summed over the
 * steps hold at least those 520 drops (the meter sees the whole machine,
 * where other tests drop too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { podSocketView } from '../support/pod-socket-view.js';
import { Netns, vethBetween } from '../support/netns.js';
import { cgroupDirOf, UdpPeer } from '../support/cgroup-process.js';
import { haveChromium, launchBrowserIn } from '../support/browser.js';
import { quietIpv6 } from '../support/traffic.js';
import { readSysfsFaults, sendRawFrames, udpNoPorts } from '../support/link-faults.js';
import { waitFor } from '../support/wait-for.js';
import type { OverviewDocument } from '../../src/exposition/overview-document.js';

/** No socket listens there in the pods. */
const CLOSED_PORT = 7999;

/** The overview document as the page fetches it. */
function fetchDocument(page: Page): Promise<OverviewDocument> {
  return page.evaluate(() => fetch('/api/v1/overview', { cache: 'no-store' }).then((r) => r.json() as Promise<OverviewDocument>));
}

/** One pod's drops by reason from `/metrics` (every interface summed), as the page fetches it. */
async function podDropReasons(page: Page, pod: string): Promise<Map<string, number>> {
  const text = await page.evaluate(() => fetch('/metrics', { cache: 'no-store' }).then((r) => r.text()));
  const byReason = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('netprobe_drops_total{') || !line.includes('namespace="shop"') || !line.includes(`pod="${pod}"`)) continue;
    const reason = /reason="([^"]*)"/.exec(line)?.[1] ?? '';
    byReason.set(reason, (byReason.get(reason) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return byReason;
}

/**
 * What the page's drop share counts for a pod: every reason but not_specified. Besides the test's
 * `no_socket` drops a pod's namespace may drop a stray packet of its own (e.g. a neighbour probe):
 * counted by the kernel and by netprobe, so the page must show it too.
 */
function shareDrops(byReason: ReadonlyMap<string, number>): number {
  return [...byReason].filter(([reason]) => reason !== 'not_specified').reduce((sum, [, n]) => sum + n, 0);
}

interface DropTile {
  generatedAt: number;
  className: string;
  text: string;
}

/** The trust panel's "Drop share" tile once the panel shows a document at least as new as `since`. */
async function dropTile(page: Page, since: number): Promise<DropTile> {
  await page.waitForFunction((at) => Number(document.getElementById('trust')?.dataset.generatedAt ?? 0) >= at, since, {
    timeout: 60_000,
    polling: 250,
  });
  return page.evaluate(() => {
    const tile = [...document.querySelectorAll<HTMLElement>('#trust .tile')].find((t) => t.dataset.name === 'Drop share');
    return {
      generatedAt: Number(document.getElementById('trust')!.dataset.generatedAt),
      className: tile?.className ?? '(no tile)',
      text: tile?.querySelector('dd')?.textContent ?? '',
    };
  });
}

/** The page's percentage: whole above 10 %, one decimal below. */
function percent(share: number): string {
  const v = share * 100;
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} %`;
}

/** What the tile says of one pod or interface: its share, drops and packets as printed. */
function tileEntry(text: string, what: string): { share: string; drops: number; packets: number } | undefined {
  const escaped = what.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`${escaped}: ([0-9.]+ %) \\(([0-9,]+) drops, ([0-9,]+) packets\\)`).exec(text);
  return m ? { share: m[1]!, drops: Number(m[2]!.replaceAll(',', '')), packets: Number(m[3]!.replaceAll(',', '')) } : undefined;
}

test(
  "drops on the page: below the rule the trust panel stays calm; above it, amber naming the pod and the interface with the kernel's counts; the drops chart draws them",
  { timeout: 420_000 },
  async (t) => {
    assert.ok(haveChromium(), 'chromium is installed (scripts/install.sh test)');
    const { node, np, stoppers } = await podSocketView(t, {
      interval: '1s',
      // Reading a pod process's ns/net link needs CAP_SYS_PTRACE once the other capabilities are dropped (docs/metrics.md).
      args: ['--capabilities.keep=bpf,net_admin,sys_ptrace'],
      scrape: { intervalMs: 1000, keep: /^netprobe_collection/ },
    });
    assert.match(np.output(), /drops are counted/);

    const calm = await node.addPod({ namespace: 'shop', name: 'web-calm', shape: 'bridge' });
    const loud = await node.addPod({ namespace: 'shop', name: 'web-drops', shape: 'bridge' });
    for (const pod of [calm, loud]) {
      await node.quietNeighbours(pod);
      // The bridge knows each pod's MAC from the start: a datagram to one pod is never flooded to the other (an `otherhost` drop there).
      const mac = (JSON.parse(await pod.exec('ip', ['-j', 'link', 'show', 'eth0'])) as Array<{ address: string }>)[0]!.address;
      await node.ns.exec('bridge', ['fdb', 'replace', mac, 'dev', pod.hostVeth, 'master', 'static']);
    }
    const far = await Netns.create('npdf');
    stoppers.push({ stop: () => far.delete() });
    await quietIpv6(far);
    const pair = await vethBetween(node.ns, far);
    const sender = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });
    stoppers.push(sender);

    const browser = await launchBrowserIn(node.ns);
    t.after(() => browser.close());
    const page = await (await browser.newContext('light')).newPage();
    const failed: string[] = [];
    page.on('pageerror', (e) => failed.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
    await page.goto(`http://127.0.0.1:${np.port}/`, { waitUntil: 'load', timeout: 60_000 });

    // netprobe sees both pods' veths and the node's end of the pair before anything is dropped: the window starts there.
    const named = (d: OverviewDocument): boolean =>
      d.interfaces.some((i) => i.pod === calm.spec.name) &&
      d.interfaces.some((i) => i.pod === loud.spec.name) &&
      d.interfaces.some((i) => i.name === pair.a && i.drops !== undefined);
    const seen = await waitFor(() => fetchDocument(page), named, { timeoutMs: 120_000, intervalMs: 500 });
    assert.ok(named(seen), `both pods and ${pair.a} in the document: ${JSON.stringify(seen.interfaces.map((i) => [i.name, i.pod]))}`);
    assert.deepEqual(await readSysfsFaults(node.ns, pair.a).then((f) => [f.rx_dropped, f.tx_dropped]), [0, 0], 'nothing dropped yet');

    // Below the rule: 20 drops of one pod (the floor is 100).
    await sender.send(calm.ip, CLOSED_PORT, 20, 64);
    assert.equal(await udpNoPorts(calm.netns), 20, "the calm pod's UdpNoPorts");
    const podDrops = (d: OverviewDocument, pod: string): number | undefined =>
      d.drops?.pods.find((p) => p.namespace === 'shop' && p.pod === pod)?.packets;
    const calmSeen = await waitFor(
      async () => ({ doc: await fetchDocument(page), reasons: await podDropReasons(page, calm.spec.name) }),
      ({ doc, reasons }) => reasons.get('no_socket') === 20 && podDrops(doc, calm.spec.name) === shareDrops(reasons),
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const quiet = calmSeen.doc;
    const calmReasons = JSON.stringify([...calmSeen.reasons]);
    assert.equal(calmSeen.reasons.get('no_socket'), 20, `the calm pod's no_socket drops, its UdpNoPorts (${calmReasons})`);
    assert.equal(podDrops(quiet, calm.spec.name), shareDrops(calmSeen.reasons), `the calm pod's drops in the document (${calmReasons})`);
    const calmDrops = shareDrops(calmSeen.reasons);
    assert.deepEqual(quiet.trust.dropShare?.over, [], 'nothing above the rule');
    assert.deepEqual(
      [quiet.trust.dropShare?.limit, quiet.trust.dropShare?.minDrops, quiet.trust.dropShare?.windowMs],
      [0.01, 100, 300_000],
      'the documented rule',
    );
    const calmTile = await dropTile(page, quiet.generatedAt);
    assert.equal(calmTile.className, 'tile ok', `not amber below the rule: ${JSON.stringify(calmTile)}`);
    assert.equal(calmTile.text, 'none above 1 %');

    // Above it: 500 drops of the other pod, 300 of the node's end of the pair.
    await sender.send(loud.ip, CLOSED_PORT, 500, 64);
    await sendRawFrames(far, pair.b, 300);
    assert.equal(await udpNoPorts(loud.netns), 500, "the loud pod's UdpNoPorts");
    const kernel = await readSysfsFaults(node.ns, pair.a);
    assert.equal(kernel.rx_dropped + kernel.tx_dropped, 300, `${pair.a}: rx_dropped + tx_dropped (sysfs)`);
    const overOf = (d: OverviewDocument, kind: string, name: string) =>
      d.trust.dropShare?.over.find((o) => o.kind === kind && o.name === name);
    const loudName = `shop/${loud.spec.name}`;
    const loudSeen = await waitFor(
      async () => ({ doc: await fetchDocument(page), reasons: await podDropReasons(page, loud.spec.name) }),
      ({ doc, reasons }) =>
        reasons.get('no_socket') === 500 &&
        overOf(doc, 'pod', loudName)?.drops === shareDrops(reasons) &&
        overOf(doc, 'interface', pair.a)?.drops === 300,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const flagged = loudSeen.doc;
    const loudReasons = JSON.stringify([...loudSeen.reasons]);
    const loudDrops = shareDrops(loudSeen.reasons);
    const pod = overOf(flagged, 'pod', loudName);
    const itf = overOf(flagged, 'interface', pair.a);
    assert.ok(pod && itf, `the pod and the interface above the rule: ${JSON.stringify(flagged.trust.dropShare)} (${loudReasons})`);
    assert.equal(loudSeen.reasons.get('no_socket'), 500, `the loud pod's no_socket drops, its UdpNoPorts (${loudReasons})`);
    assert.equal(pod.drops, loudDrops, `the pod with its drops as /metrics counts them (${loudReasons})`);
    assert.equal(itf.drops, 300, 'the interface with its rx_dropped');
    assert.equal(podDrops(flagged, loud.spec.name), loudDrops, "the loud pod's drops in the document");
    assert.equal(podDrops(flagged, calm.spec.name), calmDrops, "the calm pod's drops unchanged");
    assert.equal(overOf(flagged, 'pod', `shop/${calm.spec.name}`), undefined, 'the calm pod stays below the rule');
    // Its host veth carried the 500 datagrams (and a few replies): about half of drops + packets.
    assert.ok(pod.packets >= 500, `the pod's packets in the window (${pod.packets}) include the 500 datagrams`);
    assert.equal(pod.share, pod.drops / (pod.drops + pod.packets));
    assert.equal(itf.share, itf.drops / (itf.drops + itf.packets));

    const tile = await dropTile(page, flagged.generatedAt);
    assert.equal(tile.className, 'tile warn long', `amber above the rule: ${JSON.stringify(tile)}`);
    assert.match(tile.text, /^▲ /, 'a sign besides the colour');
    // The drops stay while nothing more is dropped; the share is drops / (drops + packets) as printed.
    for (const [what, drops] of [
      [`pod ${loudName}`, loudDrops],
      [`interface ${pair.a}`, 300],
    ] as const) {
      const entry = tileEntry(tile.text, what);
      assert.ok(entry, `the tile names ${what}: ${tile.text}`);
      assert.equal(entry.drops, drops, `${what}: its drops as the kernel counted them`);
      assert.equal(entry.share, percent(entry.drops / (entry.drops + entry.packets)), `${what}: the share printed`);
    }
    assert.ok(!tile.text.includes(calm.spec.name), 'the calm pod is not named');

    // The drops chart: shown, no_socket among its reasons (not_specified left out), its rates holding the 520 drops.
    await page.waitForFunction(
      () => {
        const c = document.getElementById('chart-drops');
        return c !== null && (c.dataset.reasons ?? '').split(',').includes('no_socket') && !document.getElementById('drops-figure')!.hidden;
      },
      undefined,
      { timeout: 60_000, polling: 250 },
    );
    const chart = await page.evaluate(() => ({
      points: Number(document.getElementById('chart-drops')!.dataset.points),
      reasons: document.getElementById('chart-drops')!.dataset.reasons!.split(','),
      legend: [...document.querySelectorAll('#chart-drops .u-legend .u-label')].map((e) => e.textContent ?? ''),
    }));
    assert.ok(chart.points >= 2, `the drops chart has points (${chart.points})`);
    assert.ok(!chart.reasons.includes('not_specified'), `not_specified is left out: ${chart.reasons.join(',')}`);
    assert.ok(chart.legend.includes('no_socket'), `the legend names no_socket: ${JSON.stringify(chart.legend)}`);
    const doc = await fetchDocument(page);
    const series = doc.history.drops?.find((s) => s.reason === 'no_socket');
    assert.ok(series, 'no_socket in history.drops');
    assert.equal(series.perSecond.length, doc.history.times.length, 'aligned with history.times');
    let summed = 0;
    for (let i = 1; i < series.perSecond.length; i++)
      summed += (series.perSecond[i] ?? 0) * ((doc.history.times[i]! - doc.history.times[i - 1]!) / 1000);
    assert.ok(Math.round(summed) >= 520, `no_socket drops/s summed over the steps (${summed}) hold the pods' 520 drops`);
    assert.deepEqual(failed, [], 'no page error, no failed request');
  },
);
