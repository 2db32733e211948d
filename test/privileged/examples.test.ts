/**
 * The two examples, each started briefly inside a fresh network namespace
 * (EXAMPLE_RUN_MS shortens the five-minute run) and scraped on its port.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Netns, uniqueTag, vethBetween, type VethPair } from '../support/netns.js';
import { labelSets, sampleValue } from '../support/exposition-parse.js';
import { quietIpv6 } from '../support/traffic.js';
import { attachedInterfaces } from '../support/tc-attachments.js';
import { fetchInNetns } from '../support/netns-http.js';

const example = (name: string): string => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let left: Netns;
let right: Netns;
let link: VethPair;
let wlanPeer: string;
const running = new Set<ChildProcess>();

before(async () => {
  left = await Netns.create('npxl');
  right = await Netns.create('npxr');
  await quietIpv6(left, right);
  // The custom example exports eth0 and wlan0: name the namespace's interfaces so.
  link = await vethBetween(left, right, { a: 'eth0' });
  wlanPeer = `npw${uniqueTag()}`;
  await left.ip(['link', 'add', 'wlan0', 'type', 'veth', 'peer', 'name', wlanPeer]);
});

afterEach(async () => {
  for (const child of running) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  running.clear();
});

after(async () => {
  await left?.delete();
  await right?.delete();
});

interface RunningExample {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | string>;
}

/** Starts an example in `left` and waits until its exporter listens on `port`. */
async function startExample(name: string, port: number, runMs: number): Promise<RunningExample> {
  const child = left.spawn(process.execPath, ['--import', 'tsx', example(name)], {
    env: { ...process.env, EXAMPLE_RUN_MS: String(runMs) },
  });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const deadline = Date.now() + 30_000;
  while (!new RegExp(`"port":${port}[^\\n]*"msg":"exporter listening"`).test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${out}`);
    await sleep(100);
  }
  return { child, output: () => out, exit };
}

async function metrics(port: number): Promise<string> {
  const response = await fetchInNetns(left, `http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  return response.body.toString();
}

test('basic.ts: defaults on port 8081, every interface, runs for its time, then detaches and exits 0', async () => {
  const run = await startExample('basic.ts', 8081, 6_000);
  const text = await metrics(8081);
  const exported = labelSets(text, 'netprobe_tc_packets_total').map((labels) => labels.interface ?? '');
  assert.deepEqual([...new Set(exported)].sort(), ['eth0', 'lo', 'wlan0', wlanPeer].sort(), 'every interface of the namespace');
  assert.deepEqual(labelSets(text, 'netprobe_source_info'), [{ source: 'ebpf', attach_mode: 'tcx' }]);
  const health = await fetchInNetns(left, 'http://127.0.0.1:8081/health');
  assert.equal(health.status, 200);
  assert.equal((JSON.parse(health.body.toString()) as { status: string }).status, 'ok');

  assert.equal(await run.exit, 0, run.output());
  assert.match(run.output(), /^Exporter stopped$/m);
  assert.deepEqual(await attachedInterfaces(left), []);
});

test('custom-config.ts: port 9090, only eth0/wlan0, only while active, debug logs; Ctrl-C detaches and exits 0', async () => {
  const run = await startExample('custom-config.ts', 9090, 60_000);
  assert.deepEqual(labelSets(await metrics(9090), 'netprobe_tc_packets_total'), [], 'nothing active yet');

  // Traffic on eth0 only; then wait for a collection (every 3 s) to see it.
  const script = `const s = require('node:dgram').createSocket('udp4'); s.send('netprobe', 9, '${link.addrB}', () => s.close());`;
  await left.exec(process.execPath, ['-e', script]);
  let text = '';
  for (let attempt = 0; attempt < 30; attempt++) {
    text = await metrics(9090);
    if (labelSets(text, 'netprobe_tc_packets_total').length > 0) break;
    await sleep(250);
  }
  const exported = new Set(labelSets(text, 'netprobe_tc_packets_total').map((labels) => labels.interface));
  assert.deepEqual([...exported], ['eth0'], 'wlan0 matches the filter but is idle; lo and the others do not match');
  assert.ok((sampleValue(text, 'netprobe_tc_packets_total', { interface: 'eth0', direction: 'egress' }) ?? 0) >= 1);
  assert.match(run.output(), /"level":"debug"/, 'debug logs');

  run.child.kill('SIGINT');
  assert.equal(await run.exit, 0, run.output());
  assert.deepEqual(await attachedInterfaces(left), []);
});
