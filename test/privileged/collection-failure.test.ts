/**
 * Collection failure: while every kernel read fails (injected in the fixture
 * around the real EbpfManager), netprobe_up is 0 and the error counter
 * climbs at once, /health turns non-ok (503) once the last good collection is
 * older than max(3 × interval, 30 s), the server keeps answering every route
 * throughout (a scraper sees no failed request), and everything recovers by
 * itself when the cause goes away — with counters still exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { twoHosts } from '../support/netns.js';
import { fetchIn, probe } from '../support/netns-http.js';
import { FAULTY_EXPORTER, startNetprobe } from '../support/netprobe-process.js';
import { sampleValue } from '../support/exposition-parse.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';
import type { LoadResult } from '../support/netns-http.js';

const INTERVAL_MS = 500;
const FRESHNESS_MS = 30_000; // max(3 × 500 ms, 30 s)

test(
  'kernel reads fail: up 0, /health 503 after the freshness limit, server answers throughout, recovers by itself',
  { timeout: 110_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'np-fault-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const hosts = await twoHosts('npfail');
    t.after(() => hosts.cleanup());
    await quietIpv6(hosts.left);
    await quietIpv6(hosts.right);
    await staticNeighbours(hosts.left, hosts.right, hosts.link);
    const fault = join(dir, 'fail');
    const np = await startNetprobe(hosts.left, [`--fault-file=${fault}`, `--interval=${INTERVAL_MS}`], { script: FAULTY_EXPORTER });
    t.after(() => np.stop('SIGKILL'));
    const get = (path: string): ReturnType<typeof fetchIn> => fetchIn(hosts.left, np.port, path);
    const health = async (): Promise<{ http: number | undefined; status: string; up: boolean; errors: number }> => {
      const r = await get('/health');
      const j = JSON.parse(r.body) as { status: string; collection: { up: boolean; errors: number } };
      return { http: r.status, status: j.status, up: j.collection.up, errors: j.collection.errors };
    };

    // A baseline taken when nothing moves: a packet that crossed the link before
    // netprobe attached (IPv6 chatter before quietIpv6) is the kernel's alone.
    const start = await settled(
      () => hosts.left.linkStats(hosts.link.a),
      () => get('/metrics'),
    );
    const healthy = await health();
    assert.deepEqual([healthy.http, healthy.status, healthy.up], [200, 'ok', true]);
    assert.equal(sampleValue((await get('/metrics')).body, 'netprobe_up'), 1);

    // Fail, with a scraper running for the whole outage.
    await writeFile(fault, '');
    const failStarted = Date.now();
    const scraper = probe<LoadResult>(
      hosts.left,
      { kind: 'load', url: `http://127.0.0.1:${np.port}/metrics`, concurrency: 2, durationMs: FRESHNESS_MS + 6000 },
      90_000,
    );
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS));
    const early = await get('/metrics');
    assert.equal(early.status, 200, 'the last exposition is still served');
    assert.equal(sampleValue(early.body, 'netprobe_up'), 0);
    const errors1 = sampleValue(early.body, 'netprobe_collection_errors_total') ?? 0;
    assert.ok(errors1 >= 1);
    const earlyHealth = await health();
    assert.equal(earlyHealth.up, false);
    assert.equal(earlyHealth.http, 200, 'still within the freshness limit');

    // Past the freshness limit: /health says so, every route still answers.
    await new Promise((r) => setTimeout(r, Math.max(0, failStarted + FRESHNESS_MS + 2000 - Date.now())));
    const stale = await health();
    assert.equal(stale.http, 503);
    assert.notEqual(stale.status, 'ok');
    assert.ok(stale.errors > errors1, 'errors keep being counted');
    assert.equal((await get('/')).status, 200);
    const load = await scraper;
    assert.equal(load.failed, 0, JSON.stringify(load.errors));
    assert.equal(load.malformed, 0, JSON.stringify(load.errors));
    const downFor = Date.now() - failStarted;

    // The cause goes away: recovery by itself, and counting never stopped in the kernel.
    await rm(fault);
    await sendUdp(hosts.right, hosts.link.addrA, 300);
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_MS));
    const back = await health();
    assert.deepEqual([back.http, back.status, back.up], [200, 'ok', true]);
    const body = (await get('/metrics')).body;
    assert.equal(sampleValue(body, 'netprobe_up'), 1);
    const kernel = await hosts.left.linkStats(hosts.link.a);
    const ingress = (metrics: string, name: string): number =>
      sampleValue(metrics, name, { interface: hosts.link.a, direction: 'ingress' }) ?? NaN;
    assert.equal(
      ingress(body, 'netprobe_tc_packets_total') - ingress(start.metrics, 'netprobe_tc_packets_total'),
      kernel.rx.packets - start.kernel.rx.packets,
    );
    assert.ok(kernel.rx.packets - start.kernel.rx.packets >= 300, 'the traffic arrived');
    assert.equal(
      ingress(body, 'netprobe_tc_bytes_total') - ingress(start.metrics, 'netprobe_tc_bytes_total'),
      kernel.rx.bytes - start.kernel.rx.bytes,
    );
    assert.match(np.output(), /injected fault/, 'the failure is logged with its cause');
    t.diagnostic(
      `outage ${(downFor / 1000).toFixed(1)} s: ${stale.errors} failed collections, /health 503 after ${FRESHNESS_MS / 1000} s, ${load.scrapes} scrapes meanwhile with 0 failed; recovered within ${4 * INTERVAL_MS} ms, counters exact`,
    );
    assert.equal(await np.stop('SIGTERM'), 0);
  },
);

type LinkStats = { rx: { packets: number; bytes: number } };

/** Kernel stats and a scrape two intervals later, taken when the kernel's counts did not move in between. */
async function settled(
  stats: () => Promise<LinkStats>,
  scrape: () => Promise<{ body: string }>,
): Promise<{ kernel: LinkStats; metrics: string }> {
  for (let attempt = 0; attempt < 15; attempt++) {
    const before = await stats();
    await new Promise((r) => setTimeout(r, 2 * INTERVAL_MS + 100));
    const metrics = (await scrape()).body;
    const after = await stats();
    if (before.rx.packets === after.rx.packets) return { kernel: after, metrics };
  }
  throw new Error('traffic never settled');
}
