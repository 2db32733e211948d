/**
 * Defect 2 of issue 9: with libbpf.so.1 hidden and default flags, the CLI
 * falls back to the kernel's interface statistics and keeps serving. (It used
 * to log "exporter listening" and then exit 1: the default
 * --capabilities.keep reached capset/prctl through the libbpf binding.)
 *
 * The real CLI runs in a test network namespace, inside a private mount
 * namespace where /dev/null is bound over libbpf.so.1; its only flag is the
 * listen address. Its /metrics must equal the kernel's statistics of a veth.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { twoHosts } from '../support/netns.js';
import { cliCommand } from '../support/netprobe-process.js';
import { fetchInNetns } from '../support/netns-http.js';
import { sampleValue } from '../support/exposition-parse.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';

/** The default --collector.interval: a collection happens at least this often. */
const DEFAULT_INTERVAL_MS = 5_000;

test(
  'libbpf.so.1 hidden, default flags: the CLI warns, serves source=netdev, and /metrics equals the kernel statistics',
  { timeout: 120_000 },
  async (t) => {
    const libbpf = /libbpf\.so\.1 \(.*\) => (\S+)/.exec(execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }))?.[1];
    assert.ok(libbpf, 'libbpf.so.1 is installed (ldconfig -p)');

    const { left, right, link, cleanup } = await twoHosts('npnl');
    t.after(cleanup);
    await quietIpv6(left, right);
    await staticNeighbours(left, right, link);

    // Only the listen address: 127.0.0.1 inside the test namespace.
    const [node, args] = cliCommand(['--web.listen-address=127.0.0.1:0']);
    const hide = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind /dev/null ${libbpf} && exec "$@"`, 'sh'];
    const proc = left.spawn(hide[0] as string, [...hide.slice(1), node, ...args]);
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    t.after(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    });
    const running = (): boolean => proc.exitCode === null && proc.signalCode === null;

    const deadline = Date.now() + 30_000;
    let port: number | undefined;
    while (port === undefined) {
      port = Number(/"port":(\d+)[^\n]*"msg":"exporter listening"/.exec(out)?.[1]) || undefined;
      assert.ok(running(), `netprobe exited before listening:\n${out}`);
      assert.ok(Date.now() < deadline, `netprobe did not listen within 30 s:\n${out}`);
      await sleep(100);
    }
    // The old failure came right after "exporter listening": wait for the capability drop to be done.
    while (!/capabilities dropped after attaching/.test(out) && running() && Date.now() < deadline) await sleep(100);
    assert.ok(running(), `netprobe exited after listening:\n${out}`);
    assert.match(out, /capabilities dropped after attaching; keeping (net_admin,bpf|bpf,net_admin)"/, 'the default keep-list was applied');

    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string | number; msg: string; code?: string; reason?: string });
    const warning = lines.find((l) => /falling back to the kernel's interface statistics/.test(l.msg));
    assert.ok(warning, `a fallback warning:\n${out}`);
    assert.equal(warning.code, 'NP_ERR_NO_LIBBPF');
    assert.match(warning.reason ?? '', /^load libbpf\.so\.1: /);
    assert.ok(!/cannot start/.test(out), out);

    await sendUdp(left, link.addrB, 300, 400);
    let compared = false;
    for (let attempt = 0; attempt < 6 && !compared; attempt++) {
      const before = await left.linkStats(link.a);
      await sleep(DEFAULT_INTERVAL_MS + 1_000); // at least one collection after `before`
      const res = await fetchInNetns(left, `http://127.0.0.1:${port}/metrics`);
      const after = await left.linkStats(link.a);
      if (JSON.stringify(before) !== JSON.stringify(after)) continue; // traffic between the reads: try again
      assert.equal(res.status, 200);
      const text = res.body.toString('utf8');
      assert.equal(sampleValue(text, 'netprobe_source_info', { source: 'netdev' }), 1, 'source=netdev');
      const labels = { interface: link.a, ifindex: String(after.ifindex) };
      assert.equal(sampleValue(text, 'netprobe_tc_packets_total', { ...labels, direction: 'ingress' }), after.rx.packets);
      assert.equal(sampleValue(text, 'netprobe_tc_bytes_total', { ...labels, direction: 'ingress' }), after.rx.bytes);
      assert.equal(sampleValue(text, 'netprobe_tc_packets_total', { ...labels, direction: 'egress' }), after.tx.packets);
      assert.equal(sampleValue(text, 'netprobe_tc_bytes_total', { ...labels, direction: 'egress' }), after.tx.bytes);
      // 300 datagrams out; some ICMP port-unreachable back (the kernel rate-limits those).
      assert.ok(after.tx.packets >= 300 && after.rx.packets >= 1, `traffic both ways: ${JSON.stringify(after)}`);
      compared = true;
    }
    assert.ok(compared, 'the veth was quiet long enough to compare');
    assert.ok(running(), `still serving:\n${out}`);

    proc.kill('SIGTERM');
    assert.equal(await exited, 0, `clean exit on SIGTERM:\n${out}`);
  },
);
