/**
 * The upgrade from the release before the pod socket view: the real netprobe
 * 0.2.0 (its release commit from this checkout's history, its BPF object
 * built by its own bpf/build.sh, run with tsx on this checkout's
 * node_modules: the dependencies are the same versions) counts real CNI pods
 * (test/support/cni-pod.ts) with `--collector.pods` and a pin path on a
 * private bpffs, while the node sends paced UDP to the pods; it is stopped
 * and the current netprobe starts on the same pin path with the stream still
 * running. Then:
 * - every interface's TC counters continue exactly: from a quiet reading
 *   under 0.2.0 to a quiet reading under the current version, netprobe's
 *   deltas equal the kernel's (`ip -s link`), nothing lost or doubled;
 * - the pod socket view starts with the current version and counts from then
 *   on: the pods' sockets (UDP peers in their container cgroups) sent and
 *   received known datagrams under 0.2.0 and again after the upgrade, and
 *   `netprobe_pod_socket_*` equal the second batches exactly (the paced
 *   stream's sockets live outside kubepods);
 * - `--ebpf.cleanup` removes every pin and every program: TC, cgroup_skb at
 *   the cgroup2 root and the drop meter's tracing link.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PodNode, type Pod } from '../support/cni-pod.js';
import { privateBpffs } from '../support/bpffs.js';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { REPO } from '../support/repo-paths.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';
import { cgroupDirOf, removeCgroup, UdpPeer } from '../support/cgroup-process.js';
import { addContainer, OWN_MOUNTS, type Container } from '../support/pod-containers.js';
import { listTree, startUdpStream } from '../support/persistence-lab.js';
import { attachedInterfaces } from '../support/tc-attachments.js';
import { heldBy, loadedPrograms, nothingThere, pinnedUnder, stillThere, type BpfHoldings } from '../support/bpf-holdings.js';
import { waitFor } from '../support/wait-for.js';
import { findCgroup2Root } from '../../src/bpf/socket-meter/cgroup-root.js';

const run = promisify(execFile);
/** The 0.2.0 release commit ("0.2.0: README says what pods, persistence, ... give; image tag and package version follow"). */
const RELEASE = 'fb2c214';
/** UDP/IPv4 headers: the socket meter counts L3 bytes. */
const L3 = 28;

type Four = [number, number, number, number]; // ingress packets, ingress bytes, egress packets, egress bytes
type Reading = { kernel: Map<string, Four>; counted: Map<string, Four>; lines: readonly string[] };

/** netprobe 0.2.0 in `dir`: its source from the history, its object built by its build script, this checkout's node_modules. */
async function release020(dir: string): Promise<string> {
  await run('git', ['-C', REPO, 'cat-file', '-e', `${RELEASE}^{commit}`]).catch((e: unknown) => {
    throw new Error(`the 0.2.0 release commit ${RELEASE} is not in this checkout's history (a shallow clone?): ${String(e)}`);
  });
  const tar = join(dir, 'release.tar');
  await run('git', ['-C', REPO, 'archive', `--output=${tar}`, RELEASE, 'src', 'bpf', 'package.json', 'tsconfig.json']);
  await run('tar', ['-xf', tar, '-C', dir]);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; dependencies: unknown };
  const ours = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: unknown };
  assert.equal(pkg.version, '0.2.0');
  assert.deepEqual(pkg.dependencies, ours.dependencies, "0.2.0 runs on this checkout's node_modules: the same dependencies");
  rmSync(join(dir, 'bpf/netprobe.bpf.o'));
  await run('bash', [join(dir, 'bpf/build.sh')]);
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(dir, 'node_modules'));
  return join(dir, 'src/cli/main.ts');
}

/** The kernel's counters of every interface in the node namespace. */
async function kernelCounters(node: PodNode): Promise<Map<string, Four>> {
  const links = JSON.parse(await node.ns.ip(['-j', '-s', 'link', 'show'])) as Array<{
    ifname: string;
    stats64: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } };
  }>;
  return new Map(links.map((l) => [l.ifname, [l.stats64.rx.packets, l.stats64.rx.bytes, l.stats64.tx.packets, l.stats64.tx.bytes]]));
}

/** netprobe's TC counters of every interface it exports. */
function tcCounters(lines: readonly string[]): Map<string, Four> {
  const out = new Map<string, Four>();
  const slot = {
    'netprobe_tc_packets_total:ingress': 0,
    'netprobe_tc_bytes_total:ingress': 1,
    'netprobe_tc_packets_total:egress': 2,
    'netprobe_tc_bytes_total:egress': 3,
  };
  for (const line of lines) {
    const m = /^(netprobe_tc_(?:packets|bytes)_total)\{(.*)\} (\d+)$/.exec(line);
    if (!m) continue;
    const ifname = /interface="([^"]*)"/.exec(m[2]!)?.[1];
    const direction = /direction="([^"]*)"/.exec(m[2]!)?.[1];
    const i = slot[`${m[1]}:${direction}` as keyof typeof slot];
    if (ifname === undefined || i === undefined) continue;
    const four = out.get(ifname) ?? [NaN, NaN, NaN, NaN];
    four[i] = Number(m[3]);
    out.set(ifname, four);
  }
  return out;
}

function collections(lines: readonly string[]): number {
  const line = lines.find((l) => l.startsWith('netprobe_collection_total '));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/**
 * The kernel's counters and a scrape of a collection that began after they
 * were read, with the counters unchanged meanwhile: one moment, both views.
 * (Not `lo`'s: the scrapes themselves cross it, it is never quiet.)
 */
async function settledReading(scraper: ScrapeLoop, node: PodNode): Promise<Reading> {
  const deadline = Date.now() + 90_000;
  const quiet = (k: Map<string, Four>): string => JSON.stringify([...k].filter(([ifname]) => ifname !== 'lo'));
  for (;;) {
    const k1 = await kernelCounters(node);
    const seen = collections((await scraper.fresh()).lines);
    const s = await scraper.until((x) => (collections(x.lines) >= seen + 2 ? x : undefined), 60_000, `collection ${seen + 2}`);
    const k2 = await kernelCounters(node);
    if (quiet(k1) === quiet(k2)) return { kernel: k2, counted: tcCounters(s.lines), lines: s.lines };
    assert.ok(Date.now() < deadline, `the node went quiet: ${JSON.stringify([...k1])} then ${JSON.stringify([...k2])}`);
  }
}

const minus = (a: Four, b: Four): Four => a.map((v, i) => v - b[i]!) as Four;

/** Waits until the kernel saw at least `packets` more packets leave towards each pod (its host veth's tx). */
async function streamed(node: PodNode, pods: Pod[], packets: number): Promise<void> {
  const start = await kernelCounters(node);
  const moved = (k: Map<string, Four>): number[] => pods.map((p) => k.get(p.hostVeth)![2] - start.get(p.hostVeth)![2]);
  const last = await waitFor(
    () => kernelCounters(node),
    (k) => moved(k).every((n) => n >= packets),
    { timeoutMs: 120_000, intervalMs: 100 },
  );
  assert.ok(
    moved(last).every((n) => n >= packets),
    `the stream carried ${packets} packets to each pod: ${JSON.stringify(moved(last))}`,
  );
}

test(
  'upgrade from 0.2.0 on its pins: TC counters continue exactly, the pod socket view counts from then on, cleanup removes everything',
  { timeout: 420_000 },
  async (t) => {
    const node = await PodNode.create();
    const bpffs = await privateBpffs();
    const pinPath = join(bpffs.dir, 'netprobe');
    const work = mkdtempSync(join(tmpdir(), 'np-pods-upgrade-'));
    const containers: Container[] = [];
    const streams: Array<{ stop(): Promise<void> }> = [];
    const started: NetprobeProcess[] = [];
    const scrapers: ScrapeLoop[] = [];
    let nodePeer: UdpPeer | undefined;
    t.after(async () => {
      for (const s of scrapers) await s.stop();
      for (const s of streams) await s.stop();
      for (const p of started) await p.stop('SIGKILL');
      // What a failed run left pinned and attached: the uninstall step removes it, then the bpffs goes.
      const [cmd, args] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup']);
      await node.ns.exec(OWN_MOUNTS[0]!, [...OWN_MOUNTS.slice(1), cmd, ...args], 120_000).catch(() => undefined);
      for (const c of containers) await c.peer.stop();
      await nodePeer?.stop();
      for (const c of containers) removeCgroup(c.dir);
      await bpffs.cleanup();
      await node.cleanup();
      rmSync(work, { recursive: true, force: true });
    });
    const oldCli = await release020(work);

    const web = await node.addPod({ namespace: 'shop', name: 'web-6b7d', shape: 'bridge' });
    const db = await node.addPod({ namespace: 'data', name: 'db-0', shape: 'ptp' });
    const pods = [web, db];
    for (const pod of pods) await node.quietNeighbours(pod);
    const webApp = await addContainer(node, web, 'app', 7000, containers);
    const dbApp = await addContainer(node, db, 'postgres', 7000, containers);
    // The node's own peer: in the test's cgroup, outside kubepods.
    nodePeer = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });

    const common = [
      '--source=ebpf',
      '--collector.pods',
      `--kubernetes.pod-logs-dir=${node.logsDir}`,
      '--collector.interval=500ms',
      `--ebpf.pin-path=${pinPath}`,
    ];
    // 0.2.0 has no --kubernetes.cgroup-root (it finds pods by /proc/<pid>/cgroup alone).
    const old = await startNetprobe(node.ns, ['--web.listen-address=127.0.0.1:0', '--log.format=json', ...common], {
      wrap: OWN_MOUNTS,
      script: oldCli,
    });
    started.push(old);
    const oldScraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${old.port}/metrics`, { intervalMs: 200 });
    scrapers.push(oldScraper);
    for (const pod of pods)
      await oldScraper.until(
        (s) => valueIn(s.lines, 'netprobe_tc_packets_total', { interface: pod.hostVeth, pod: pod.spec.name }),
        60_000,
        `0.2.0 labels ${pod.spec.name}'s host veth`,
      );
    const oldLines = (await oldScraper.fresh()).lines;
    assert.ok(!oldLines.some((l) => /^netprobe_(pod_socket|drop)/.test(l)), '0.2.0 has neither the pod socket view nor the drop meter');

    // The pods' sockets talk under 0.2.0: nobody counts that at the sockets.
    await nodePeer.send(web.ip, 7000, 150, 200);
    await nodePeer.send(db.ip, 7000, 110, 300);
    await webApp.peer.send(web.gateway, 7001, 90, 400);
    await dbApp.peer.send(db.gateway, 7001, 70, 500);
    assert.deepEqual([(await webApp.peer.receivedAtLeast(150)).packets, (await dbApp.peer.receivedAtLeast(110)).packets], [150, 110]);
    assert.equal((await nodePeer.receivedAtLeast(160)).packets, 160);
    const before = await settledReading(oldScraper, node);

    // Paced UDP from the node to each pod (port 9: the pod's kernel answers with ICMP), from sockets outside kubepods.
    for (const pod of pods) streams.push(startUdpStream(node.ns, pod.ip));
    await streamed(node, pods, 1_000);
    await oldScraper.stop();
    assert.equal(await old.stop('SIGTERM'), 0, old.output());
    await streamed(node, pods, 1_000); // netprobe is down: only the pinned programs count this
    const oldPins = readdirSync(pinPath);
    assert.equal(oldPins.length, 1, `0.2.0 pinned one directory: ${oldPins.join(', ')}`);
    assert.match(oldPins[0]!, /^netprobe-bpf-[0-9a-f]{16}$/);

    const np = await startNetprobe(node.ns, [...common, `--kubernetes.cgroup-root=${node.cgroupRoot}`], { wrap: OWN_MOUNTS });
    started.push(np);
    assert.match(np.output(), /adopting the pinned eBPF state/, np.output());
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 200 });
    scrapers.push(scraper);
    await streamed(node, pods, 1_000);
    for (const s of streams.splice(0)) await s.stop();

    // The pod socket view is up; the pods' sockets send and receive known datagrams.
    await scraper.until((s) => (s.lines.includes('netprobe_pod_socket_view 1') ? true : undefined), 60_000, 'the pod socket view');
    await nodePeer.send(web.ip, 7000, 200, 250);
    await nodePeer.send(db.ip, 7000, 120, 400);
    await webApp.peer.send(web.gateway, 7001, 80, 500);
    await dbApp.peer.send(db.gateway, 7001, 60, 100);
    assert.deepEqual([(await webApp.peer.receivedAtLeast(350)).packets, (await dbApp.peer.receivedAtLeast(230)).packets], [350, 230]);
    assert.equal((await nodePeer.receivedAtLeast(300)).packets, 300);
    const want = new Map<Pod, Four>([
      [web, [200, 200 * (250 + L3), 80, 80 * (500 + L3)]],
      [db, [120, 120 * (400 + L3), 60, 60 * (100 + L3)]],
    ]);
    const sockets = (s: Scrape, pod: Pod): Four =>
      (['ingress', 'egress'] as const).flatMap((direction) =>
        ['netprobe_pod_socket_packets_total', 'netprobe_pod_socket_bytes_total'].map(
          (family) => valueIn(s.lines, family, { namespace: pod.spec.namespace, pod: pod.spec.name, direction }) ?? NaN,
        ),
      ) as Four;
    await scraper
      .until(
        (s) => (pods.every((p) => JSON.stringify(sockets(s, p)) === JSON.stringify(want.get(p))) ? true : undefined),
        60_000,
        'pod sockets',
      )
      .catch(async (e: unknown) => {
        const s = await scraper.fresh();
        throw new Error(
          `${String(e)}\nwant ${JSON.stringify(pods.map((p) => want.get(p)))}\nhave ${JSON.stringify(pods.map((p) => sockets(s, p)))}`,
        );
      });

    // Every interface: what the kernel saw from the quiet moment under 0.2.0 to now, netprobe counted exactly.
    const after = await settledReading(scraper, node);
    assert.deepEqual([...after.counted.keys()].sort(), [...before.counted.keys()].sort(), 'the same interfaces counted');
    assert.ok(after.counted.has(web.hostVeth) && after.counted.has(db.hostVeth), [...after.counted.keys()].join(','));
    const bridges = new Set(
      (JSON.parse(await node.ns.ip(['-j', 'link', 'show', 'type', 'bridge'])) as Array<{ ifname: string }>).map((l) => l.ifname),
    );
    assert.equal(bridges.size, 1, 'the bridge of the bridge network');
    for (const [ifname, counted] of after.counted) {
      if (ifname === 'lo') {
        // Never quiet (the scrapes cross it): it continued, not reset.
        counted.forEach((v, i) =>
          assert.ok(v >= before.counted.get(ifname)![i]!, `lo continued: ${JSON.stringify([before.counted.get(ifname), counted])}`),
        );
        continue;
      }
      const crossed = minus(after.kernel.get(ifname)!, before.kernel.get(ifname)!);
      // A bridge counts received frames without their Ethernet header, TC with it (docs/metrics.md).
      if (bridges.has(ifname)) crossed[1] += 14 * crossed[0];
      assert.deepEqual(minus(counted, before.counted.get(ifname)!), crossed, `${ifname}: netprobe's deltas equal the kernel's`);
    }
    for (const pod of pods) {
      const crossed = minus(after.kernel.get(pod.hostVeth)!, before.kernel.get(pod.hostVeth)!);
      assert.ok(
        crossed[2] >= 3_000 + want.get(pod)![0],
        `${pod.spec.name}: the stream and the batch crossed its veth: ${JSON.stringify(crossed)}`,
      );
      assert.ok(
        valueIn(after.lines, 'netprobe_tc_packets_total', { interface: pod.hostVeth, namespace: pod.spec.namespace, pod: pod.spec.name }),
        `${pod.spec.name}'s host veth still labelled`,
      );
    }
    t.diagnostic(
      `counted ${[...after.counted.keys()].join(', ')}; deltas ${JSON.stringify([...after.counted].map(([i, c]) => [i, minus(c, before.counted.get(i)!)]))}`,
    );

    // The uninstall step: every pin, every program (TC, cgroup_skb, drop meter) goes.
    const pinned = await pinnedUnder(pinPath);
    const fromProcess = heldBy(np.pid);
    const held: BpfHoldings = {
      progs: [...new Set([...pinned.progs, ...fromProcess.progs])],
      links: [...new Set([...pinned.links, ...fromProcess.links])],
    };
    const names = await loadedPrograms();
    const heldNames = new Set(held.progs.map((id) => names.get(id)));
    for (const name of ['netprobe_tc_in', 'netprobe_tc_eg', 'netprobe_sk_in', 'netprobe_sk_eg'])
      assert.ok(heldNames.has(name), `${name} among ${[...heldNames].join(',')}`);
    assert.ok(
      [...heldNames].some((n) => n?.startsWith('netprobe_drop')),
      `the drop meter among ${[...heldNames].join(',')}`,
    );
    await scraper.stop();
    assert.equal(await np.stop('SIGTERM'), 0, np.output());
    const root = findCgroup2Root();
    assert.equal((await stillThere(held, root)).atCgroup.length, 2, 'the socket meter stays attached at the cgroup2 root after a stop');
    const [cmd, args] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup']);
    await node.ns.exec(OWN_MOUNTS[0]!, [...OWN_MOUNTS.slice(1), cmd, ...args], 120_000); // rejects unless it exits 0
    assert.deepEqual(listTree(pinPath), [], 'no pin left');
    const left = await waitFor(() => stillThere(held, root), nothingThere, { timeoutMs: 120_000 });
    assert.deepEqual(left, { loaded: [], links: [], atCgroup: [] }, 'nothing of netprobe left in the kernel');
    assert.deepEqual(await attachedInterfaces(node.ns), [], 'no TC program on any interface of the node');
  },
);
