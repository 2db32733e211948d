import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Exporter, ExporterConfigError, ExporterStateError } from '../../src/exporter/index.js';
import type { CounterRow, CounterSource } from '../../src/source/counter-source.js';
import { silentLogger } from '../../src/log/logger.js';
import { NetprobeError } from '../../src/errors/index.js';

/** A fake source whose interfaces and counters the test sets directly. */
class FakeSource implements CounterSource {
  readonly kind = 'ebpf' as const;
  readonly attachMode = 'tcx' as const;
  rows: CounterRow[] = [];
  failWith: Error | undefined;
  reads = 0;
  closed = false;
  private listeners = new Set<() => void>();

  get interfaceCount(): number {
    return new Set(this.rows.map((r) => r.ifindex)).size;
  }
  setInterface(ifindex: number, name: string, ingress: bigint, egress: bigint): void {
    this.rows = this.rows.filter((r) => r.ifindex !== ifindex);
    this.rows.push(
      { ifindex, name, direction: 'ingress', packets: ingress, bytes: ingress * 100n, segments: ingress },
      { ifindex, name, direction: 'egress', packets: egress, bytes: egress * 100n, segments: egress },
    );
  }
  readCounters(): CounterRow[] {
    this.reads++;
    if (this.failWith) throw this.failWith;
    return this.rows;
  }
  readSourceStats(): Record<string, bigint> {
    return { uncounted_packets: 7n };
  }
  onInterfacesChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  changed(): void {
    for (const l of this.listeners) l();
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function exporterFor(source: CounterSource, config: ConstructorParameters<typeof Exporter>[1] = {}): Exporter {
  return new Exporter(
    source,
    { ...config, server: { host: '127.0.0.1', port: 0, ...config?.server } },
    { logger: silentLogger(), version: '9.9.9' },
  );
}

async function scrape(exporter: Exporter, path = '/metrics'): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${exporter.port}${path}`);
  return r.text();
}

function value(text: string, series: string): string | undefined {
  return text
    .split('\n')
    .find((l) => l.startsWith(`${series} `))
    ?.slice(series.length + 1);
}

test('start collects before listening: the first scrape already has the interfaces; stop is idempotent and leaves the source open', async (t) => {
  const source = new FakeSource();
  source.setInterface(2, 'eth0', 10n, 20n);
  const exporter = exporterFor(source);
  t.after(() => exporter.stop());
  await exporter.start();
  assert.ok(exporter.port > 0);
  const text = await scrape(exporter);
  assert.equal(value(text, 'netprobe_tc_packets_total{direction="egress",ifindex="2",interface="eth0"}'), '20');
  assert.equal(value(text, 'netprobe_build_info{nodejs_version="' + process.version + '",version="9.9.9"}'), '1');
  assert.equal(value(text, 'netprobe_uncounted_packets_total'), '7');
  const port = exporter.port;
  await exporter.stop();
  await exporter.stop();
  assert.equal(source.closed, false, 'the caller owns the source');
  assert.equal(source.listenerCount, 0, 'unsubscribed from interface changes');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
});

test('a second start() is an ExporterStateError with a clear message', async (t) => {
  const exporter = exporterFor(new FakeSource());
  t.after(() => exporter.stop());
  await exporter.start();
  await assert.rejects(
    exporter.start(),
    (e: unknown) =>
      e instanceof ExporterStateError &&
      e instanceof NetprobeError &&
      e.code === 'NP_ERR_EXPORTER_STATE' &&
      /already running/.test(e.message),
  );
  await exporter.stop();
  await assert.rejects(exporter.start(), /already stopped/);
});

test('the abort signal stops the exporter', async () => {
  const controller = new AbortController();
  const exporter = exporterFor(new FakeSource());
  await exporter.start(controller.signal);
  const port = exporter.port;
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
  controller.abort();
  await sleep(50);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
  await exporter.stop();
});

test('an interface change is collected promptly (debounced), long before the next interval', { timeout: 10_000 }, async (t) => {
  const source = new FakeSource();
  source.setInterface(1, 'lo', 1n, 1n);
  const exporter = exporterFor(source, { collectInterval: 60_000 });
  t.after(() => exporter.stop());
  await exporter.start();
  source.setInterface(42, 'veth-hot', 0n, 0n);
  source.changed();
  source.changed();
  let text = '';
  for (let i = 0; i < 50 && !text.includes('veth-hot'); i++) {
    await sleep(50);
    text = await scrape(exporter);
  }
  assert.ok(text.includes('interface="veth-hot"'), 'hot-plugged interface exported without waiting for the 60 s interval');
});

test('a failing read: netprobe_up 0, no stale interface data, error counted; recovery by itself', { timeout: 10_000 }, async (t) => {
  const source = new FakeSource();
  source.setInterface(2, 'eth0', 5n, 5n);
  const exporter = exporterFor(source, { collectInterval: 100 });
  t.after(() => exporter.stop());
  await exporter.start();
  source.failWith = new Error('bpf_map_lookup_batch: EPERM');
  await exporter.collectNow();
  let text = await scrape(exporter);
  assert.equal(value(text, 'netprobe_up'), '0');
  assert.ok(!text.includes('interface="eth0"'), 'previous data not served as fresh');
  assert.ok(text.includes('# TYPE netprobe_tc_packets_total counter'), 'families still declared');
  assert.ok(Number(value(text, 'netprobe_collection_errors_total')) >= 1);
  const health = (await (await fetch(`http://127.0.0.1:${exporter.port}/health`)).json()) as {
    status: string;
    collection: { up: boolean; last_error: string };
  };
  assert.equal(health.status, 'ok', 'still fresh: the last success is recent');
  assert.equal(health.collection.up, false);
  assert.match(health.collection.last_error, /EPERM/);
  source.failWith = undefined;
  const readsBefore = source.reads;
  while (source.reads < readsBefore + 2) await sleep(20); // the loop recovers on its own
  text = await scrape(exporter);
  assert.equal(value(text, 'netprobe_up'), '1');
  assert.ok(text.includes('interface="eth0"'));
});

test('filter and active-only through the config', async (t) => {
  const source = new FakeSource();
  source.setInterface(1, 'lo', 1n, 1n);
  source.setInterface(2, 'eth0', 1n, 1n);
  source.setInterface(3, 'eth1', 1n, 1n);
  const exporter = exporterFor(source, { interfaceFilter: ['eth*'], enableActiveOnly: true, collectInterval: 60_000 });
  t.after(() => exporter.stop());
  await exporter.start();
  let text = await scrape(exporter);
  assert.ok(!text.includes('interface='), 'nothing active yet');
  source.setInterface(3, 'eth1', 2n, 1n);
  source.setInterface(1, 'lo', 9n, 9n);
  await exporter.collectNow();
  text = await scrape(exporter);
  const names = new Set([...text.matchAll(/interface="([^"]+)"/g)].map((m) => m[1]));
  assert.deepEqual([...names], ['eth1']);
  assert.equal(value(text, 'netprobe_exported_interfaces'), '1');
  assert.equal(value(text, 'netprobe_attached_interfaces'), '3');
});

test('the exposition is built once per collection: scrapes do not read the source', async (t) => {
  const source = new FakeSource();
  source.setInterface(2, 'eth0', 1n, 1n);
  const exporter = exporterFor(source, { collectInterval: 60_000 });
  t.after(() => exporter.stop());
  await exporter.start();
  const reads = source.reads;
  for (let i = 0; i < 20; i++) await scrape(exporter);
  assert.equal(source.reads, reads);
});

test('invalid config: one ExporterConfigError naming every bad field and what is allowed', () => {
  assert.throws(
    () =>
      new Exporter(
        new FakeSource(),
        {
          server: { port: 70000, path: 'metrics', readTimeout: 0, maxHeaderBytes: 10 },
          collectInterval: 5,
          interfaceFilter: ['eth0', 'a/b', ''],
          logLevel: 'loud' as never,
        },
        { logger: silentLogger() },
      ),
    (e: unknown) => {
      assert.ok(e instanceof ExporterConfigError);
      assert.equal(e.code, 'NP_ERR_EXPORTER_CONFIG');
      const p = e.problems.join('\n');
      for (const field of [
        'server.port=70000',
        'server.path="metrics"',
        'server.readTimeout=0',
        'server.maxHeaderBytes=10',
        'collectInterval=5',
        'interfaceFilter entry "a/b"',
        'interfaceFilter entry ""',
        'logLevel="loud"',
      ]) {
        assert.ok(p.includes(field), `${field} in:\n${p}`);
      }
      assert.equal(e.problems.length, 8);
      return true;
    },
  );
  assert.throws(() => new Exporter(new FakeSource(), { server: { path: '/health' } }, { logger: silentLogger() }), /must not be \/health/);
});

test('listening on a busy port fails with NP_ERR_LISTEN and a hint', async (t) => {
  const first = exporterFor(new FakeSource());
  t.after(() => first.stop());
  await first.start();
  const second = exporterFor(new FakeSource(), { server: { port: first.port } });
  await assert.rejects(
    second.start(),
    (e: unknown) =>
      e instanceof NetprobeError && e.code === 'NP_ERR_LISTEN' && /EADDRINUSE/.test(e.message) && /another process/.test(e.hint ?? ''),
  );
  await second.stop();
});

test('stop() or an abort during start(): start resolves without serving, nothing left listening', async () => {
  const source = new FakeSource();
  const aborted = new AbortController();
  const a = exporterFor(source);
  const starting = a.start(aborted.signal);
  aborted.abort();
  await starting;
  assert.equal(a.port, 0, 'never listened, or closed again');
  assert.equal(source.listenerCount, 0);

  const b = exporterFor(source);
  const startingB = b.start();
  const stopping = b.stop();
  await Promise.all([startingB, stopping]);
  assert.equal(b.port, 0);
  assert.equal(source.listenerCount, 0);
  await assert.rejects(b.start(), ExporterStateError);

  const c = exporterFor(source);
  await c.start(AbortSignal.abort());
  assert.equal(c.port, 0, 'an already aborted signal: not started');
});

test('config: null means all defaults; unknown fields (typos) are errors', () => {
  const exporter = new Exporter(new FakeSource(), null, { logger: silentLogger() });
  assert.equal(exporter.config.server.port, 8081);
  assert.equal(exporter.config.collectInterval, 5000);
  assert.throws(
    () => new Exporter(new FakeSource(), { collectinterval: 3000, server: { prot: 9090 } } as never, { logger: silentLogger() }),
    (e: unknown) =>
      e instanceof ExporterConfigError &&
      e.problems.length === 2 &&
      /collectinterval: unknown field/.test(e.message) &&
      /server\.prot: unknown field/.test(e.message),
  );
});
