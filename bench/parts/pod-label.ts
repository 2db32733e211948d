/**
 * Time-to-label: a pod's veth appears (CNI ADD of Debian's bridge plugin,
 * called as containerd calls it, the pod's process already in its kubepods
 * cgroup, as with a real sandbox) → the first /metrics scrape that labels it
 * with its namespace and pod. "Appears" is the kernel's first RTM_NEWLINK
 * naming the veth, timestamped by `ip -ts monitor link` in the node
 * namespace. Measured in the same run as its peer: the veth's first
 * (unlabelled) series, i.e. attach + collection. A client in netprobe's
 * namespace scrapes every 20 ms. Target: ≤ 1 s.
 */
import type { ChildProcess } from 'node:child_process';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import { PodNode } from '../../test/support/cni-pod.js';
import { startNetprobe } from '../../test/support/netprobe-process.js';
import { ScrapeLoop, type Scrape } from '../../test/support/scrape-loop.js';
import type { BenchPart } from '../lib/context.js';
import { cell, fmt, type PartResult } from '../lib/report.js';
import { summarize } from '../lib/stats.js';

export const LABEL_TARGET_MS = 1000;

export const podLabelPart: BenchPart = {
  name: 'pod-label',
  title: 'Part 9 — time-to-label (pod veth appears to labelled series)',
  needs: ['src/kubernetes/pod-resolver.ts', 'test/support/cni-pod.ts'],
  async run(ctx): Promise<PartResult> {
    const repeats = ctx.smoke ? 2 : 20;
    const node = await PodNode.create();
    const removeNode = onCleanup('pod node', () => node.cleanup());
    const toSeries: number[] = [];
    const toLabel: number[] = [];
    try {
      const np = await startNetprobe(node.ns, [
        '--collector.pods',
        `--kubernetes.pod-logs-dir=${node.logsDir}`,
        `--kubernetes.cgroup-root=${node.cgroupRoot}`,
      ]);
      let monitorText = '';
      const monitor: ChildProcess = node.ns.spawn('ip', ['-ts', 'monitor', 'link']);
      monitor.stdout?.on('data', (c: Buffer) => (monitorText += c.toString()));
      const stopMonitor = onCleanup('ip monitor', () => void monitor.kill('SIGKILL'));
      const appearedAt = async (veth: string): Promise<number> => {
        for (let i = 0; i < 100; i++) {
          const m = new RegExp(`^\\[([0-9T:.-]+)\\] \\d+: ${veth}@`, 'm').exec(monitorText);
          // Local time without a zone, microseconds: Date parses it as local time (ms precision).
          if (m) return new Date(m[1]!.slice(0, 23)).getTime();
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`ip monitor never reported ${veth}`);
      };
      const scraper = new ScrapeLoop(node.ns, `http://127.0.0.1:${np.port}/metrics`, {
        intervalMs: 20,
        keep: /^netprobe_(pod_interface_info|interface_active)\{/,
      });
      try {
        for (let i = 0; i < repeats; i++) {
          const pod = await node.addPod({ namespace: 'bench', name: `p-${i}` });
          const t0 = await appearedAt(pod.hostVeth);
          const first = (pred: (s: Scrape) => boolean): Promise<number> =>
            scraper.until((s) => (pred(s) ? s.at : undefined), 30_000, `${pod.hostVeth}`).then((at) => Math.max(0, at - t0));
          toSeries.push(await first((s) => s.lines.some((l) => l.includes(`interface="${pod.hostVeth}"`))));
          toLabel.push(await first((s) => s.lines.some((l) => l.startsWith('netprobe_pod_interface_info{') && l.includes(`pod="p-${i}"`))));
          ctx.log(`pod ${i}: series ${toSeries.at(-1)} ms, label ${toLabel.at(-1)} ms`);
          await pod.remove();
        }
      } finally {
        await scraper.stop();
        await np.stop();
        await stopMonitor();
      }
    } finally {
      await removeNode();
    }
    const label = summarize(toLabel);
    const series = summarize(toSeries);
    const met = label.max <= LABEL_TARGET_MS;
    return {
      part: 'pod-label',
      title: this.title,
      tables: [
        {
          caption: `${repeats} pods made one after another (bridge + host-local CNI, the pod's process in its kubepods cgroup before the network, a pod log directory); netprobe with --collector.pods and its default 5 s collect interval; scraped every 20 ms. Measured from the kernel's first RTM_NEWLINK of the veth (\`ip -ts monitor link\`).`,
          headers: ['from the veth appearing to', 'median', 'min', 'max', 'target'],
          rows: [
            ["the veth's first series (attach + collection: the peer)", cell(series, fmt.ms), fmt.ms(series.min), fmt.ms(series.max), '–'],
            ['its namespace/pod labels', cell(label, fmt.ms), fmt.ms(label.min), fmt.ms(label.max), `≤ ${LABEL_TARGET_MS} ms`],
          ],
        },
      ],
      notes: [
        `Labelling costs ${series.median > 0 ? (label.median / series.median).toFixed(2) : '–'}× the time to the first series (median ratio, same run): the link event that attaches the program also schedules one /proc scan 20 ms later, and the labelled collection follows at once.`,
      ],
      verdicts: [
        {
          target: `pod veth labelled in /metrics ≤ ${LABEL_TARGET_MS} ms after it appears`,
          result: `median ${fmt.ms(label.median)}, worst ${fmt.ms(label.max)} of ${repeats}`,
          met,
        },
      ],
      data: { toLabelMs: toLabel, toSeriesMs: toSeries, target: LABEL_TARGET_MS },
      seconds: 0,
    };
  },
};
