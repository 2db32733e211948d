/**
 * Drops by reason from real parts: a pod made by Debian's CNI bridge plugin
 * (test/support/cni-pod.ts), the real drop meter (tp_btf/kfree_skb) and
 * netprobe with --collector.pods. N UDP datagrams to a closed port in the pod
 * are N `no_socket` drops of that pod at its `eth0`, equal to the kernel's own
 * UdpNoPorts of the pod's namespace (nstat), in the pod's series and in its
 * namespace's total; a storm of them under continuous scraping fails no
 * scrape and is counted exactly. A hostNetwork pod's socket whose receive
 * buffer fills has its socket_rcvbuff drops at `lo`, equal to the socket's
 * own drop count (/proc/net/udp); a node process's socket beside it adds
 * nothing to the pod. Drops on a device of the node's namespace are no
 * pod's; when the device is deleted its series departs after the retention.
 *
 * netprobe keeps CAP_SYS_PTRACE here: without it the kernel refuses to show
 * it a pod process's ns/net link (the pod's processes hold capabilities
 * netprobe dropped), and pod-namespace drops keep empty pod labels.
 *
 * netprobe runs in the node namespace but in the test's own mount namespace
 * (`ip netns exec` remounts /sys, which hides the cgroup2 mount).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podSocketView } from '../support/pod-socket-view.js';
import { valueIn, type Scrape } from '../support/scrape-loop.js';
import { cgroupDirOf, UdpPeer } from '../support/cgroup-process.js';
import { addContainerCgroup } from '../support/pod-containers.js';
import { Netns, vethBetween } from '../support/netns.js';
import { udpNoPorts } from '../support/link-faults.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';

/** No socket listens there in the pod. */
const CLOSED_PORT = 7999;

/** The value of an unlabelled sample. */
const single = (s: Scrape, name: string): number | undefined => {
  const line = s.lines.find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};
const drops = (s: Scrape, labels: Record<string, string>): number => valueIn(s.lines, 'netprobe_drops_total', labels) ?? 0;

test(
  'drops by reason: datagrams to a closed port in a pod are its no_socket drops at eth0, equal to UdpNoPorts; a storm under scraping is exact',
  { timeout: 240_000 },
  async (t) => {
    const { node, np, scraper, stoppers } = await podSocketView(t, {
      interval: '500ms',
      // Reading a pod process's ns/net link needs CAP_SYS_PTRACE once the other capabilities are dropped (docs/metrics.md).
      args: ['--capabilities.keep=bpf,net_admin,sys_ptrace'],
      scrape: { intervalMs: 200, keep: /drop/ },
    });
    assert.match(np.output(), /drops are counted/);

    const pod = await node.addPod({ namespace: 'shop', name: 'web-drops', shape: 'bridge' });
    await node.quietNeighbours(pod);
    const sender = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });
    stoppers.push(sender);
    const labels = { namespace: 'shop', pod: pod.spec.name, interface: 'eth0', reason: 'no_socket' };

    const settle = async (want: number, what: string): Promise<Scrape> =>
      scraper
        .until(
          (s) =>
            drops(s, labels) === want &&
            valueIn(s.lines, 'netprobe_namespace_drops_total', { namespace: 'shop', reason: 'no_socket' }) === want
              ? s
              : undefined,
          60_000,
          what,
        )
        .catch(async (e: unknown) => {
          const s = await scraper.fresh();
          throw new Error(
            `${String(e)}\nwant ${want}\n${s.lines.filter((l) => l.includes('drop')).join('\n')}\n${np.output().slice(-3000)}`,
          );
        });

    const N = 300;
    await sender.send(pod.ip, CLOSED_PORT, N, 64);
    const kernel = await udpNoPorts(pod.netns);
    assert.equal(kernel, N, "the pod namespace's UdpNoPorts");
    const s = await settle(kernel, `${kernel} no_socket drops of the pod at eth0`);
    assert.equal(single(s, 'netprobe_drop_counting_active'), 1);
    assert.equal(single(s, 'netprobe_drop_recursion_misses_total'), 0);

    // A storm under continuous scraping: no failed scrape, exact at the end.
    const STORM = 20_000;
    await sender.send(pod.ip, CLOSED_PORT, STORM, 16);
    const after = await udpNoPorts(pod.netns);
    assert.equal(after, N + STORM);
    const end = await settle(after, `${after} no_socket drops after the storm`);
    assert.equal(single(end, 'netprobe_drop_recursion_misses_total'), 0);
    assert.equal(scraper.scrapes.filter((x) => x.status !== 200).length, 0, 'every scrape succeeded');
  },
);

/** Ends a process this test started, by its PID, and waits for it. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** A UDP socket on 127.0.0.1:`port` with a 1 KiB receive buffer that never reads, started in `cgroupDir` (before it opens the socket) inside `netns`. */
async function fullSocket(netns: string, cgroupDir: string, port: number): Promise<ChildProcess> {
  const py = `import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,1024)\ns.bind(("127.0.0.1",${port}))\nprint("ready",flush=True)\ntime.sleep(600)`;
  const child = spawn(
    'nsenter',
    [`--net=/run/netns/${netns}`, 'sh', '-c', `echo $$ > ${cgroupDir}/cgroup.procs && exec python3 -c "$0"`, py],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const [data] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit')])) as [unknown];
  if (!Buffer.isBuffer(data) || !data.toString().includes('ready')) throw new Error(`receiver on ${port} did not start: ${out}`);
  return child;
}

/** The drops column of the 127.0.0.1:`port` socket in /proc/net/udp of `netns` (read through the test's own /proc of a process there). */
function udpSocketDrops(pid: number, port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const line = readFileSync(`/proc/${pid}/net/udp`, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .find((l) => l.trim().split(/\s+/)[1] === local);
  if (!line) throw new Error(`no UDP socket on ${local} in /proc/${pid}/net/udp`);
  return Number(line.trim().split(/\s+/).at(-1));
}

test(
  "a hostNetwork pod's socket whose receive buffer fills: socket_rcvbuff at lo equal to /proc/net/udp; the node's own are no pod's",
  { timeout: 240_000 },
  async (t) => {
    // The default capability set: a hostNetwork pod's drops are found through its socket's cgroup, no ptrace needed.
    const { node, np, scraper, stoppers } = await podSocketView(t, { interval: '500ms', scrape: { intervalMs: 200, keep: /drop/ } });
    const pod = await node.addPod({ namespace: 'ops', name: 'host-agent', hostNetwork: true });
    const container = addContainerCgroup(node, pod, 'agent');
    const PORT_POD = 5000;
    const PORT_NODE = 5001;
    const inPod = await fullSocket(node.ns.name, container.dir, PORT_POD);
    stoppers.push({ stop: () => kill(inPod) });
    const ofNode = await fullSocket(node.ns.name, cgroupDirOf(process.pid), PORT_NODE);
    stoppers.push({ stop: () => kill(ofNode) });
    const sender = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7002 });
    stoppers.push(sender);
    await sender.send('127.0.0.1', PORT_POD, 200, 300);
    await sender.send('127.0.0.1', PORT_NODE, 150, 300);
    const podKernel = udpSocketDrops(inPod.pid!, PORT_POD);
    const nodeKernel = udpSocketDrops(ofNode.pid!, PORT_NODE);
    assert.ok(podKernel > 0 && nodeKernel > 0, `both buffers overflowed (pod ${podKernel}, node ${nodeKernel})`);

    const podLabels = { namespace: 'ops', pod: 'host-agent', interface: 'lo', reason: 'socket_rcvbuff' };
    const noPod = { namespace: '', pod: '', interface: 'lo', reason: 'socket_rcvbuff' };
    const s = await scraper
      .until(
        (x) =>
          drops(x, podLabels) === podKernel &&
          valueIn(x.lines, 'netprobe_namespace_drops_total', { namespace: 'ops', reason: 'socket_rcvbuff' }) === podKernel &&
          drops(x, noPod) >= nodeKernel
            ? x
            : undefined,
        60_000,
        `${podKernel} socket_rcvbuff drops of the hostNetwork pod at lo, ${nodeKernel} of the node's own socket in no pod`,
      )
      .catch(async (e: unknown) => {
        const last = await scraper.fresh();
        throw new Error(`${String(e)}\n${last.lines.filter((l) => l.includes('drop')).join('\n')}\n${np.output().slice(-3000)}`);
      });
    // Both sockets are on lo of one namespace: only the socket's cgroup tells them apart.
    const podSeries = s.lines.filter((l) => l.startsWith('netprobe_drops_total{') && l.includes('pod="host-agent"'));
    assert.equal(podSeries.length, 1, `the pod has exactly one drop series:\n${podSeries.join('\n')}`);
    assert.equal(udpSocketDrops(inPod.pid!, PORT_POD), podKernel, 'no drop after the reading');
  },
);

test(
  "drops on a node device are no pod's, equal to UdpNoPorts; once the device is deleted its series departs after the retention",
  { timeout: 240_000 },
  async (t) => {
    const { node, np, scraper, stoppers } = await podSocketView(t, {
      interval: '500ms',
      args: ['--collector.departed-retention=3s'],
      scrape: { intervalMs: 200, keep: /drop/ },
    });
    const outside = await Netns.create('npdo');
    stoppers.push({ stop: () => outside.delete() });
    const link = await vethBetween(node.ns, outside);
    const sender = await UdpPeer.start({ netns: outside.name, cgroupDir: cgroupDirOf(process.pid), port: 7003 });
    stoppers.push(sender);
    const before = await udpNoPorts(node.ns.name);
    const N = 250;
    await sender.send(link.addrA, CLOSED_PORT, N, 64);
    const kernel = (await udpNoPorts(node.ns.name)) - before;
    assert.equal(kernel, N, "the node namespace's UdpNoPorts");
    const labels = { namespace: '', pod: '', interface: link.a, reason: 'no_socket' };
    await scraper
      .until((x) => (drops(x, labels) === N ? x : undefined), 60_000, `${N} no_socket drops at ${link.a}, no pod's`)
      .catch(async (e: unknown) => {
        const last = await scraper.fresh();
        throw new Error(`${String(e)}\n${last.lines.filter((l) => l.includes('drop')).join('\n')}\n${np.output().slice(-3000)}`);
      });

    await node.ns.ip(['link', 'del', link.a]);
    const gone = await scraper.until(
      (x) => (x.lines.some((l) => l.startsWith('netprobe_drops_total{') && l.includes(`interface="${link.a}"`)) ? undefined : x),
      60_000,
      `the series of ${link.a} departed`,
    );
    assert.equal(single(gone, 'netprobe_drop_counting_active'), 1);
    // Until it departed it kept its final count: no scrape showed less.
    const seen = scraper.scrapes.filter((x) => x.status === 200).map((x) => drops(x, labels));
    const firstFull = seen.indexOf(N);
    assert.ok(
      seen.slice(firstFull).every((v) => v === N || v === 0),
      `the series only ever showed ${N} until it went: ${[...new Set(seen)].join(',')}`,
    );
  },
);
