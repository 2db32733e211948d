/**
 * The HTML page at `/`: a shell that the page's script (assets/overview.js)
 * fills from the overview document, which is embedded in the page so the
 * first paint needs no second request, then refreshed from
 * `/api/v1/overview`. What the server writes itself (version, source, attach
 * mode, host name) is HTML-escaped; interface names only ever reach the DOM
 * as text (`textContent`), never as markup.
 */
import { hostname } from 'node:os';
import type { ExporterStatus } from './exporter-status.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * The page's scripts, styles and the JSON come from this server only; no
 * inline script runs, so even a name that slipped into markup could not
 * execute. uPlot sets element styles from script, which this allows.
 */
export const OVERVIEW_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The page around the document: `[head, json, tail]` are sent back to back,
 * so the per-collection JSON is not copied into a new string per request.
 */
export function renderOverviewPage(status: ExporterStatus, metricsPath: string, json: Buffer): Buffer[] {
  const e = escapeHtml;
  const v = encodeURIComponent(status.version);
  const host = hostname();
  const head = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>netprobe · ${e(host)}</title>
<link rel="stylesheet" href="/assets/uplot.min.css?v=${v}">
<link rel="stylesheet" href="/assets/overview.css?v=${v}">
<script src="/assets/uplot.min.js?v=${v}" defer></script>
<script src="/assets/overview.js?v=${v}" defer></script>
</head>
<body>
<header>
<h1>netprobe <span class="host">${e(host)}</span></h1>
<p class="meta">Version ${e(status.version)} · source <b>${e(status.source)}</b> · attach mode <b>${e(status.attachMode ?? 'none')}</b> ·
<a href="${e(metricsPath)}">Metrics</a> · <a href="/health">Health</a> · <a href="/api/v1/overview">JSON</a></p>
<p id="status" class="status" role="status" aria-live="polite"></p>
</header>
<main>
<section aria-labelledby="trust-title"><h2 id="trust-title">Can these numbers be trusted?</h2><dl id="trust" class="trust"></dl></section>
<section aria-labelledby="charts-title"><h2 id="charts-title">Traffic on this node</h2>
<p id="totals-scope" class="meta">Node totals are the traffic crossing the node's uplinks.</p>
<div class="charts">
<figure><figcaption>Node total (uplinks), bytes/s</figcaption><div id="chart-bytes" class="chart" role="img" aria-label="node bytes per second across the uplinks, in and out"></div></figure>
<figure><figcaption>Node total (uplinks), packets/s</figcaption><div id="chart-packets" class="chart" role="img" aria-label="node packets per second across the uplinks, in and out"></div></figure>
<figure class="wide"><figcaption>Busiest interfaces, bytes/s (in + out)</figcaption><div id="chart-top" class="chart" role="img" aria-label="busiest interfaces, bytes per second"></div></figure>
<figure class="wide" id="drops-figure" hidden><figcaption>Drops by reason, packets/s (<code>not_specified</code> left out: mostly not a real drop)</figcaption><div id="chart-drops" class="chart" role="img" aria-label="packets dropped per second on the node, by the kernel's reason"></div></figure>
</div></section>
<section aria-labelledby="table-title"><h2 id="table-title">Interfaces</h2>
<div class="tools"><label for="filter">Filter by name</label> <input id="filter" type="search" placeholder="press / to filter" autocomplete="off" spellcheck="false"> <span id="count" class="count"></span></div>
<div class="table-wrap"><table id="interfaces"><thead><tr></tr></thead><tbody></tbody></table></div>
</section>
</main>
<noscript><p>This page draws its charts and table with JavaScript; the same data is at <a href="/api/v1/overview">/api/v1/overview</a> and <a href="${e(metricsPath)}">${e(metricsPath)}</a>.</p></noscript>
<script type="application/json" id="overview-data">`;
  const tail = `</script>
</body>
</html>
`;
  return [Buffer.from(head, 'utf8'), json, Buffer.from(tail, 'utf8')];
}
