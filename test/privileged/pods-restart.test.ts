/**
 * Pods through a restart with `--ebpf.pin-path`: the namespace totals and the
 * pod labels continue where they were (Prometheus sees no reset), also when a
 * pod was deleted while netprobe was down — its final counts stay in its
 * namespace's total, as they do while netprobe runs — and the traffic of the
 * downtime is in them exactly (the pinned programs counted it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PodNode, type Pod } from '../support/cni-pod.js';
import { fetchIn } from '../support/netns-http.js';
import { cliCommand, startNetprobe } from '../support/netprobe-process.js';
import { privateBpffs } from '../support/bpffs.js';
import { fixturePath, REPO } from '../support/repo-paths.js';
import { ScrapeLoop, valueIn } from '../support/scrape-loop.js';
import { sendUdp } from '../support/traffic.js';

const run = promisify(execFile);

type Four = [number, number, number, number]; // ingress packets, ingress bytes, egress packets, egress bytes
const FAMILIES = [
  ['netprobe_tc_packets_total', 'ingress'],
  ['netprobe_tc_bytes_total', 'ingress'],
  ['netprobe_tc_packets_total', 'egress'],
  ['netprobe_tc_bytes_total', 'egress'],
] as const;

const veth = (lines: readonly string[], pod: Pod): Four =>
  FAMILIES.map(([name, direction]) => valueIn(lines, name, { interface: pod.hostVeth, direction }) ?? NaN) as Four;
const namespaceTotal = (lines: readonly string[], namespace: string): Four =>
  FAMILIES.map(([name, direction]) => valueIn(lines, name.replace('_tc_', '_namespace_'), { namespace, direction }) ?? NaN) as Four;
const minus = (a: Four, b: Four): Four => a.map((v, i) => v - b[i]!) as Four;
const plus = (a: Four, b: Four): Four => a.map((v, i) => v + b[i]!) as Four;

test(
  'with a pin path, a restart continues the namespace totals and pod labels; a pod deleted meanwhile keeps its finals',
  { timeout: 150_000 },
  async (t) => {
    const node = await PodNode.create();
    t.after(() => node.cleanup());
    const bpffs = await privateBpffs();
    t.after(() => bpffs.cleanup());
    const pinPath = join(bpffs.dir, 'netprobe');
    const work = mkdtempSync(join(tmpdir(), 'np-pods-restart-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const args = [
      '--collector.pods',
      `--kubernetes.pod-logs-dir=${node.logsDir}`,
      `--kubernetes.cgroup-root=${node.cgroupRoot}`,
      '--collector.interval=500ms',
      `--ebpf.pin-path=${pinPath}`,
    ];
    t.after(async () => {
      // What a SIGKILLed run may have left attached: the uninstall step removes it.
      const [cmd, cmdArgs] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup']);
      await node.ns.exec(cmd, cmdArgs).catch(() => undefined);
    });

    const first = await startNetprobe(node.ns, args);
    t.after(() => first.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${first.port}/metrics`, { intervalMs: 200 });
    t.after(() => scraper.stop());
    const web = await node.addPod({ namespace: 'team-a', name: 'web-1', shape: 'bridge' });
    const job = await node.addPod({ namespace: 'team-a', name: 'job-1', shape: 'ptp', driver: 'cgroupfs' });
    for (const pod of [web, job]) {
      await scraper.until(
        (s) => valueIn(s.lines, 'netprobe_pod_interface_info', { interface: pod.hostVeth, pod: pod.spec.name }),
        45_000,
        `${pod.spec.name} labelled`,
      );
      await node.quietNeighbours(pod);
    }
    const quiet = await settledReading(scraper, node, [web, job]);
    for (const pod of [web, job]) {
      await sendUdp(node.ns, pod.ip, 200); // host veth egress
      await sendUdp(pod, pod.gateway, 150, 600); // host veth ingress
    }
    const settled = await settledReading(scraper, node, [web, job]);
    // What crossed each host veth by the kernel's own count, then what netprobe counted of it: exactly that.
    for (const [i, pod] of [web, job].entries()) {
      const crossed = minus(settled.kernel[i]!, quiet.kernel[i]!);
      assert.ok(
        crossed[0] >= 150 && crossed[2] >= 200,
        `${pod.spec.name}'s datagrams crossed its host veth (kernel rx/tx deltas ${JSON.stringify(crossed)}); pod eth0: ${await pod.exec('ip', ['-s', 'link', 'show', 'eth0'])}`,
      );
      assert.deepEqual(
        minus(veth(settled.lines, pod), veth(quiet.lines, pod)),
        crossed,
        `${pod.spec.name}: netprobe counted what the kernel saw`,
      );
    }
    const before = namespaceTotal(settled.lines, 'team-a');
    const jobFinals = veth(settled.lines, job);
    const webKernelSettled = settled.kernel[0]!;
    assert.deepEqual(before, plus(veth(settled.lines, web), jobFinals), 'one namespace, two pods: the total is their sum');

    await scraper.stop();
    assert.equal(await first.stop('SIGTERM'), 0);
    // While netprobe is down: job-1 is deleted (its veth with it), web-1 keeps talking.
    await job.remove();
    await sendUdp(node.ns, web.ip, 120);
    await sendUdp(web, web.gateway, 80, 900);
    const webKernelNow = await kernel(node, web);

    const second = await startNetprobe(node.ns, args);
    t.after(() => second.stop('SIGKILL'));
    const { body } = await fetchIn(node.ns, second.port, '/metrics');
    const lines = body.split('\n');
    const after = namespaceTotal(lines, 'team-a');
    const downtime = minus(webKernelNow, webKernelSettled);
    assert.ok(downtime[0] >= 80 && downtime[2] >= 120, `web-1 traffic while down: ${JSON.stringify(downtime)}`);
    assert.deepEqual(minus(veth(lines, web), veth(settled.lines, web)), downtime, "web-1's veth counted the downtime exactly");
    assert.deepEqual(after, plus(before, downtime), "team-a's total continues: job-1's finals kept, web-1's downtime added");
    assert.equal(
      valueIn(lines, 'netprobe_tc_bytes_total', { interface: web.hostVeth, namespace: 'team-a', pod: 'web-1', direction: 'ingress' }),
      veth(lines, web)[1],
      'web-1 labelled in the first exposition',
    );
    assert.deepEqual(
      FAMILIES.map(([name, direction]) => valueIn(lines, name, { interface: job.hostVeth, pod: 'job-1', direction })),
      jobFinals,
      "job-1's final values are exported for the departed-retention",
    );
    assert.match(second.output(), /"interfaces":2,"namespaces":\d+[^\n]*continuing the pod labels and namespace totals/);
    t.diagnostic(
      `team-a before ${JSON.stringify(before)}, after ${JSON.stringify(after)}; job-1's finals ${JSON.stringify(jobFinals)} kept; downtime ${JSON.stringify(downtime)}`,
    );

    // An upgrade to a BPF object of another map layout: the record moves to the new pin directory with the counts.
    const variant = join(work, 'netprobe-abi-variant.bpf.o');
    await run(join(REPO, 'bpf/build.sh'), [variant, fixturePath('netprobe-abi-variant.bpf.c')]);
    assert.equal(await second.stop('SIGTERM'), 0);
    await sendUdp(node.ns, web.ip, 50);
    const upgraded = await startNetprobe(node.ns, [...args, `--ebpf.object=${variant}`]);
    t.after(() => upgraded.stop('SIGKILL'));
    assert.match(upgraded.output(), /taking over the attachments and counts of an older netprobe/);
    const third = (await fetchIn(node.ns, upgraded.port, '/metrics')).body.split('\n');
    const downtime2 = minus(await kernel(node, web), webKernelNow);
    assert.ok(downtime2[2] >= 50, `web-1 traffic during the upgrade: ${JSON.stringify(downtime2)}`);
    assert.deepEqual(namespaceTotal(third, 'team-a'), plus(after, downtime2), "team-a's total continues through the upgrade");
    assert.equal(await upgraded.stop('SIGTERM'), 0);
  },
);

async function kernel(node: PodNode, pod: Pod): Promise<Four> {
  const k = await node.ns.linkStats(pod.hostVeth);
  return [k.rx.packets, k.rx.bytes, k.tx.packets, k.tx.bytes];
}

/** The sample of `netprobe_collection_total` (a counter without labels) among scraped lines. */
function collections(lines: readonly string[]): number {
  const line = lines.find((l) => l.startsWith('netprobe_collection_total '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/**
 * The kernel's counters of the pods' host veths, and a scrape of a collection
 * that began after they were read, with the counters unchanged meanwhile: both
 * describe the same moment. (Two equal scrapes in a row do not: they may come
 * from one collection that predates the last packets.)
 */
async function settledReading(scraper: ScrapeLoop, node: PodNode, pods: Pod[]): Promise<{ lines: readonly string[]; kernel: Four[] }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const k1 = await Promise.all(pods.map((p) => kernel(node, p)));
    // The collection after the one in progress (if any) began after k1 was read.
    const seen = collections((await scraper.fresh()).lines);
    const s = await scraper.until((x) => (collections(x.lines) >= seen + 2 ? x : undefined), 45_000, `collection ${seen + 2}`);
    const k2 = await Promise.all(pods.map((p) => kernel(node, p)));
    if (JSON.stringify(k1) === JSON.stringify(k2)) return { lines: s.lines, kernel: k2 };
    assert.ok(Date.now() < deadline, `the host veths went quiet: ${JSON.stringify(k1)} then ${JSON.stringify(k2)}`);
  }
}
