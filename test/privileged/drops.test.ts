/**
 * Drops by reason from real parts: a pod made by Debian's CNI bridge plugin
 * (test/support/cni-pod.ts), the real drop meter (tp_btf/kfree_skb) and
 * netprobe with --collector.pods. N UDP datagrams to a closed port in the pod
 * are N `no_socket` drops of that pod at its `eth0`, equal to the kernel's own
 * UdpNoPorts of the pod's namespace (nstat), in the pod's series and in its
 * namespace's total; a storm of them under continuous scraping fails no
 * scrape and is counted exactly.
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
import { PodNode } from '../support/cni-pod.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { ScrapeLoop, valueIn, type Scrape } from '../support/scrape-loop.js';
import { cgroupDirOf, UdpPeer } from '../support/cgroup-process.js';

const OWN_MOUNTS = ['nsenter', `--mount=/proc/${process.pid}/ns/mnt`, `--wd=${process.cwd()}`, '--'];
/** No socket listens there in the pod. */
const CLOSED_PORT = 7999;

/** The kernel's own count of UDP datagrams to no socket in the pod's namespace. */
async function udpNoPorts(netns: string): Promise<number> {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync('nsenter', [`--net=/run/netns/${netns}`, 'nstat', '-asz', 'UdpNoPorts'], { encoding: 'utf8' });
  const m = /^UdpNoPorts\s+(\d+)/m.exec(out);
  if (!m) throw new Error(`nstat printed no UdpNoPorts:\n${out}`);
  return Number(m[1]);
}

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
    const node = await PodNode.create();
    let sender: UdpPeer | undefined;
    t.after(async () => {
      await sender?.stop();
      await node.cleanup();
    });
    const np = await startNetprobe(
      node.ns,
      [
        '--source=ebpf',
        '--collector.pods',
        `--kubernetes.pod-logs-dir=${node.logsDir}`,
        `--kubernetes.cgroup-root=${node.cgroupRoot}`,
        '--collector.interval=500ms',
        // Reading a pod process's ns/net link needs CAP_SYS_PTRACE once the other capabilities are dropped (docs/metrics.md).
        '--capabilities.keep=bpf,net_admin,sys_ptrace',
      ],
      { wrap: OWN_MOUNTS },
    );
    t.after(() => np.stop('SIGKILL'));
    const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 200, keep: /drop/ });
    t.after(() => scraper.stop());
    assert.match(np.output(), /drops are counted/);

    const pod = await node.addPod({ namespace: 'shop', name: 'web-drops', shape: 'bridge' });
    await node.quietNeighbours(pod);
    sender = await UdpPeer.start({ netns: node.ns.name, cgroupDir: cgroupDirOf(process.pid), port: 7001 });
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
