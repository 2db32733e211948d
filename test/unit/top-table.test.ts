/**
 * `netprobe top`'s pure parts: the table (sorts, filter, pods, row limit,
 * terminal-safe names), the header's trust line, number formatting, and
 * the command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headerLines, renderOnce, selectInterfaces, si, tableLines, terminalSafe, withUnit } from '../../src/cli/top-table.js';
import { TopUsageError, parseTopArgs } from '../../src/cli/top.js';
import type { OverviewDocument, OverviewInterface } from '../../src/exposition/overview-document.js';

function itf(ifindex: number, name: string, inBps: number, outBps: number, extra: Partial<OverviewInterface> = {}): OverviewInterface {
  return {
    name,
    ifindex,
    active: inBps + outBps > 0,
    ingress: { bytesPerSecond: inBps, packetsPerSecond: inBps / 100, bytes: inBps * 10, packets: inBps / 10 },
    egress: { bytesPerSecond: outBps, packetsPerSecond: outBps / 1000, bytes: outBps * 10, packets: outBps / 100 },
    ...extra,
  };
}

function doc(
  interfaces: OverviewInterface[],
  trust: Partial<OverviewDocument['trust']> = {},
  uplinks = interfaces.filter((i) => i.role === 'uplink').map((i) => ({ name: i.name, ifindex: i.ifindex })),
): OverviewDocument {
  return {
    schema: 1,
    generatedAt: 0,
    trust: {
      up: true,
      source: 'ebpf',
      attachMode: 'tcx',
      version: '0.2.0',
      startedAt: 0,
      uptimeSeconds: 3725,
      collectIntervalMs: 5000,
      interfacesCounted: interfaces.length,
      interfacesUncounted: 0,
      overflow: 0,
      uncountedPackets: 0,
      collections: 12,
      collectionErrors: 0,
      lastError: null,
      lastCollection: 0,
      series: 100,
      ...trust,
    },
    totals: {
      ingress: { bytesPerSecond: 1_234_567, packetsPerSecond: 1200, bytes: 0, packets: 0 },
      egress: { bytesPerSecond: 0, packetsPerSecond: 0, bytes: 0, packets: 0 },
    },
    uplinks,
    interfaces,
    history: {
      windowMs: 0,
      capacity: 2,
      times: [],
      totals: { ingressBytesPerSecond: [], egressBytesPerSecond: [], ingressPacketsPerSecond: [], egressPacketsPerSecond: [] },
      top: [],
    },
  };
}

const VIEW = { sort: 'bytes' as const, filter: '', url: 'http://127.0.0.1:8081' };
const SAMPLE = doc([
  itf(1, 'lo', 10, 10, { kind: 'device', role: 'loopback' }),
  itf(2, 'eth0', 100, 5_000_000, { kind: 'device', role: 'uplink' }),
  itf(3, 'veth9', 2_000_000, 0, { kind: 'veth', role: 'pod' }),
  itf(4, 'idle', 0, 0),
]);

test('si: three significant digits with SI prefixes; units attach to the prefix', () => {
  assert.deepEqual([0, 1, 9.999, 12.34, 999.4, 999.5, 1234, 56_789, 4_940_000, 7.2e12].map(si), [
    '0',
    '1.00',
    '10.0',
    '12.3',
    '999',
    '1.00 k',
    '1.23 k',
    '56.8 k',
    '4.94 M',
    '7.20 T',
  ]);
  assert.equal(withUnit(0, 'B/s'), '0 B/s');
  assert.equal(withUnit(1_234_567, 'B/s'), '1.23 MB/s');
});

test('sorts: bytes/s both ways by default, then in, out, packets, name; ties by name', () => {
  const names = (sort: 'bytes' | 'in' | 'out' | 'packets' | 'name'): string[] =>
    selectInterfaces(SAMPLE, { sort, filter: '' }).map((r) => r.name);
  assert.deepEqual(names('bytes'), ['eth0', 'veth9', 'lo', 'idle']);
  assert.deepEqual(names('in'), ['veth9', 'eth0', 'lo', 'idle']);
  assert.deepEqual(names('out'), ['eth0', 'lo', 'idle', 'veth9']);
  assert.deepEqual(names('packets'), ['veth9', 'eth0', 'lo', 'idle']);
  assert.deepEqual(names('name'), ['eth0', 'idle', 'lo', 'veth9']);
});

test('the --once table: header, totals, status, aligned columns, busiest first', () => {
  const text = renderOnce(SAMPLE, { ...VIEW, lastCollectionAgeMs: 1200 });
  assert.equal(
    text,
    [
      'netprobe 0.2.0 at http://127.0.0.1:8081 · source ebpf/tcx · up 1h02m · last collection 1s ago',
      'node (uplinks eth0): in 1.23 MB/s 1.20 k pkt/s · out 0 B/s 0 pkt/s · 4 interfaces · 12 collections, 0 errors',
      'status: ok',
      '',
      'INTERFACE  ROLE      IFINDEX  IN B/s  OUT B/s  IN pkt/s  OUT pkt/s  ACTIVE',
      'eth0       uplink          2     100   5.00 M      1.00     5.00 k     yes',
      'veth9      pod             3  2.00 M        0    20.0 k          0     yes',
      'lo         loopback        1    10.0     10.0      0.10       0.01     yes',
      'idle                       4       0        0         0          0      no',
      '',
    ].join('\n'),
  );
});

test('filter matches name, namespace or pod; pods get a column when present; rows are limited', () => {
  const d = doc([
    itf(1, 'lo', 0, 0),
    itf(7, 'lxcab12', 50, 50, { namespace: 'shop', pod: 'cart-0' }),
    itf(8, 'lxccd34', 1, 0, { namespace: '', pod: '' }),
  ]);
  const lines = tableLines(d, { ...VIEW, filter: 'SHOP' });
  assert.deepEqual(lines, [
    'INTERFACE  POD          ROLE  IFINDEX  IN B/s  OUT B/s  IN pkt/s  OUT pkt/s  ACTIVE',
    'lxcab12    shop/cart-0              7    50.0     50.0      0.50       0.05     yes',
  ]);
  assert.equal(tableLines(d, { ...VIEW, maxRows: 2 }).length, 3);
});

test("with drops counted, pod rows show their pod's drops (not_specified left out by the exporter)", () => {
  const d = {
    ...doc([itf(7, 'lxcab12', 50, 50, { namespace: 'shop', pod: 'cart-0' }), itf(8, 'eth0', 1, 0, { namespace: '', pod: '' })]),
    drops: {
      active: true,
      byReason: [{ reason: 'no_socket', packets: 1500 }],
      pods: [{ namespace: 'shop', pod: 'cart-0', packets: 1500 }],
    },
  };
  const lines = tableLines(d, VIEW);
  assert.match(lines[0]!, /POD DROPS$/);
  assert.match(
    lines.find((l) => l.startsWith('lxcab12'))!,
    /yes\s+1\.50 k$/,
  );
  assert.match(
    lines.find((l) => l.startsWith('eth0'))!,
    /(no|yes)$/,
  );
  const off = tableLines({ ...d, drops: { active: false, byReason: [], pods: [] } }, VIEW);
  assert.doesNotMatch(off[0]!, /DROPS/);
});

test('the node line names the uplinks it sums, or says none is known', () => {
  const none = doc([itf(1, 'lo', 1, 1, { role: 'loopback' })]);
  assert.match(headerLines(none, VIEW)[1]!, /^node \(no uplink known: --collector\.uplinks\): in 1\.23 MB\/s/);
  const two = doc([itf(2, 'eth0', 1, 1, { role: 'uplink' }), itf(3, 'eth1', 1, 1, { role: 'uplink' })]);
  assert.match(headerLines(two, VIEW)[1]!, /^node \(uplinks eth0, eth1\): /);
});

test('names cannot drive the terminal: control characters and ESC are shown as \\xNN', () => {
  assert.equal(terminalSafe('a\x1b[2Jb\x07\x7f\u009b'), 'a\\x1b[2Jb\\x07\\x7f\\x9b');
  const lines = tableLines(doc([itf(1, 'x\x1b]0;pwn\x07', 1, 1)]), VIEW);
  assert.ok(!lines.join('').includes('\x1b'));
  assert.ok(lines[1]!.startsWith('x\\x1b]0;pwn\\x07'));
});

test('the header says what is wrong', () => {
  const bad = doc([], { up: false, lastError: 'map read failed', interfacesUncounted: 3, uncountedPackets: 9 });
  assert.equal(
    headerLines(bad, { ...VIEW, lastCollectionAgeMs: 120_000 })[2],
    'PROBLEM: COLLECTION DOWN: map read failed; 3 interfaces uncounted; 9 packets uncounted; last collection 2m00s ago',
  );
});

test('command line: defaults, flags, and one clear problem per mistake', () => {
  const d = parseTopArgs([])!;
  assert.equal(d.url.href, 'http://127.0.0.1:8081/');
  assert.equal(d.once, false);
  assert.equal(d.intervalMs, 2000);
  const o = parseTopArgs([
    '--url',
    'node1:9100',
    '--once',
    '--interval=0.5',
    '--auth.username=prom',
    '--auth.password=s3cret',
    '--tls.insecure-skip-verify',
  ])!;
  assert.equal(o.url.href, 'http://node1:9100/');
  assert.equal(o.once, true);
  assert.equal(o.intervalMs, 500);
  assert.equal(o.username, 'prom');
  assert.equal(o.password, 's3cret');
  assert.equal(o.insecureSkipVerify, true);
  assert.equal(parseTopArgs(['--help']), undefined);
  for (const [args, message] of [
    [['--bogus'], /unknown flag --bogus/],
    [['--url'], /--url needs a value/],
    [['--url=ftp://x'], /use http:\/\/ or https:\/\//],
    [['--interval=0'], /--interval=0: seconds between/],
    [['--auth.password=x'], /needs --auth.username/],
    [['--tls.ca-file=/nonexistent/ca.pem'], /--tls.ca-file=\/nonexistent\/ca.pem: cannot read the file \(ENOENT\)/],
    [['extra'], /unexpected argument "extra"/],
  ] as const)
    assert.throws(
      () => parseTopArgs(args),
      (e: unknown) => e instanceof TopUsageError && message.test(e.message),
      String(args),
    );
});
