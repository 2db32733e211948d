/**
 * An ABI-changing upgrade under a real Prometheus. netprobe (the real CLI,
 * with a pin path on a private bpffs) is restarted once, then replaced by a
 * second build of its BPF object whose map layout differs (a fixture built
 * by this test with bpf/build.sh), while paced UDP flows the whole time and
 * Prometheus scrapes every second. The new version swaps its programs into
 * the old attachments, carries the old counts as offsets and removes the old
 * pins: `resets()` over the whole window is 0 on every traffic counter, and
 * the final counters still equal the kernel's statistics exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { fixturePath, REPO } from '../support/repo-paths.js';
import { kernelTotals, listTree, persistenceLab, scrapeTotals, startUdpStream } from '../support/persistence-lab.js';

const run = promisify(execFile);
const PORT = 8081;
const PROMETHEUS = '127.0.0.1:9090';
/** Traffic counters: they must never reset. (netprobe_collection_total counts this process's collections.) */
const TRAFFIC_COUNTERS = [
  'netprobe_tc_packets_total',
  'netprobe_tc_bytes_total',
  'netprobe_tc_segments_total',
  'netprobe_uncounted_packets_total',
];

test(
  'ABI-changing upgrade and a restart under Prometheus: no counter resets, exact counts, old pins removed',
  { timeout: 170_000 },
  async (t) => {
    const lab = await persistenceLab('npupg');
    const { left, right, link, pinPath } = lab;
    const work = mkdtempSync(join(tmpdir(), 'np-upgrade-'));
    const started: NetprobeProcess[] = [];
    let prometheus: ChildProcess | undefined;
    let stream: { stop(): Promise<void> } | undefined;
    t.after(async () => {
      await stream?.stop();
      if (prometheus && prometheus.exitCode === null) {
        prometheus.kill('SIGTERM');
        await once(prometheus, 'exit');
      }
      for (const p of started) await p.stop('SIGKILL');
      await lab.cleanup();
      rmSync(work, { recursive: true, force: true });
    });

    const variant = join(work, 'netprobe-abi-variant.bpf.o');
    await run(join(REPO, 'bpf/build.sh'), [variant, fixturePath('netprobe-abi-variant.bpf.c')]);
    const args = (object?: string): string[] => [
      `--web.listen-address=127.0.0.1:${PORT}`,
      `--ebpf.include=${link.a}`,
      `--ebpf.pin-path=${pinPath}`,
      '--collector.interval=250ms',
      '--source=ebpf',
      ...(object ? [`--ebpf.object=${object}`] : []),
    ];
    const start = async (object?: string): Promise<NetprobeProcess> => {
      const p = await startNetprobe(left, args(object));
      started.push(p);
      return p;
    };

    let np = await start();
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s' },
      scrape_configs: [{ job_name: 'netprobe', static_configs: [{ targets: [`127.0.0.1:${PORT}`] }] }],
    };
    writeFileSync(join(work, 'prometheus.yml'), JSON.stringify(config));
    prometheus = left.spawn('prometheus', [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'tsdb')}`,
      `--web.listen-address=${PROMETHEUS}`,
      '--log.level=warn',
    ]);
    const promQuery = async (query: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
      const url = `http://${PROMETHEUS}/api/v1/query?${new URLSearchParams({ query }).toString()}`;
      const script = 'fetch(process.argv[1]).then(async (r) => process.stdout.write(await r.text()), () => process.stdout.write("{}"))';
      const text = await left.exec('node', ['-e', script, url], 15_000);
      // Until Prometheus is ready it answers "Service Unavailable": no result yet.
      try {
        return (JSON.parse(text) as { data?: { result: [] } }).data?.result ?? [];
      } catch {
        return [];
      }
    };
    // Prometheus has scraped netprobe's traffic counters at least once.
    for (let i = 0; ; i++) {
      if ((await promQuery(`netprobe_tc_packets_total{interface="${link.a}"}`)).length === 2) break;
      assert.ok(i < 60, 'Prometheus never scraped netprobe');
      await sleep(500);
    }

    const kernel0 = await kernelTotals(left, link.a);
    const counted0 = await scrapeTotals(left, PORT, link.a);
    stream = startUdpStream(right, link.addrA);
    await sleep(3_000);

    // A restart (same object): adopted.
    assert.equal(await np.stop('SIGTERM'), 0, np.output());
    await sleep(1_500);
    np = await start();
    assert.match(np.output(), /adopting the pinned eBPF state/);
    await sleep(3_000);

    // The upgrade: another object, another pin directory; the old one is taken over and removed.
    const before = listTree(pinPath).filter((p) => /^netprobe-bpf-[0-9a-f]+$/.test(p));
    assert.equal(before.length, 1, before.join('\n'));
    assert.equal(await np.stop('SIGTERM'), 0, np.output());
    await sleep(1_500);
    np = await start(variant);
    assert.match(np.output(), /took over 1 interface\(s\)/, np.output());
    const after = listTree(pinPath).filter((p) => /^netprobe-bpf-[0-9a-f]+$/.test(p));
    assert.equal(after.length, 1, after.join('\n'));
    assert.notEqual(after[0], before[0]);
    await sleep(3_000);

    await stream.stop();
    await sleep(200);
    const kernel1 = await kernelTotals(left, link.a);
    await sleep(2_500); // a collection, then a scrape
    const counted1 = await scrapeTotals(left, PORT, link.a);
    assert.equal(counted1.ingressPackets - counted0.ingressPackets, kernel1.ingressPackets - kernel0.ingressPackets);
    assert.equal(counted1.egressPackets - counted0.egressPackets, kernel1.egressPackets - kernel0.egressPackets);
    assert.equal(counted1.ingressBytes - counted0.ingressBytes, kernel1.ingressBytes - kernel0.ingressBytes);
    assert.equal(counted1.egressBytes - counted0.egressBytes, kernel1.egressBytes - kernel0.egressBytes);
    assert.ok(kernel1.ingressPackets - kernel0.ingressPackets > 3_000n);

    // Prometheus saw every traffic counter only ever grow, through the restart and the upgrade.
    // (One query per family: resets() drops the name, and two families would share label sets.)
    for (const family of TRAFFIC_COUNTERS) {
      const resets = await promQuery(`resets(${family}[5m])`);
      assert.ok(resets.length >= (family === 'netprobe_uncounted_packets_total' ? 1 : 2), `${family}: ${resets.length} series`);
      assert.deepEqual(
        resets.filter((r) => r.value[1] !== '0').map((r) => r.metric),
        [],
        `${family}: no reset`,
      );
    }
    // And it did see the gaps close: the process counter restarted each time (three processes).
    const collections = await promQuery('resets(netprobe_collection_total[5m])');
    assert.equal(collections[0]?.value[1], '2');

    assert.equal(await np.stop('SIGTERM'), 0, np.output());
  },
);
