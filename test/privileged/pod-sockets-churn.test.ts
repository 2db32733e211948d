/**
 * Churn of the pod socket view: pods (test/support/cni-pod.ts: real CNI
 * plugins, kubepods cgroups in the cgroup v2 tree, pod log dirs) of two
 * Kubernetes namespaces created in waves; in each pod a container process
 * (in its own cgroup below the pod's) receives and sends a known number of
 * UDP datagrams of known size from and to a peer in the node namespace;
 * then the wave before goes (peer killed, container cgroup removed, CNI
 * DEL, pod cgroups and log dir removed) while the next one lives. A client
 * scrapes netprobe every 250 ms throughout. Checked:
 * - every scrape is HTTP 200 and every line of it is exposition text;
 * - a pod's netprobe_pod_socket_* never decrease, never exceed its traffic,
 *   and, once they equal it (packets, and L3 bytes = payload + 28), stay
 *   equal in every later scrape that has them (the departed retention
 *   included);
 * - after each wave the namespace totals equal the traffic of every pod of
 *   that namespace so far, present, departed or dropped; they never
 *   decrease across scrapes;
 * - a deleted pod's series stay for the departed retention (still there in
 *   every scrape sent within 2 s of its removal) and then go: no series
 *   names a deleted pod, and the namespace totals still equal the traffic of
 *   all its pods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Pod } from '../support/cni-pod.js';
import { cgroupDirOf, removeWhenEmpty, UdpPeer } from '../support/cgroup-process.js';
import { addContainerCgroup } from '../support/pod-containers.js';
import { podSocketCounts, podSocketView, UDP4, type Four } from '../support/pod-socket-view.js';
import { valueIn, type Scrape } from '../support/scrape-loop.js';

const WAVES = Number(process.env.NP_SOCKET_CHURN_WAVES ?? 3);
const PODS_PER_WAVE = Number(process.env.NP_SOCKET_CHURN_PODS ?? 5);
const NAMESPACES = ['shop', 'data'];
const RETENTION_MS = 5_000;
/** Scrapes sent this soon after a pod's removal still show it (a collection that notices the removal may have begun up to its own duration before). */
const SURELY_RETAINED_MS = 2_000;
const POD_PORT = 7000;
const NODE_PORT = 7001;

interface Made {
  pod: Pod;
  peer: UdpPeer;
  /** The container's cgroup (the peer's), the pod's first process's, and the pod's own directory. */
  containerDir: string;
  sleeperDir: string;
  podDir: string;
  /** Datagrams [count, payload size] the pod receives and sends. */
  plan: { in: [number, number]; out: [number, number] };
  want: Four;
  /** Wall-clock ms its removal completed. */
  removedAt?: number;
}

/** One exposition line: a comment (HELP, TYPE) or a sample `name{label="value",...} number`. */
const EXPOSITION_LINE =
  /^(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)( -?[0-9]+)?)$/;

test(
  `pod socket view churn: ${WAVES} waves of ${PODS_PER_WAVE} pods under scraping, no failed scrape, exact totals, no stale series`,
  { timeout: 400_000 },
  async (t) => {
    const { node, scraper, stoppers, cgroups } = await podSocketView(t, {
      interval: '500ms',
      args: [`--collector.departed-retention=${RETENTION_MS}ms`],
      scrape: { intervalMs: 250, keep: /./ },
    });
    const sink = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: NODE_PORT });
    stoppers.push(sink);

    const all: Made[] = [];
    const deleted: Made[] = [];
    const namespaceWant = (upTo: readonly Made[]): Map<string, Four> => {
      const sums = new Map<string, Four>(NAMESPACES.map((ns) => [ns, [0, 0, 0, 0]]));
      for (const m of upTo) {
        const s = sums.get(m.pod.spec.namespace)!;
        for (let i = 0; i < 4; i++) s[i]! += m.want[i]!;
      }
      return sums;
    };
    let sentToNode = 0;
    let previous: Made[] = [];
    let serial = 0;

    for (let wave = 0; wave < WAVES; wave++) {
      const t0 = Date.now();
      const specs = Array.from({ length: PODS_PER_WAVE }, () => {
        const n = serial++;
        return { n, namespace: NAMESPACES[n % NAMESPACES.length]!, name: `app-${n}-${(n * 7919).toString(36)}` };
      });
      const made = await Promise.all(
        specs.map(async ({ n, namespace, name }): Promise<Made> => {
          const pod = await node.addPod({ namespace, name, shape: n % 2 === 0 ? 'bridge' : 'ptp' });
          await node.quietNeighbours(pod);
          const { dir } = addContainerCgroup(node, pod, 'app');
          cgroups.push(dir);
          const peer = await UdpPeer.start({ netns: pod.netns, cgroupDir: dir, port: POD_PORT });
          stoppers.push(peer);
          // Different counts and sizes for every pod and direction.
          const plan = { in: [40 + 7 * n, 100 + 13 * n] as [number, number], out: [30 + 5 * n, 200 + 11 * n] as [number, number] };
          const want: Four = [plan.in[0], plan.in[0] * (plan.in[1] + UDP4), plan.out[0], plan.out[0] * (plan.out[1] + UDP4)];
          return { pod, peer, containerDir: dir, sleeperDir: cgroupDirOf(pod.pid), podDir: dirname(dir), plan, want };
        }),
      );
      all.push(...made);
      const t1 = Date.now();

      // The node's peer sends to one pod at a time; the pods all send to it at once.
      for (const m of made) await sink.send(m.pod.ip, POD_PORT, ...m.plan.in);
      await Promise.all(made.map((m) => m.peer.send(m.pod.gateway, NODE_PORT, ...m.plan.out)));
      for (const m of made) {
        assert.deepEqual(
          await m.peer.receivedAtLeast(m.plan.in[0]),
          { packets: m.plan.in[0], bytes: m.plan.in[0] * m.plan.in[1] },
          `${m.pod.spec.name}: every datagram reached its socket`,
        );
      }
      sentToNode += made.reduce((n, m) => n + m.plan.out[0], 0);
      assert.equal((await sink.receivedAtLeast(sentToNode)).packets, sentToNode, 'the node received every datagram');

      // Each pod of the wave shows exactly its traffic, and each namespace the traffic of all its pods so far.
      const nsWant = namespaceWant(all);
      const exact = (s: Scrape): string | undefined => {
        for (const m of made) {
          const got = podSocketCounts(s, m.pod.spec.namespace, m.pod.spec.name);
          if (JSON.stringify(got) !== JSON.stringify(m.want))
            return `${m.pod.spec.name}: ${JSON.stringify(got)}, want ${JSON.stringify(m.want)}`;
        }
        for (const [namespace, want] of nsWant) {
          const got = namespaceCounts(s, namespace);
          if (JSON.stringify(got) !== JSON.stringify(want))
            return `namespace ${namespace}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
        }
        return undefined;
      };
      const deadline = Date.now() + 120_000;
      for (let s = await scraper.fresh(); ; s = await scraper.fresh()) {
        const wrong = exact(s);
        if (wrong === undefined) break;
        assert.ok(Date.now() < deadline, `wave ${wave}: ${wrong}`);
      }
      const t2 = Date.now();

      // The wave before goes while this one lives.
      await Promise.all(previous.map((m) => removePod(m, node.logsDir)));
      deleted.push(...previous);
      previous = made;
      t.diagnostic(
        `wave ${wave}: ${t1 - t0} ms to make ${PODS_PER_WAVE} pods, ${t2 - t1} ms traffic until exact, ${Date.now() - t2} ms to remove`,
      );
    }
    await Promise.all(previous.map((m) => removePod(m, node.logsDir)));
    deleted.push(...previous);

    // After the retention nothing names a deleted pod: the collection after it ends drops them,
    // whenever that collection runs on a busy machine.
    // Series that name a pod (its name or uid) or its host veth: the veth's traffic and the node's own
    // drops there (a bridge drops a few packets while the port learns), which carry no pod labels.
    const names = (m: Made): string[] => [
      `pod="${m.pod.spec.name}"`,
      m.pod.uid,
      ...(m.pod.hostVeth ? [`interface="${m.pod.hostVeth}"`] : []),
    ];
    const leftovers = (s: Scrape): string[] => s.lines.filter((l) => deleted.some((m) => names(m).some((n) => l.includes(n))));
    const deadline = Date.now() + RETENTION_MS + 60_000;
    let last = await scraper.fresh();
    while (leftovers(last).length > 0 && Date.now() < deadline) last = await scraper.fresh();
    assert.deepEqual(leftovers(last).slice(0, 5), [], 'series of deleted pods after the retention');
    assert.equal(deleted.length, WAVES * PODS_PER_WAVE);
    const final = namespaceWant(all);
    for (const [namespace, want] of final) assert.deepEqual(namespaceCounts(last, namespace), want, `namespace ${namespace} at the end`);

    // Over every scrape taken during the churn.
    assert.deepEqual(scraper.scrapes.filter((s) => s.status !== 200).slice(0, 3), [], 'failed scrapes');
    const unparsed = scraper.scrapes.flatMap((s) => s.lines.filter((l) => !EXPOSITION_LINE.test(l)));
    assert.deepEqual(unparsed.slice(0, 5), [], 'lines that are not exposition text');
    const highest = new Map<string, number>();
    const exactSince = new Set<Made>();
    const lastSeen = new Map<Made, Four>();
    for (const s of scraper.scrapes) {
      for (const line of s.lines) {
        if (!line.startsWith('netprobe_namespace_socket_')) continue;
        const key = line.slice(0, line.lastIndexOf(' '));
        const v = Number(line.slice(line.lastIndexOf(' ') + 1));
        assert.ok(v >= (highest.get(key) ?? 0), `${key} went down from ${highest.get(key)} to ${v}`);
        highest.set(key, v);
      }
      for (const m of all) {
        const got = podSocketCounts(s, m.pod.spec.namespace, m.pod.spec.name);
        const label = `${m.pod.spec.name} at ${s.at}: ${JSON.stringify(got)}, traffic ${JSON.stringify(m.want)}`;
        if (got.every(Number.isNaN)) {
          // Absent before its first packet and after its retention only: kept while it lives and just after.
          const since = s.at - m.removedAt!;
          assert.ok(!lastSeen.has(m) || since >= SURELY_RETAINED_MS, `${m.pod.spec.name}: gone at ${since} ms from its removal`);
          continue;
        }
        if (exactSince.has(m)) assert.deepEqual(got, m.want, `${label}: changed after it was exact`);
        assert.ok(
          got.every((v, i) => v <= m.want[i]! && v >= (lastSeen.get(m)?.[i] ?? 0)),
          `${label}: above the traffic, or below the scrape before (${JSON.stringify(lastSeen.get(m))})`,
        );
        lastSeen.set(m, got);
        if (JSON.stringify(got) === JSON.stringify(m.want)) exactSince.add(m);
      }
    }
    assert.equal(highest.size, NAMESPACES.length * 4, 'both socket families and directions seen for every namespace');
    assert.equal(exactSince.size, all.length, 'every pod was seen exact');
    t.diagnostic(`${scraper.scrapes.length} scrapes, ${all.length} pods`);
  },
);

/** A namespace's four socket totals in a scrape (NaN where absent). */
function namespaceCounts(s: Scrape, namespace: string): Four {
  const v = (family: string, direction: string): number => valueIn(s.lines, family, { direction, namespace }) ?? NaN;
  return [
    v('netprobe_namespace_socket_packets_total', 'ingress'),
    v('netprobe_namespace_socket_bytes_total', 'ingress'),
    v('netprobe_namespace_socket_packets_total', 'egress'),
    v('netprobe_namespace_socket_bytes_total', 'egress'),
  ];
}

/** The pod goes as a runtime removes it: its container's process and cgroup, then CNI DEL, its cgroups and its log dir. */
async function removePod(m: Made, logsDir: string): Promise<void> {
  await m.peer.stop();
  await removeWhenEmpty(m.containerDir);
  await m.pod.remove();
  m.removedAt = Date.now();
  // The pod's directories are gone for good (the node's rmdir is best effort: retried here).
  await removeWhenEmpty(m.sleeperDir);
  await removeWhenEmpty(m.podDir);
  assert.ok(!existsSync(m.podDir), `${m.pod.spec.name}: pod cgroup removed`);
  assert.ok(!existsSync(join(logsDir, `${m.pod.spec.namespace}_${m.pod.spec.name}_${m.pod.uid}`)), `${m.pod.spec.name}: log dir removed`);
}
