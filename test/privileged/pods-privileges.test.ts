/**
 * Pod attribution with exactly the documented privileges (docs/deployment.md):
 * a non-root user holding only CAP_BPF and CAP_NET_ADMIN, in the host's PID
 * namespace, with the pod log directory readable. Then with one missing at
 * a time: no host PID namespace (netprobe in a PID namespace of its own with
 * its own /proc, as a container without hostPID), and an unreadable pod log
 * directory. Each time: a message naming what is missing, and the pod's
 * veth still counted, without the labels that need it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import { PodNode, type Pod } from '../support/cni-pod.js';
import { LEAST_PRIVILEGE, NOBODY, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { ScrapeLoop, valueIn } from '../support/scrape-loop.js';
import { capabilityNames, parseProcStatusCapabilities } from '../../src/security/capabilities.js';

/** A PID namespace of its own with its own /proc: what a container without hostPID gets. */
const OWN_PID_NAMESPACE = ['unshare', '--pid', '--fork', '--kill-child=SIGKILL', '--mount-proc', '--'];

async function setUp(
  t: { after(fn: () => unknown): void },
  opts: { wrap: string[]; logsReadable: boolean },
): Promise<{ node: PodNode; pod: Pod; np: NetprobeProcess; scraper: ScrapeLoop }> {
  const node = await PodNode.create();
  t.after(() => node.cleanup());
  // Like the node's /var/log/pods (root, 0755), or unreadable for netprobe's user.
  chmodSync(node.dir, 0o755);
  chmodSync(node.logsDir, opts.logsReadable ? 0o755 : 0o700);
  const pod = await node.addPod({ namespace: 'shop', name: 'cart-5c6d7-abcde', shape: 'bridge' });
  const np = await startNetprobe(
    node.ns,
    [
      '--collector.pods',
      `--kubernetes.pod-logs-dir=${node.logsDir}`,
      `--kubernetes.cgroup-root=${node.cgroupRoot}`,
      '--collector.interval=500ms',
      '--source=ebpf',
    ],
    {
      wrap: opts.wrap,
      env: { PATH: process.env['PATH'], HOME: '/tmp' },
    },
  );
  t.after(async () => {
    await np.stop('SIGKILL');
    // Behind `unshare --fork` netprobe is a grandchild, and setpriv's credential change clears the
    // parent-death signal --kill-child relies on: end it by its PID (found by this node's own dir).
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`--kubernetes.pod-logs-dir=${node.logsDir}`))
          process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    }
  });
  const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, { intervalMs: 300 });
  t.after(() => scraper.stop());
  return { node, pod, np, scraper };
}

/** setpriv and `ip netns exec` exec: the spawned PID is netprobe's. */
function netprobeStatus(np: NetprobeProcess): string {
  return readFileSync(`/proc/${np.pid}/status`, 'utf8');
}

test(
  'with exactly CAP_BPF + CAP_NET_ADMIN as a non-root user, hostPID and the pod log dir: the pod veth is labelled',
  { timeout: 120_000 },
  async (t) => {
    const { pod, np, scraper } = await setUp(t, { wrap: LEAST_PRIVILEGE, logsReadable: true });
    const line = await scraper.until(
      (s) => s.lines.find((l) => l.startsWith('netprobe_pod_interface_info{') && l.includes(pod.uid)),
      20_000,
      'the pod labelled',
    );
    assert.equal(
      line,
      `netprobe_pod_interface_info{ifindex="${pod.ifindex}",interface="${pod.hostVeth}",namespace="shop",pod="cart-5c6d7-abcde",pod_uid="${pod.uid}"} 1`,
    );
    const status = netprobeStatus(np);
    assert.equal(Number(/^Uid:\s*(\d+)/m.exec(status)?.[1]), NOBODY);
    assert.deepEqual(capabilityNames(parseProcStatusCapabilities(status).effective), ['net_admin', 'bpf']);
    assert.doesNotMatch(np.output(), /"missing"/);
  },
);

test(
  'without the host PID namespace: netprobe names hostPID, and the pod veth is counted without pod labels',
  { timeout: 120_000 },
  async (t) => {
    const { pod, np, scraper } = await setUp(t, { wrap: [...OWN_PID_NAMESPACE, ...LEAST_PRIVILEGE], logsReadable: true });
    await scraper.until(
      (s) => (valueIn(s.lines, 'netprobe_pod_interfaces_unresolved', { reason: 'no_pod_process' }) === 1 ? true : undefined),
      20_000,
      'the pod veth counted as unresolved',
    );
    const s = await scraper.fresh();
    assert.notEqual(
      valueIn(s.lines, 'netprobe_tc_packets_total', { interface: pod.hostVeth, namespace: '', pod: '', direction: 'ingress' }),
      undefined,
    );
    assert.ok(!s.lines.some((l) => l.includes(pod.uid)));
    assert.match(np.output(), /"missing":"hostPID"/);
    assert.match(np.output(), /hostPID: true/);
  },
);

test(
  'without read access to the pod log directory: netprobe names it, and the pod veth carries its UID only',
  { timeout: 120_000 },
  async (t) => {
    const { node, pod, np, scraper } = await setUp(t, { wrap: LEAST_PRIVILEGE, logsReadable: false });
    const line = await scraper.until(
      (s) => s.lines.find((l) => l.startsWith('netprobe_pod_interface_info{') && l.includes(pod.uid)),
      20_000,
      'the pod labelled by UID',
    );
    assert.equal(
      line,
      `netprobe_pod_interface_info{ifindex="${pod.ifindex}",interface="${pod.hostVeth}",namespace="",pod="",pod_uid="${pod.uid}"} 1`,
    );
    const s = await scraper.fresh();
    assert.equal(valueIn(s.lines, 'netprobe_pod_interfaces_unresolved', { reason: 'no_pod_log_dir' }), 1);
    assert.match(np.output(), /"missing":"pod-logs-dir"/);
    assert.match(np.output(), new RegExp(`cannot read the pod log directory ${node.logsDir} \\(EACCES\\)`));
  },
);
