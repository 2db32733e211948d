/**
 * A real Prometheus scrapes a running netprobe while bounded iperf3 traffic
 * flows over a veth pair; the seed's four recommended queries, asked through
 * Prometheus's HTTP API, must agree with the kernel's own interface counters.
 * The rules file is loaded too: every rule evaluates without error, no alert
 * fires on a healthy exporter, and every dashboard query returns data.
 *
 * Layout: namespace "left" runs netprobe and Prometheus (127.0.0.1:9090, 1 s
 * scrape and rule interval); iperf3 sends from left to right over the veth
 * pair. netprobe is the real CLI run the way deploy/kubernetes/daemonset.yaml
 * runs it: the DaemonSet's args (--source=ebpf, port 8081) and, through
 * setpriv, only the DaemonSet's capabilities (uid 0, bounding set BPF and
 * NET_ADMIN, no_new_privs) — so this also proves those two suffice.
 * Everything started here is stopped here, namespaces are deleted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { twoHosts, type Netns } from '../support/netns.js';
import {
  DEPLOY_DIR,
  RULES_PATH,
  dashboardQueries,
  loadDashboard,
  loadRules,
  metricNames,
  substituteGrafanaVariables,
} from '../support/deploy-artefacts.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const NETPROBE = '127.0.0.1:8081';
const PROMETHEUS = '127.0.0.1:9090';
/** Length of the traffic run, and the window the rates are checked over (inside it, away from its edges). */
const TRAFFIC_SECONDS = 20;
const WINDOW_START_S = 3;
const WINDOW_END_S = 17;
const WINDOW = `${WINDOW_END_S - WINDOW_START_S}s`;
/**
 * Prometheus's rate over the window vs the kernel's counter delta over the
 * same wall-clock window. They differ because netprobe refreshes its counters
 * every 250 ms and Prometheus samples them every 1 s, so each end of the
 * Prometheus window lags the kernel sample by up to ~1.25 s, which rate()
 * extrapolates over. With steady paced traffic over a 14 s window the
 * difference seen here is 0.1-2 % (most on the small ACK stream; up to 5 %
 * with an 8 s window). 10 % leaves room for a busy machine while still
 * catching a wrong series, a swapped direction, double counting or a unit error.
 */
const TOLERANCE = 0.1;

/** Capability numbers (linux/capability.h) of those a DaemonSet might add. */
const CAPABILITY_BITS: Record<string, number> = { NET_ADMIN: 12, SYS_ADMIN: 21, SYS_RESOURCE: 24, PERFMON: 38, BPF: 39 };

/** The netprobe container of the DaemonSet: its args and added capabilities. */
async function daemonSetContainer(): Promise<{ args: string[]; capabilities: string[] }> {
  const ds = parseYaml(await readFile(join(DEPLOY_DIR, 'kubernetes', 'daemonset.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: Array<{ args?: string[]; securityContext?: { capabilities?: { add?: string[] } } }> } } };
  };
  const container = ds.spec.template.spec.containers[0];
  assert.ok(container);
  return { args: container.args ?? [], capabilities: container.securityContext?.capabilities?.add ?? [] };
}

type PromVector = Array<{ metric: Record<string, string>; value: [number, string] }>;

/** Runs `fetch` inside the namespace (Prometheus and netprobe listen on its loopback). */
async function fetchIn(ns: Netns, url: string): Promise<{ status: number; body: string }> {
  const script =
    'fetch(process.argv[1]).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { process.stdout.write(JSON.stringify({ status: 0, body: String(e) })); })';
  return JSON.parse(await ns.exec('node', ['-e', script, url], 15_000)) as { status: number; body: string };
}

async function promApi<T>(ns: Netns, path: string, params: Record<string, string> = {}): Promise<T> {
  const query = new URLSearchParams(params).toString();
  const { status, body } = await fetchIn(ns, `http://${PROMETHEUS}/api/v1/${path}${query ? `?${query}` : ''}`);
  const parsed = JSON.parse(body) as { status: string; data: T; error?: string };
  assert.equal(status, 200, `${path} ${query}: ${body}`);
  assert.equal(parsed.status, 'success', `${path} ${query}: ${parsed.error ?? ''}`);
  return parsed.data;
}

async function instantQuery(ns: Netns, query: string, time: number): Promise<PromVector> {
  const data = await promApi<{ resultType: string; result: PromVector }>(ns, 'query', { query, time: time.toFixed(3) });
  assert.equal(data.resultType, 'vector', query);
  return data.result;
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Kernel counters of every interface of the namespace, with the wall-clock time they were read. */
async function kernelStats(
  ns: Netns,
): Promise<{ at: number; links: Map<string, { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number }> }> {
  const at = Date.now() / 1000;
  const links = JSON.parse(await ns.ip(['-j', '-s', 'link', 'show'])) as Array<{
    ifname: string;
    stats64: { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } };
  }>;
  return {
    at,
    links: new Map(
      links.map((l) => [
        l.ifname,
        { rxBytes: l.stats64.rx.bytes, txBytes: l.stats64.tx.bytes, rxPackets: l.stats64.rx.packets, txPackets: l.stats64.tx.packets },
      ]),
    ),
  };
}

async function sleepUntil(unixSeconds: number): Promise<void> {
  await sleep(Math.max(0, unixSeconds * 1000 - Date.now()));
}

/** Asserts Prometheus's answer is within TOLERANCE of the kernel's; returns the comparison for the test's diagnostics. */
function assertClose(actual: number, expected: number, what: string): string {
  assert.ok(expected > 0, `${what}: expected a positive kernel rate`);
  const error = Math.abs(actual - expected) / expected;
  const comparison = `${what}: Prometheus ${actual.toFixed(1)}, kernel ${expected.toFixed(1)} (off by ${(error * 100).toFixed(2)} %)`;
  assert.ok(error <= TOLERANCE, `${comparison}, tolerance ${TOLERANCE * 100} %`);
  return comparison;
}

/** Stops a child started here (SIGTERM, then SIGKILL after a bound); resolves to its exit code. */
async function stop(child: ChildProcess | undefined, boundMs = 8_000): Promise<number | null> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
  const [code] = await exited;
  clearTimeout(timer);
  return code;
}

function collectOutput(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return () => out.slice(-4000);
}

test(
  "a real Prometheus scraping netprobe answers the seed's queries with the kernel's numbers",
  { skip: process.getuid?.() !== 0 ? 'needs root (BPF, network namespaces)' : false, timeout: 400_000 },
  async (t) => {
    const hosts = await twoHosts('npe2e');
    const { left, right, link } = hosts;
    const dataDir = await mkdtemp(join(tmpdir(), 'netprobe-prom-'));
    let netprobe: ChildProcess | undefined;
    let prometheus: ChildProcess | undefined;
    let iperfServer: ChildProcess | undefined;
    t.after(async () => {
      await stop(iperfServer);
      await stop(prometheus);
      await stop(netprobe);
      await hosts.cleanup();
      await rm(dataDir, { recursive: true, force: true });
    });

    // The link carries the default route: it is the node's uplink, whose traffic node totals are.
    await left.ip(['route', 'add', 'default', 'via', link.addrB, 'dev', link.a]);
    const { args, capabilities } = await daemonSetContainer();
    assert.ok(args.includes('--source=ebpf') && args.includes(`--web.listen-address=:${NETPROBE.split(':')[1]}`), args.join(' '));
    const bounding = ['-all', ...capabilities.map((c) => `+${c.toLowerCase()}`)].join(',');
    netprobe = left.spawn('setpriv', [
      `--bounding-set=${bounding}`,
      '--inh-caps=-all',
      '--no-new-privs',
      '--',
      'node',
      '--import',
      'tsx',
      CLI,
      // Without the DaemonSet's pin path: this test must never pin into the machine's /sys/fs/bpf
      // (pinning is covered by ebpf-persistence and ebpf-upgrade, on private bpffs instances).
      ...args.filter((a) => !a.startsWith('--ebpf.pin-path')),
      '--collector.interval=250ms',
      '--log.level=warn',
    ]);
    const netprobeOutput = collectOutput(netprobe);
    await waitFor('netprobe /health', 90_000, async () => (await fetchIn(left, `http://${NETPROBE}/health`)).status === 200).catch(
      (e: unknown) => {
        throw new Error(`${String(e)}\nnetprobe output:\n${netprobeOutput()}`);
      },
    );

    // It really runs with nothing but the DaemonSet's capabilities, less PERFMON: the drop meter
    // needs it only to load, and netprobe drops it after attaching (--capabilities.keep).
    assert.ok(capabilities.includes('PERFMON'), `the DaemonSet grants PERFMON: ${capabilities.join(',')}`);
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(await readFile(`/proc/${netprobe.pid}/status`, 'utf8'))?.[1];
    assert.equal(
      BigInt(`0x${capEff}`),
      capabilities.filter((c) => c !== 'PERFMON').reduce((mask, c) => mask | (1n << BigInt(CAPABILITY_BITS[c] ?? -1)), 0n),
    );

    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [RULES_PATH],
      scrape_configs: [{ job_name: 'netprobe', metrics_path: '/metrics', static_configs: [{ targets: [NETPROBE] }] }],
    };
    const configPath = join(dataDir, 'prometheus.yml');
    await writeFile(configPath, JSON.stringify(config)); // JSON is YAML
    prometheus = left.spawn('prometheus', [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dataDir, 'tsdb')}`,
      `--web.listen-address=${PROMETHEUS}`,
      '--log.level=warn',
    ]);
    const prometheusOutput = collectOutput(prometheus);
    await waitFor('Prometheus ready', 90_000, async () => (await fetchIn(left, `http://${PROMETHEUS}/-/ready`)).status === 200).catch(
      (e: unknown) => {
        throw new Error(`${String(e)}\nprometheus output:\n${prometheusOutput()}`);
      },
    );

    // The target is up, with no scrape error.
    await waitFor('the netprobe target to be up', 60_000, async () => {
      const { activeTargets } = await promApi<{
        activeTargets: Array<{ health: string; lastError: string; labels: Record<string, string> }>;
      }>(left, 'targets');
      return activeTargets.length === 1 && activeTargets[0]?.health === 'up';
    });
    const { activeTargets } = await promApi<{
      activeTargets: Array<{ health: string; lastError: string; labels: Record<string, string> }>;
    }>(left, 'targets');
    assert.deepEqual(
      activeTargets.map((x) => ({ health: x.health, lastError: x.lastError, job: x.labels.job })),
      [{ health: 'up', lastError: '', job: 'netprobe' }],
    );

    // The counters come from the eBPF programs, not the netdev fallback.
    const sources = await instantQuery(left, 'netprobe_source_info', Date.now() / 1000);
    assert.deepEqual(
      sources.map((s) => s.metric.source),
      ['ebpf'],
    );

    // Bounded, paced traffic from left to right: steady rates to compare against.
    iperfServer = right.spawn('iperf3', ['-s', '-1', '-B', link.addrB]);
    await waitFor('iperf3 server', 60_000, async () => (await right.exec('ss', ['-Htln', `src ${link.addrB}:5201`])).includes('5201'));
    const started = Date.now() / 1000;
    const client = left.exec(
      'iperf3',
      ['-c', link.addrB, '-t', String(TRAFFIC_SECONDS), '-b', '200M', '--connect-timeout', '3000'],
      (TRAFFIC_SECONDS + 15) * 1000,
    );
    await sleepUntil(started + WINDOW_START_S);
    const before = await kernelStats(left);
    await sleepUntil(before.at + WINDOW_END_S - WINDOW_START_S);
    const after = await kernelStats(left);
    await client;
    assert.ok(after.at - started < TRAFFIC_SECONDS - 1, 'the window closed while traffic still flowed');
    const elapsed = after.at - before.at;
    const kernelRate = (ifname: string, key: 'rxBytes' | 'txBytes' | 'rxPackets' | 'txPackets'): number =>
      ((after.links.get(ifname)?.[key] ?? 0) - (before.links.get(ifname)?.[key] ?? 0)) / elapsed;
    // Samples up to `after.at` must be ingested before asking about that instant: wait until
    // Prometheus holds a later scrape of netprobe (a state, not a time).
    const at = after.at;
    await waitFor('a scrape after the window', 60_000, async () => {
      const latest = await instantQuery(left, 'timestamp(netprobe_up)', Date.now() / 1000);
      return Number(latest[0]?.value[1]) > at + 1;
    });
    const window = `${Math.round(elapsed)}s`;
    assert.equal(window, WINDOW);

    // 1. rate(netprobe_tc_bytes_total[...]): per interface and direction; TC ingress is the kernel's rx, egress its tx.
    const rates = await instantQuery(left, `rate(netprobe_tc_bytes_total[${window}])`, at);
    const rateOf = (direction: string): number =>
      Number(rates.find((s) => s.metric.interface === link.a && s.metric.direction === direction)?.value[1]);
    t.diagnostic(
      assertClose(
        rateOf('egress'),
        kernelRate(link.a, 'txBytes'),
        `rate(netprobe_tc_bytes_total{interface="${link.a}",direction="egress"})`,
      ),
    );
    t.diagnostic(
      assertClose(
        rateOf('ingress'),
        kernelRate(link.a, 'rxBytes'),
        `rate(netprobe_tc_bytes_total{interface="${link.a}",direction="ingress"})`,
      ),
    );
    assert.ok(kernelRate(link.a, 'txBytes') > 5e6, `iperf3 really sent (${kernelRate(link.a, 'txBytes').toFixed(0)} B/s)`);
    const exported = new Set(rates.map((s) => s.metric.interface as string));

    // 2. sum(netprobe_interface_active): every exported interface that carried a packet (the namespace is younger than the 5 min window).
    const active = await instantQuery(left, 'sum(netprobe_interface_active)', at);
    const carriedTraffic = [...exported].filter((name) => {
      const s = after.links.get(name);
      return s !== undefined && s.rxPackets + s.txPackets > 0;
    });
    assert.ok(carriedTraffic.includes(link.a));
    assert.equal(Number(active[0]?.value[1]), carriedTraffic.length, `active interfaces: ${carriedTraffic.join(', ')}`);

    // 3. sum(rate(netprobe_tc_bytes_total[...])) by (direction): the sum over every exported interface.
    const byDirection = await instantQuery(left, `sum(rate(netprobe_tc_bytes_total[${window}])) by (direction)`, at);
    const sumOf = (direction: string): number => Number(byDirection.find((s) => s.metric.direction === direction)?.value[1]);
    const kernelSum = (key: 'rxBytes' | 'txBytes'): number => [...exported].reduce((sum, name) => sum + kernelRate(name, key), 0);
    t.diagnostic(assertClose(sumOf('egress'), kernelSum('txBytes'), 'sum by (direction) egress'));
    t.diagnostic(assertClose(sumOf('ingress'), kernelSum('rxBytes'), 'sum by (direction) ingress'));

    // 3b. Node totals: the same sum joined with the uplink role (the link, alone) — docs/metrics.md.
    const uplinks = await instantQuery(
      left,
      `sum by (direction) (rate(netprobe_tc_bytes_total[${window}]) * on (ifindex, interface) group_left (role) netprobe_interface_info{role="uplink"})`,
      at,
    );
    const uplinkOf = (direction: string): number => Number(uplinks.find((s) => s.metric.direction === direction)?.value[1]);
    t.diagnostic(assertClose(uplinkOf('egress'), kernelRate(link.a, 'txBytes'), 'node totals (uplinks) egress'));
    t.diagnostic(assertClose(uplinkOf('ingress'), kernelRate(link.a, 'rxBytes'), 'node totals (uplinks) ingress'));

    // 4. topk(5, sum(rate(netprobe_tc_packets_total[...])) by (interface)): the veth leads, with both directions' packets.
    const top = await instantQuery(left, `topk(5, sum(rate(netprobe_tc_packets_total[${window}])) by (interface))`, at);
    assert.ok(top.length >= 1 && top.length <= 5);
    const leader = [...top].sort((x, y) => Number(y.value[1]) - Number(x.value[1]))[0];
    assert.equal(leader?.metric.interface, link.a);
    t.diagnostic(
      assertClose(Number(leader?.value[1]), kernelRate(link.a, 'rxPackets') + kernelRate(link.a, 'txPackets'), `packet rate of ${link.a}`),
    );

    // The rules file: every rule evaluates cleanly, and a healthy eBPF exporter fires no alert.
    const { groups } = await promApi<{
      groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string; state?: string }> }>;
    }>(left, 'rules');
    const rules = groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 10, `${rules.length} rules loaded`);
    for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
    assert.deepEqual(
      rules.filter((r) => r.state === 'firing').map((r) => r.name),
      [],
    );

    // Every metric the rules and the dashboard name is one this exporter really exports.
    const exportedNames = new Set(
      (await instantQuery(left, 'group by (__name__) ({__name__=~"netprobe_.+|up"})', Date.now() / 1000)).map((s) => s.metric.__name__),
    );
    // Families declared without series (the namespace totals on a node with no pod yet) count as exported.
    const declared = (await fetchIn(left, `http://${NETPROBE}/metrics`)).body.matchAll(/^# TYPE (\S+) /gm);
    const withSeries = new Set(exportedNames);
    for (const [, name] of declared) exportedNames.add(name);
    const recorded = new Set(rules.map((r) => r.name));
    const dashboard = await loadDashboard();
    const used = [
      ...(await loadRules()).groups.flatMap((g) => g.rules).map((r) => r.expr),
      ...dashboardQueries(dashboard).map((q) => q.expr),
    ].flatMap(metricNames);
    assert.deepEqual(
      [...new Set(used)].filter((name) => !exportedNames.has(name) && !recorded.has(name)),
      [],
      'metrics used but not exported',
    );

    // Every dashboard query, as Grafana would send it, returns data (but the pod panels, which need pods on the node).
    for (const q of dashboardQueries(dashboard)) {
      if (q.expr.includes('pod!=""') || metricNames(q.expr).some((name) => !withSeries.has(name) && !recorded.has(name))) {
        t.diagnostic(`${q.where}: no series without pods on this node`);
        continue;
      }
      const result = await instantQuery(left, substituteGrafanaVariables(q.expr, '4s'), Date.now() / 1000);
      assert.ok(result.length > 0, `${q.where} returned nothing: ${q.expr}`);
    }

    // netprobe stops cleanly on SIGTERM.
    assert.equal(await stop(netprobe), 0, netprobeOutput());
  },
);
