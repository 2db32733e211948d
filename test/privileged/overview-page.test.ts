/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The overview page as a person sees it: the real `netprobe` CLI (eBPF
 * source) counts two veth pairs carrying real iperf3 traffic in a test
 * namespace, and a real headless Chromium in that same namespace opens `/`.
 * The numbers on the page equal /metrics of the same collection exactly; the
 * charts hold data points; the page asks nothing of any other host; hostile
 * interface names stay text; the table sorts and filters by keyboard. The
 * test keeps the screenshots in docs/ (light and dark).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { Netns, vethBetween, type VethPair } from '../support/netns.js';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { fixturePath } from '../support/repo-paths.js';
import { quietIpv6 } from '../support/traffic.js';
import { sampleValue } from '../support/exposition-parse.js';
import { haveChromium, launchBrowserIn, type NetnsBrowser } from '../support/browser.js';
import { waitFor } from '../support/wait-for.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
/** Valid interface names (no '/', ':', '%', whitespace) that are markup if ever parsed as HTML. */
const HOSTILE = [`<img>"'&amp;`, '<b>x<i>'];

let left: Netns;
let right: Netns;
let busy: VethPair;
let light: VethPair;
let np: NetprobeProcess;
let nb: NetnsBrowser;
const traffic: ChildProcess[] = [];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Bounded iperf3 traffic: a server in `right`, a client in `left` for `seconds`, started once the server listens. */
async function startTraffic(pair: VethPair, port: number, args: string[], seconds: number): Promise<void> {
  traffic.push(right.spawn('iperf3', ['-s', '-B', pair.addrB, '-p', String(port), '-1']));
  const listening = await waitFor(
    () => right.exec('ss', ['-Hltn', `sport = :${port}`]),
    (out) => out.trim() !== '',
  );
  assert.notEqual(listening.trim(), '', `iperf3 server listens on ${pair.addrB}:${port}`);
  traffic.push(left.spawn('iperf3', ['-c', pair.addrB, '-p', String(port), '-t', String(seconds), '--connect-timeout', '3000', ...args]));
}

before(async () => {
  left = await Netns.create('npol');
  right = await Netns.create('npor');
  await quietIpv6(left, right);
  busy = await vethBetween(left, right);
  // The busy link carries the default route: it is the uplink, whose traffic the node totals are.
  await left.ip(['route', 'add', 'default', 'via', busy.addrB, 'dev', busy.a]);
  light = await vethBetween(left, right);
  await left.ip(['link', 'add', HOSTILE[0]!, 'type', 'veth', 'peer', 'name', HOSTILE[1]!]);
  np = await startNetprobe(left, ['--source=ebpf', '--collector.interval=1s']);
  nb = await launchBrowserIn(left);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  await startTraffic(busy, port, ['-b', '40M'], 100);
  await startTraffic(light, port + 1, ['-u', '-b', '4M', '-l', '600'], 100);
});

after(async () => {
  for (const p of traffic) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await nb?.close();
  await np?.stop('SIGKILL');
  await left?.delete();
  await right?.delete();
});

/** Opens `/` in a fresh context and records every request the page makes. */
async function openPage(scheme: 'light' | 'dark'): Promise<{ page: Page; requests: string[]; failed: string[] }> {
  const context = await nb.newContext(scheme);
  const page = await context.newPage();
  const requests: string[] = [];
  const failed: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('pageerror', (e) => failed.push(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${np.port}/`, { waitUntil: 'load', timeout: 30_000 });
  return { page, requests, failed };
}

/** Waits until every chart holds at least `n` points. */
async function waitForPoints(page: Page, n: number): Promise<void> {
  await page.waitForFunction(
    (min) => ['chart-bytes', 'chart-packets', 'chart-top'].every((id) => Number(document.getElementById(id)?.dataset.points ?? 0) >= min),
    n,
    { timeout: 60_000, polling: 250 },
  );
}

interface PageState {
  collections: number;
  /** By interface name: cell text and exact value (title) by column header. */
  rows: Record<string, Record<string, { text: string; title: string }>>;
  firstRow: string;
}

function readPage(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const tile = [...document.querySelectorAll<HTMLElement>('#trust .tile')].find((t) => t.dataset.name === 'Collections');
    const headers = [...document.querySelectorAll('#interfaces thead th')].map((th) => th.textContent ?? '');
    const rows: Record<string, Record<string, { text: string; title: string }>> = {};
    const trs = [...document.querySelectorAll('#interfaces tbody tr')];
    for (const tr of trs) {
      const cells = [...tr.querySelectorAll('td')];
      const row: Record<string, { text: string; title: string }> = {};
      cells.forEach((td, i) => (row[headers[i]!] = { text: td.textContent ?? '', title: td.title }));
      rows[cells[0]!.textContent ?? ''] = row;
    }
    return {
      collections: Number((tile?.querySelector('dd')?.textContent ?? '').replace(/[^0-9]/g, '')),
      rows,
      firstRow: trs[0]?.querySelector('td')?.textContent ?? '',
    };
  });
}

/** "12.3 k" → 12300: the page's 3-significant-digit SI text. */
function parseSi(text: string): number {
  const m = /^(-?[0-9.]+)(?: ([kMGTPE]))?$/.exec(text);
  assert.ok(m, `a number as the page writes it: ${JSON.stringify(text)}`);
  return Number(m[1]) * 1000 ** (m[2] ? 'kMGTPE'.indexOf(m[2]) + 1 : 0);
}

test('the page shows what /metrics says in the same collection; charts have points; nothing from another host', async (t) => {
  assert.ok(haveChromium(), 'chromium is installed (scripts/install.sh test)');
  const { page, requests, failed } = await openPage('light');
  await waitForPoints(page, 12);
  const origin = `http://127.0.0.1:${np.port}/`;

  // Same collection: the page names the collection it shows ("Collections"); /metrics
  // shows the latest one. The page refreshes every 2 s, so it catches up with the
  // latest collection from time to time: retry until both were read from the same
  // one (never assume how soon), then every number must match exactly.
  let matched = false;
  const deadline = Date.now() + 90_000;
  while (!matched && Date.now() < deadline) {
    const state = await readPage(page);
    const metrics = await page.evaluate(() => fetch('/metrics', { cache: 'no-store' }).then((r) => r.text()));
    if (sampleValue(metrics, 'netprobe_collection_total') !== state.collections) {
      await sleep(100);
      continue;
    }
    matched = true;
    for (const ifname of [busy.a, light.a]) {
      const row = state.rows[ifname];
      assert.ok(row, `${ifname} is in the table`);
      const columns: Array<[string, string, 'ingress' | 'egress']> = [
        ['In B/s', 'netprobe_tc_bytes_per_second', 'ingress'],
        ['Out B/s', 'netprobe_tc_bytes_per_second', 'egress'],
        ['In pkt/s', 'netprobe_tc_packets_per_second', 'ingress'],
        ['Out pkt/s', 'netprobe_tc_packets_per_second', 'egress'],
        ['In bytes', 'netprobe_tc_bytes_total', 'ingress'],
        ['Out bytes', 'netprobe_tc_bytes_total', 'egress'],
      ];
      for (const [column, family, direction] of columns) {
        const expected = sampleValue(metrics, family, { interface: ifname, direction });
        assert.ok(expected !== undefined, `${family}{interface="${ifname}",direction="${direction}"} in /metrics`);
        const cell: { text: string; title: string } = row[column]!;
        assert.equal(Number(cell.title.split(' ')[0]), expected, `${ifname} ${column}: exact value (title) equals /metrics`);
        const shown = parseSi(cell.text);
        assert.ok(Math.abs(shown - expected) <= Math.max(0.005 * expected, 0.005), `${ifname} ${column}: "${cell.text}" shows ${expected}`);
      }
      assert.equal(row['Active']!.text, sampleValue(metrics, 'netprobe_interface_active', { interface: ifname }) === 1 ? 'yes' : 'no');
      const drops = (['ingress', 'egress'] as const).map((direction) =>
        sampleValue(metrics, 'netprobe_interface_drops_total', { interface: ifname, direction }),
      );
      assert.ok(
        drops.every((d) => d !== undefined),
        `netprobe_interface_drops_total of ${ifname} in /metrics`,
      );
      assert.equal(Number(row['Drops']!.title.split(' ')[0]), drops[0]! + drops[1]!, `${ifname} Drops: both directions' kernel drops`);
    }
    assert.ok(Number(state.rows[busy.a]!['Out B/s']!.title.split(' ')[0]) > 1_000_000, 'the busy interface carries > 1 MB/s');
    assert.equal(state.firstRow, busy.a, 'the busiest interface comes first');
  }
  assert.ok(matched, 'page and /metrics were read within the same collection');

  // The charts: three of traffic, each with points, and the busy interface among the busiest; with the ebpf source a fourth of drops.
  assert.equal(await page.locator('.uplot canvas').count(), 4);
  assert.match(
    await page.locator('#totals-scope').innerText(),
    new RegExp(`crossing the uplinks: ${busy.a}\\.`),
    'the page says what node totals are',
  );
  const legend = await page.locator('#chart-top .u-legend .u-label').allTextContents();
  assert.ok(legend.includes(busy.a), `top chart legend ${JSON.stringify(legend)} names ${busy.a}`);
  const api = await page.evaluate(() =>
    fetch('/api/v1/overview').then(
      (r) => r.json() as Promise<{ history: { times: number[]; totals: { egressBytesPerSecond: number[] } } }>,
    ),
  );
  assert.ok(api.history.times.length >= 12);
  assert.ok(Math.max(...api.history.totals.egressBytesPerSecond) > 1_000_000, 'node egress history shows the traffic');

  const foreign = requests.filter((u) => !u.startsWith(origin));
  assert.deepEqual(foreign, [], 'no request to another host');
  assert.deepEqual(failed, [], 'no failed request, no page error');
  assert.ok(
    requests.some((u) => u.startsWith(`${origin}api/v1/overview`)),
    'the page refreshes from the JSON endpoint',
  );

  // Page weight, as transferred (gzip where the server offers it).
  const weight = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    const res = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    const assets = res.filter((r) => r.name.includes('/assets/'));
    return { html: nav.transferSize, assets: assets.reduce((n, r) => n + r.transferSize, 0), count: assets.length };
  });
  t.diagnostic(`page weight: html ${weight.html} B + ${weight.count} assets ${weight.assets} B transferred`);
  await page.screenshot({ path: `${DOCS}overview-light.png`, fullPage: true });
  await page.context().close();
});

test('dark scheme follows prefers-color-scheme', async () => {
  const { page, failed } = await openPage('dark');
  await waitForPoints(page, 12);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(15, 18, 22)');
  assert.deepEqual(failed, []);
  await page.screenshot({ path: `${DOCS}overview-dark.png`, fullPage: true });
  await page.context().close();
});

test('hostile interface names stay text; the table filters and sorts by keyboard', async () => {
  const { page, failed } = await openPage('light');
  await page.waitForSelector('#interfaces tbody tr');
  const cells = await page.locator('#interfaces tbody tr td:first-child').allTextContents();
  for (const name of HOSTILE) assert.ok(cells.includes(name), `${JSON.stringify(name)} shown as text (cells: ${JSON.stringify(cells)})`);
  assert.equal(await page.locator('img').count(), 0, 'no <img> element was injected');
  assert.equal(await page.locator('main b, main i').count(), 0, 'no <b>/<i> element was injected');

  // "/" focuses the filter; typing filters by name.
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'filter');
  await page.keyboard.type('<img>');
  await page.waitForFunction(() => document.querySelectorAll('#interfaces tbody tr').length === 1);
  assert.deepEqual(await page.locator('#interfaces tbody tr td:first-child').allTextContents(), [HOSTILE[0]]);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.querySelectorAll('#interfaces tbody tr').length > 1);

  // Tab to the "Interface" header and sort with Enter: ascending by name.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Interface');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#interfaces thead th')?.getAttribute('aria-sort') === 'ascending');
  const names = await page.locator('#interfaces tbody tr td:first-child').allTextContents();
  assert.deepEqual(
    names,
    [...names].sort((a, b) => a.localeCompare(b)),
  );
  assert.deepEqual(failed, []);
  await page.context().close();
});

test('2,000 interfaces: every row in the table, filter and busiest-first order hold; render times reported', async (t) => {
  const ns = await Netns.create('npom');
  t.after(() => ns.delete());
  const big = await startNetprobe(ns, ['2000', '1000'], { script: fixturePath('many-interfaces-exporter.ts') });
  t.after(() => big.stop('SIGKILL'));
  const browser = await launchBrowserIn(ns);
  t.after(() => browser.close());
  const page = await (await browser.newContext('light')).newPage();
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('pageerror', (e) => failed.push(`page error: ${e.message}`));
  await page.goto(`http://127.0.0.1:${big.port}/`, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => document.querySelectorAll('#interfaces tbody tr').length === 2000, undefined, { timeout: 60_000 });
  // The first render and at least three refreshes with new data.
  await page.waitForFunction(() => performance.getEntriesByName('netprobe-render').length >= 4, undefined, {
    timeout: 60_000,
    polling: 250,
  });
  const renders = await page.evaluate(() => performance.getEntriesByName('netprobe-render').map((e) => e.duration));

  const names = await page.locator('#interfaces tbody tr td:first-child').allTextContents();
  assert.equal(new Set(names).size, 2000);
  // Interface i moves (i % 50) units: the busiest have i % 50 = 49.
  assert.equal(parseInt(names[0]!.slice(3), 16) % 50, 49, `busiest first, got ${names[0]}`);

  const filterStart = Date.now();
  await page.fill('#filter', 'lxc006'); // lxc00600 … lxc006ff
  await page.waitForFunction(() => document.querySelectorAll('#interfaces tbody tr').length === 256);
  const filterMs = Date.now() - filterStart;
  const filtered = await page.locator('#interfaces tbody tr td:first-child').allTextContents();
  assert.ok(filtered.every((n) => n.startsWith('lxc006')));
  assert.deepEqual(failed, []);
  const sorted = [...renders.slice(1)].sort((a, b) => a - b);
  t.diagnostic(
    `2,000 interfaces: first render ${renders[0]!.toFixed(0)} ms, refresh render median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms (${sorted.length} refreshes), filter to 256 rows ${filterMs} ms (incl. test round trips)`,
  );
});
