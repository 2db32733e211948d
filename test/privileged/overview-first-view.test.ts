/// <reference lib="dom" />
/**
 * The overview page's first view, before the history holds two points: the
 * real CLI (eBPF source) with a 60 s collection interval, so the page is
 * surely opened before the second collection, in a real headless Chromium.
 * The charts' time axis covers the history window ending now (not uPlot's
 * default range for empty data, years away) and each chart says it is
 * collecting. With a 1 s interval the same page leaves that state by itself
 * once two points exist, and the axis still ends now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { Netns } from '../support/netns.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { haveChromium, launchBrowserIn } from '../support/browser.js';

const CHARTS = ['chart-bytes', 'chart-packets', 'chart-top'];

interface ChartView {
  id: string;
  points: number;
  /** The time scale as uPlot set it, Unix seconds. */
  xMin: number;
  xMax: number;
  /** The chart's "collecting" note: its text and whether it is shown. */
  note: string;
  noteShown: boolean;
}

function readCharts(page: Page): Promise<ChartView[]> {
  return page.evaluate((ids) => {
    return ids.map((id) => {
      const chart = document.getElementById(id)!;
      const note = chart.parentElement?.querySelector<HTMLElement>('.collecting') ?? null;
      return {
        id,
        points: Number(chart.dataset.points ?? 0),
        xMin: Number(chart.dataset.xMin),
        xMax: Number(chart.dataset.xMax),
        note: note?.textContent ?? '',
        noteShown: note !== null && !note.hidden && note.getClientRects().length > 0,
      };
    });
  }, CHARTS);
}

async function openOverview(
  t: { after: (fn: () => Promise<unknown>) => void },
  interval: string,
): Promise<{ page: Page; windowS: number }> {
  const ns = await Netns.create('npfv');
  t.after(() => ns.delete());
  const np = await startNetprobe(ns, ['--source=ebpf', `--collector.interval=${interval}`]);
  t.after(() => np.stop('SIGKILL'));
  const browser = await launchBrowserIn(ns);
  t.after(() => browser.close());
  const page = await (await browser.newContext('light')).newPage();
  const failed: string[] = [];
  page.on('pageerror', (e) => failed.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  t.after(async () => assert.deepEqual(failed, [], 'no page error, no failed request'));
  await page.goto(`http://127.0.0.1:${np.port}/`, { waitUntil: 'load', timeout: 60_000 });
  const windowS =
    (await page.evaluate(() => fetch('/api/v1/overview').then((r) => r.json() as Promise<{ history: { windowMs: number } }>))).history
      .windowMs / 1000;
  return { page, windowS };
}

/**
 * The axis spans the window and ends "now" as the page saw it at its last
 * render: not before the page was opened, not after it was read (the browser's
 * clock is the machine's; 1 s of slack for rounding).
 */
function assertWindowEndingNow(view: ChartView, windowS: number, readFrom: number, readTo: number): void {
  assert.ok(
    view.xMax >= readFrom / 1000 - 1 && view.xMax <= readTo / 1000 + 1,
    `${view.id}: the time axis ends now (${new Date(view.xMax * 1000).toISOString()}, read between ${new Date(readFrom).toISOString()} and ${new Date(readTo).toISOString()})`,
  );
  assert.equal(view.xMax - view.xMin, windowS, `${view.id}: the time axis spans the history window (${windowS} s)`);
}

test('opened before the second collection: the time axis is the history window ending now, and the charts say they are collecting', async (t) => {
  assert.ok(haveChromium(), 'chromium is installed (scripts/install.sh test)');
  const loadedAt = Date.now();
  const { page, windowS } = await openOverview(t, '60s');
  await page.waitForFunction((ids) => ids.every((id) => document.getElementById(id)?.dataset.xMax !== undefined), CHARTS, {
    timeout: 30_000,
  });
  const views = await readCharts(page);
  const readAt = Date.now();
  for (const view of views) {
    assert.ok(view.points < 2, `${view.id}: fewer than two points yet (${view.points}); the page was opened within the first interval`);
    assertWindowEndingNow(view, windowS, loadedAt, readAt);
    assert.ok(view.noteShown, `${view.id}: the collecting note is shown`);
    assert.match(view.note, /^Collecting…/, `${view.id}: note text`);
    assert.match(view.note, /one point every 60 s/, `${view.id}: the note says how often points come`);
  }
  // Still so after the page's own refreshes (every 5 s here): the second fetch starts after the first one's render.
  await page.waitForFunction(
    () => performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/v1/overview')).length >= 2,
    undefined,
    { timeout: 45_000, polling: 250 },
  );
  for (const view of await readCharts(page)) {
    assert.ok(view.points < 2, `${view.id}: still fewer than two points (${view.points})`);
    assert.ok(view.noteShown, `${view.id}: the collecting note is still shown after a refresh`);
    assertWindowEndingNow(view, windowS, loadedAt, Date.now());
  }
});

test('the collecting note goes away once two points exist; the axis still ends now', async (t) => {
  const loadedAt = Date.now();
  const { page, windowS } = await openOverview(t, '1s');
  await page.waitForFunction((ids) => ids.every((id) => Number(document.getElementById(id)?.dataset.points ?? 0) >= 2), CHARTS, {
    timeout: 60_000,
    polling: 250,
  });
  const views = await readCharts(page);
  const readTo = Date.now();
  for (const view of views) {
    assert.equal(view.noteShown, false, `${view.id}: no collecting note with ${view.points} points`);
    assertWindowEndingNow(view, windowS, loadedAt, readTo);
  }
});
