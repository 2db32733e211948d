/**
 * The real `netprobe` command end to end, as root, inside fresh network
 * namespaces: bounded iperf3 traffic over a veth pair, scraped over HTTP from
 * inside the namespace. Counters must equal the kernel's own statistics
 * exactly; rates must match bytes sent / elapsed within 10%.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Netns, uniqueTag, vethBetween, type VethPair } from '../support/netns.js';
import { CLI } from '../support/repo-paths.js';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { labelSets, promtoolCheck, sampleValue } from '../support/exposition-parse.js';
import { quietIpv6 } from '../support/traffic.js';
import { attachedInterfaces, census } from '../support/tc-attachments.js';
import { fetchInNetns } from '../support/netns-http.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const CONTRACT_FAMILIES = [
  'netprobe_tc_packets_total',
  'netprobe_tc_bytes_total',
  'netprobe_tc_packets_per_second',
  'netprobe_tc_bytes_per_second',
  'netprobe_interface_active',
  'netprobe_up',
  'netprobe_collection_total',
  'netprobe_last_collection_timestamp_seconds',
];
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

let left: Netns;
let right: Netns;
let link: VethPair;
/** A second veth pair with both ends in `left`, never up: no traffic, ever. */
let idle: { a: string; b: string };
const running = new Set<NetprobeProcess>();

before(async () => {
  left = await Netns.create('npcl');
  right = await Netns.create('npcr');
  await quietIpv6(left, right);
  link = await vethBetween(left, right);
  const tag = uniqueTag();
  idle = { a: `npia${tag}`, b: `npib${tag}` };
  await left.ip(['link', 'add', idle.a, 'type', 'veth', 'peer', 'name', idle.b]);
});

// A failed test must not leave its exporter attached for the next one.
afterEach(async () => {
  for (const np of running) await np.stop('SIGKILL');
  running.clear();
});

after(async () => {
  await left?.delete();
  await right?.delete();
});

async function start(args: string[]): Promise<NetprobeProcess> {
  const np = await startNetprobe(left, ['--source=ebpf', ...args]);
  running.add(np);
  return np;
}

async function stop(np: NetprobeProcess): Promise<number | string> {
  const code = await np.stop('SIGTERM');
  running.delete(np);
  return code;
}

async function scrape(np: NetprobeProcess, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetchInNetns(left, `http://127.0.0.1:${np.port}/metrics`, { headers });
  assert.equal(response.status, 200);
  return response.body.toString('utf8');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Reading {
  kernel: { rx: { packets: number; bytes: number }; tx: { packets: number; bytes: number } };
  metrics: string;
}

/**
 * A scrape taken when nothing moved on the link: kernel stats read, two
 * collection intervals pass (so the rates cover a quiet interval too),
 * scrape, kernel stats read again — equal.
 */
async function settledReading(np: NetprobeProcess, intervalMs: number): Promise<Reading> {
  for (let attempt = 0; attempt < 15; attempt++) {
    const before = await left.linkStats(link.a);
    await sleep(2 * intervalMs + 400);
    const metrics = await scrape(np);
    const after = await left.linkStats(link.a);
    if (JSON.stringify([before.rx, before.tx]) === JSON.stringify([after.rx, after.tx])) return { kernel: after, metrics };
  }
  throw new Error(`${link.a}: traffic never settled`);
}

function counter(metrics: string, name: string, direction: 'ingress' | 'egress'): number {
  const value = sampleValue(metrics, name, { interface: link.a, direction });
  assert.notEqual(value, undefined, `${name}{interface=${link.a},direction=${direction}} is exported`);
  return value as number;
}

interface IperfReport {
  end: { sum_sent?: { bytes: number; seconds: number } };
  error?: string;
}

/** iperf3 from left to right, rate-limited and bounded; resolves with the JSON report. */
async function iperf(seconds: number, bitrate: string): Promise<{ bytes: number; seconds: number }> {
  const port = String(20_000 + Math.floor(Math.random() * 20_000));
  const server = right.spawn('iperf3', ['-s', '-1', '-B', link.addrB, '-p', port]);
  try {
    for (let attempt = 0; ; attempt++) {
      // The server may need a moment to listen; a refused connection is reported in the JSON.
      await sleep(200);
      const out = await left
        .exec(
          'iperf3',
          ['-c', link.addrB, '-p', port, '-t', String(seconds), '-b', bitrate, '-J', '--connect-timeout', '2000'],
          (seconds + 15) * 1000,
        )
        .catch((e: { stdout?: string }) => e.stdout ?? '{}');
      const report = JSON.parse(out) as IperfReport;
      if (report.end.sum_sent) return report.end.sum_sent;
      if (attempt >= 10) throw new Error(`iperf3 failed: ${report.error ?? out}`);
    }
  } finally {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
  }
}

/** A few UDP datagrams from left to right (to the discard port: right answers with ICMP). */
async function sendDatagrams(count: number): Promise<void> {
  const script = `const s = require('node:dgram').createSocket('udp4'); let n = 0;
    const next = () => n++ < ${count} ? s.send('netprobe', 9, '${link.addrB}', () => setTimeout(next, 50)) : s.close(); next();`;
  await left.exec(process.execPath, ['-e', script]);
}

test('serves exact counters and plausible rates; /health, /, promtool, gzip and OpenMetrics; SIGTERM detaches and exits 0', async (t) => {
  const intervalMs = 1_000;
  const np = await start([`--collector.interval=${intervalMs}ms`]);
  assert.deepEqual(await attachedInterfaces(left), [idle.a, idle.b, link.a, 'lo'].sort(), 'attached to every interface of the namespace');

  const first = await settledReading(np, intervalMs);
  for (const family of CONTRACT_FAMILIES)
    assert.match(first.metrics, new RegExp(`^# HELP ${family} .+\n# TYPE ${family} (counter|gauge)$`, 'm'), family);
  for (const name of [link.a, idle.a, idle.b, 'lo']) {
    for (const direction of ['ingress', 'egress'])
      assert.notEqual(
        sampleValue(first.metrics, 'netprobe_tc_bytes_total', { interface: name, direction }),
        undefined,
        `${name} ${direction}`,
      );
  }

  // Traffic, with the rate gauges sampled while it flows (each covers one whole interval inside the run).
  const seconds = 5;
  const startedAt = Date.now();
  const report = iperf(seconds, '100M');
  const rateSamples: number[] = [];
  for (const at of [2_000, 3_000, 4_000]) {
    await sleep(at - (Date.now() - startedAt));
    rateSamples.push(sampleValue(await scrape(np), 'netprobe_tc_bytes_per_second', { interface: link.a, direction: 'egress' }) ?? NaN);
  }
  const sent = await report;

  const second = await settledReading(np, intervalMs);
  for (const [direction, kernel] of [
    ['ingress', 'rx'],
    ['egress', 'tx'],
  ] as const) {
    for (const [family, field] of [
      ['netprobe_tc_packets_total', 'packets'],
      ['netprobe_tc_bytes_total', 'bytes'],
    ] as const) {
      const ours = counter(second.metrics, family, direction) - counter(first.metrics, family, direction);
      const theirs = second.kernel[kernel][field] - first.kernel[kernel][field];
      assert.equal(ours, theirs, `${family} ${direction}: netprobe counted ${ours}, the kernel ${theirs}`);
    }
  }
  assert.ok(
    second.kernel.tx.packets - first.kernel.tx.packets > 1_000,
    `real traffic flowed: ${JSON.stringify({ first: first.kernel, second: second.kernel, sent })}`,
  );

  const sentBytesPerSecond = (second.kernel.tx.bytes - first.kernel.tx.bytes) / sent.seconds;
  const medianRate = [...rateSamples].sort((x, y) => x - y)[1] as number;
  t.diagnostic(
    `egress rate samples ${rateSamples.map((r) => r.toFixed(0)).join(', ')} B/s; sent ${sentBytesPerSecond.toFixed(0)} B/s; ${second.kernel.tx.packets - first.kernel.tx.packets} packets counted exactly`,
  );
  assert.ok(
    Math.abs(medianRate - sentBytesPerSecond) <= 0.1 * sentBytesPerSecond,
    `egress rate ${medianRate} B/s (samples ${rateSamples.join(', ')}) within 10% of ${sentBytesPerSecond.toFixed(0)} B/s sent`,
  );
  assert.equal(
    sampleValue(second.metrics, 'netprobe_tc_bytes_per_second', { interface: link.a, direction: 'egress' }),
    0,
    'rate falls to 0 once traffic stops',
  );
  assert.equal(sampleValue(second.metrics, 'netprobe_interface_active', { interface: link.a }), 1);
  assert.equal(sampleValue(second.metrics, 'netprobe_interface_active', { interface: idle.a }), 0);
  assert.equal(sampleValue(second.metrics, 'netprobe_up'), 1);
  assert.deepEqual(labelSets(second.metrics, 'netprobe_source_info'), [{ source: 'ebpf', attach_mode: 'tcx' }]);

  assert.equal(await promtoolCheck(second.metrics), '', 'promtool check metrics is clean');

  const health = await fetchInNetns(left, `http://127.0.0.1:${np.port}/health`);
  assert.equal(health.status, 200);
  const body = JSON.parse(health.body.toString()) as { status: string; timestamp: string; server: Record<string, unknown> };
  assert.equal(body.status, 'ok');
  assert.match(body.timestamp, RFC3339);
  assert.equal(body.server.running, true);
  assert.equal(body.server.port, np.port);
  for (const field of ['requests', 'metrics', 'collections']) assert.equal(typeof body.server[field], 'number', field);
  assert.ok((body.server.collections as number) >= 5);
  assert.match(body.server.last_collection as string, RFC3339);

  const overview = await fetchInNetns(left, `http://127.0.0.1:${np.port}/`);
  assert.equal(overview.status, 200);
  assert.match(String(overview.headers['content-type']), /^text\/html/);
  const html = overview.body.toString();
  for (const text of [VERSION, 'ebpf', 'tcx', link.a, 'href="/metrics"', 'href="/health"'])
    assert.ok(html.includes(text), `/ shows ${text}`);

  const gzipped = await fetchInNetns(left, `http://127.0.0.1:${np.port}/metrics`, { headers: { 'Accept-Encoding': 'gzip' } });
  assert.equal(gzipped.headers['content-encoding'], 'gzip');
  assert.match(gunzipSync(gzipped.body).toString(), /^netprobe_up 1$/m);
  const plain = await fetchInNetns(left, `http://127.0.0.1:${np.port}/metrics`);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');

  const openMetrics = await fetchInNetns(left, `http://127.0.0.1:${np.port}/metrics`, {
    headers: { Accept: 'application/openmetrics-text; version=1.0.0' },
  });
  assert.match(String(openMetrics.headers['content-type']), /^application\/openmetrics-text; version=1\.0\.0/);
  assert.ok(openMetrics.body.toString().endsWith('# EOF\n'), 'OpenMetrics ends with # EOF');

  assert.equal(await stop(np), 0, `exit status 0 on SIGTERM:\n${np.output()}`);
  assert.deepEqual(await attachedInterfaces(left), [], 'nothing left attached');
});

test('interface filter, active-only and --ebpf.exclude hide what they should', async () => {
  const np = await start([
    '--collector.interval=500ms',
    '--ebpf.exclude=lo',
    `--collector.interface-filter=${link.a},${idle.a}`,
    '--collector.active-only',
  ]);
  assert.deepEqual(await attachedInterfaces(left), [idle.a, idle.b, link.a].sort(), 'lo is excluded from attaching');
  await sleep(1_000);
  const quiet = await scrape(np);
  assert.equal(sampleValue(quiet, 'netprobe_attached_interfaces'), 3);
  assert.deepEqual(labelSets(quiet, 'netprobe_tc_packets_total'), [], 'no interface active yet, so none exported');

  await sendDatagrams(3);
  let busy = quiet;
  const sentPackets = (): number => sampleValue(busy, 'netprobe_tc_packets_total', { interface: link.a, direction: 'egress' }) ?? 0;
  for (let attempt = 0; attempt < 20 && sentPackets() < 3; attempt++) {
    await sleep(250);
    busy = await scrape(np);
  }
  const exported = new Set(labelSets(busy, 'netprobe_tc_packets_total').map((labels) => labels.interface));
  assert.deepEqual(
    [...exported],
    [link.a],
    `only the active, matching interface is exported (idle ${idle.a} and filtered ${idle.b} are not)`,
  );
  assert.ok(sentPackets() >= 3, 'the datagrams are counted');
  assert.equal(await stop(np), 0);
  assert.deepEqual(await attachedInterfaces(left), []);
});

test('--check prints what would be exported, detaches and exits 0', async () => {
  const out = await left.exec(process.execPath, ['--import', 'tsx', CLI, '--check', '--source=ebpf', '--log.level=warn'], 60_000);
  for (const family of CONTRACT_FAMILIES) assert.match(out, new RegExp(`^# TYPE ${family} `, 'm'), family);
  assert.notEqual(sampleValue(out, 'netprobe_tc_packets_total', { interface: link.a, direction: 'ingress' }), undefined);
  assert.deepEqual(await attachedInterfaces(left), []);
});

test('--check without the privileges eBPF needs: exit 1 with the reason (ebpf) or the netdev fallback with a warning (auto); invalid input exits 2', async () => {
  const unprivileged = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
  const failure = await left
    .exec('setpriv', [...unprivileged, ...cliCommand(['--check', '--source=ebpf', '--log.format=json'], unprivileged).flat()], 60_000)
    .then(
      () => assert.fail('--check succeeded without privileges'),
      (e: { code?: number; stderr?: string }) => e,
    );
  assert.equal(failure.code, 1, failure.stderr);
  assert.match(failure.stderr ?? '', /"level":"error".*check failed: .*CAP_BPF/);
  assert.doesNotMatch(failure.stderr ?? '', /\n\s+at /, 'no stack trace');

  // --source=auto: the same failure becomes a warning with the reason, and the kernel's own counters are exported.
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(
      'ip',
      ['netns', 'exec', left.name, 'setpriv', ...unprivileged, ...cliCommand(['--check', '--source=auto'], unprivileged).flat()],
      { timeout: 60_000 },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out, stderr: err })),
    ),
  );
  const warnings = stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: string; msg: string; reason?: string })
    .filter((entry) => entry.level === 'warn');
  assert.equal(warnings.length, 1, stderr);
  assert.match(warnings[0]?.msg ?? '', /eBPF counters unavailable, falling back to the kernel's interface statistics/);
  assert.match(warnings[0]?.reason ?? '', /EPERM.*CAP_BPF and CAP_NET_ADMIN/);
  assert.deepEqual(labelSets(stdout, 'netprobe_source_info'), [{ source: 'netdev', attach_mode: 'none' }]);
  assert.notEqual(sampleValue(stdout, 'netprobe_tc_packets_total', { interface: link.a, direction: 'ingress' }), undefined);

  const invalid = await left.exec(process.execPath, ['--import', 'tsx', CLI, '--web.listen-address=:99999'], 30_000).then(
    () => assert.fail('invalid input was accepted'),
    (e: { code?: number; stderr?: string }) => e,
  );
  assert.equal(invalid.code, 2);
  assert.equal(invalid.stderr, 'netprobe: --web.listen-address=":99999": port 99999 is out of range: must be from 0 to 65535\n');
});

test('a fatal start error (port taken) is one log line and exit 1, and leaves nothing of its own attached', async () => {
  const first = await start([]);
  const attachedByFirst = await census(left);
  const failure = await left
    .exec(
      process.execPath,
      ['--import', 'tsx', CLI, '--source=ebpf', `--web.listen-address=127.0.0.1:${first.port}`, '--log.format=json'],
      60_000,
    )
    .then(
      () => assert.fail('a second exporter started on a taken port'),
      (e: { code?: number; stderr?: string }) => e,
    );
  assert.equal(failure.code, 1, failure.stderr);
  const errors = (failure.stderr ?? '').split('\n').filter((line) => line.includes('"level":"error"'));
  assert.equal(errors.length, 1, failure.stderr);
  assert.match(errors[0] as string, new RegExp(`cannot start: cannot listen on 127\\.0\\.0\\.1:${first.port}: EADDRINUSE`));
  assert.deepEqual(await census(left), attachedByFirst, "only the first exporter's programs remain");
  assert.equal(await stop(first), 0);
  assert.deepEqual(await attachedInterfaces(left), []);
});
