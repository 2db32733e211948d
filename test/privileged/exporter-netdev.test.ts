/**
 * An Exporter over the NetdevSource in a fresh namespace: after bounded
 * iperf3 traffic over a veth pair, the scraped counters equal the kernel's
 * own statistics (`ip -j -s link`), in both directions, and the output passes
 * promtool in both formats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { twoHosts, uniqueTag, type Netns } from '../support/netns.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/netdev-exporter.ts', import.meta.url));
const INTERVAL_MS = 300;

/** Settles like `promise`, or rejects with `message` after `ms`; the timer never outlives it. */
async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message())), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for the fixture's first stdout JSON line with the given event. */
function waitForEvent(child: ChildProcess, event: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const found = (async () => {
    for await (const line of createInterface({ input: child.stdout! })) {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (msg.event === event) return msg;
    }
    throw new Error(`fixture exited before ${event}`);
  })();
  return withTimeout(found, timeoutMs, () => `no ${event} event within ${timeoutMs} ms`);
}

function curl(ns: Netns, url: string, headers: string[] = []): Promise<string> {
  return ns.exec('curl', ['-sS', '--max-time', '5', ...headers.flatMap((h) => ['-H', h]), url], 10_000);
}

function series(text: string, name: string, labels: Record<string, string>): bigint | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : BigInt(line.slice(line.lastIndexOf(' ') + 1));
}

test('netdev source: scraped counters equal ip -s link after iperf3 traffic over a veth pair', { timeout: 90_000 }, async (t) => {
  const { left, right, link, cleanup } = await twoHosts('npxn');
  t.after(cleanup);
  // Quiet links: no IPv6 autoconfiguration or neighbour discovery traffic between the reads.
  await left.exec('sysctl', ['-qw', `net.ipv6.conf.${link.a}.disable_ipv6=1`]);
  await right.exec('sysctl', ['-qw', `net.ipv6.conf.${link.b}.disable_ipv6=1`]);

  const exporter = left.spawn(process.execPath, ['--import', 'tsx', FIXTURE, `--interval=${INTERVAL_MS}`]);
  t.after(() => {
    if (exporter.exitCode === null) exporter.kill('SIGKILL');
  });
  let stderr = '';
  exporter.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = await waitForEvent(exporter, 'ready', 20_000).catch((e: Error) => {
    throw new Error(`${e.message}; stderr: ${stderr}`);
  });
  const base = `http://127.0.0.1:${ready.port as number}`;

  const server = right.spawn('iperf3', ['-s', '-1', '--forceflush', '-B', link.addrB]);
  t.after(() => {
    if (server.exitCode === null) server.kill('SIGKILL');
  });
  await waitForOutput(server, /Server listening/, 10_000);
  await left.exec('iperf3', ['-c', link.addrB, '-t', '2', '-J'], 30_000);
  if (server.exitCode === null) await withTimeout(once(server, 'exit'), 5_000, () => 'iperf3 server did not exit after its one test');

  let compared = false;
  for (let attempt = 0; attempt < 10 && !compared; attempt++) {
    const before = await left.linkStats(link.a);
    await sleep(3 * INTERVAL_MS); // at least one collection after `before`
    const text = await curl(left, `${base}/metrics`);
    const after = await left.linkStats(link.a);
    if (JSON.stringify(before) !== JSON.stringify(after)) continue; // traffic between the reads: try again
    const labels = { ifindex: String(after.ifindex), interface: link.a };
    assert.equal(series(text, 'netprobe_tc_packets_total', { ...labels, direction: 'ingress' }), BigInt(after.rx.packets));
    assert.equal(series(text, 'netprobe_tc_bytes_total', { ...labels, direction: 'ingress' }), BigInt(after.rx.bytes));
    assert.equal(series(text, 'netprobe_tc_packets_total', { ...labels, direction: 'egress' }), BigInt(after.tx.packets));
    assert.equal(series(text, 'netprobe_tc_bytes_total', { ...labels, direction: 'egress' }), BigInt(after.tx.bytes));
    assert.ok(after.tx.bytes > 10_000_000, `iperf3 sent traffic (${after.tx.bytes} bytes)`);
    assert.ok(series(text, 'netprobe_tc_packets_total', { interface: 'lo', direction: 'ingress' }) !== undefined, 'lo exported too');
    assert.ok(text.includes('netprobe_source_info{attach_mode="none",source="netdev"} 1'));
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    assert.equal(`${lint.stdout}${lint.stderr}`, '');
    compared = true;
  }
  assert.ok(compared, 'the link was quiet long enough to compare');

  const om = await curl(left, `${base}/metrics`, ['Accept: application/openmetrics-text; version=1.0.0']);
  assert.ok(om.endsWith('# EOF\n'));
  const health = JSON.parse(await curl(left, `${base}/health`)) as { status: string; source: { kind: string; attach_mode: string | null } };
  assert.equal(health.status, 'ok');
  assert.deepEqual([health.source.kind, health.source.attach_mode], ['netdev', null]);

  exporter.kill('SIGTERM');
  const [code] = (await withTimeout(once(exporter, 'exit'), 10_000, () => `no exit within 10 s of SIGTERM; stderr: ${stderr}`)) as [
    number | null,
  ];
  assert.equal(code, 0, `clean exit on SIGTERM; stderr: ${stderr}`);
});

test(
  'netdev source: a hot-plugged interface is exported on its link event, long before the 60 s interval',
  { timeout: 60_000 },
  async (t) => {
    const { left, cleanup } = await twoHosts('npxh');
    t.after(cleanup);
    const exporter = left.spawn(process.execPath, ['--import', 'tsx', FIXTURE, '--interval=60000']);
    t.after(() => {
      if (exporter.exitCode === null) exporter.kill('SIGKILL');
    });
    let stderr = '';
    exporter.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await waitForEvent(exporter, 'ready', 20_000).catch((e: Error) => {
      throw new Error(`${e.message}; stderr: ${stderr}`);
    });
    const base = `http://127.0.0.1:${ready.port as number}`;
    const tag = uniqueTag();
    const name = `nphp${tag}`;
    assert.ok(!(await curl(left, `${base}/metrics`)).includes(`interface="${name}"`));
    await left.ip(['link', 'add', name, 'type', 'veth', 'peer', 'name', `nphq${tag}`]);
    const added = Date.now();
    let text = '';
    while (Date.now() - added < 5_000 && !text.includes(`interface="${name}"`)) {
      await sleep(100);
      text = await curl(left, `${base}/metrics`);
    }
    assert.ok(text.includes(`interface="${name}"`), `exported after ${Date.now() - added} ms; stderr: ${stderr}`);
    await left.ip(['link', 'del', name]);
    const removed = Date.now();
    while (Date.now() - removed < 5_000 && text.includes(`interface="${name}"`)) {
      await sleep(100);
      text = await curl(left, `${base}/metrics`);
    }
    assert.ok(!text.includes(`interface="${name}"`), 'a deleted interface loses its series promptly too');
    exporter.kill('SIGTERM');
    const [code] = (await withTimeout(once(exporter, 'exit'), 10_000, () => `no exit within 10 s of SIGTERM; stderr: ${stderr}`)) as [
      number | null,
    ];
    assert.equal(code, 0);
  },
);

test('sysfs reader (the netdev source without libbpf) agrees with the netlink dump', async () => {
  const { dumpLinks } = await import('../../src/net/link-dump.js');
  const { readSysfsLinks } = await import('../../src/source/sysfs-links.js');
  const viaNetlink = dumpLinks();
  const viaSysfs = readSysfsLinks();
  const viaNetlinkAfter = dumpLinks();
  assert.deepEqual(
    viaSysfs.map((l) => [l.ifindex, l.name, l.up]),
    viaNetlink.map((l) => [l.ifindex, l.name, l.up]),
  );
  for (const [i, s] of viaSysfs.entries()) {
    const before = viaNetlink[i]!.stats!;
    const after = viaNetlinkAfter[i]!.stats!;
    for (const k of ['rxPackets', 'rxBytes', 'txPackets', 'txBytes'] as const) {
      assert.ok(before[k] <= s.stats![k] && s.stats![k] <= after[k], `${s.name} ${k}: ${before[k]} <= ${s.stats![k]} <= ${after[k]}`);
    }
  }
});

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  let seen = '';
  const found = new Promise<void>((resolve) =>
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) resolve();
    }),
  );
  return withTimeout(found, timeoutMs, () => `no ${pattern} within ${timeoutMs} ms: ${seen}`);
}
