/**
 * The HTML page at `/`: what is running, where its data comes from, the
 * exported interfaces with their current rates, and links. Every dynamic
 * value is HTML-escaped (interface names may hold quotes, `<`, `&`).
 */
import type { ExporterStatus } from './exporter-status.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

function rate(value: number, unit: string): string {
  return `${value.toFixed(value >= 100 ? 0 : 2)} ${unit}`;
}

export function renderOverviewPage(status: ExporterStatus, metricsPath: string): string {
  const e = escapeHtml;
  const rows = status.interfaces
    .map(
      (s) =>
        `<tr><td>${e(s.name)}</td><td>${s.ifindex}</td><td>${s.active ? 'yes' : 'no'}</td>` +
        `<td>${rate(s.ingress.packetsPerSecond, 'pkt/s')}</td><td>${rate(s.ingress.bytesPerSecond, 'B/s')}</td>` +
        `<td>${rate(s.egress.packetsPerSecond, 'pkt/s')}</td><td>${rate(s.egress.bytesPerSecond, 'B/s')}</td></tr>`,
    )
    .join('\n');
  const state = status.up ? 'up' : `down: ${status.lastError ?? 'no successful collection yet'}`;
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>netprobe exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child{text-align:left}</style>
</head>
<body>
<h1>netprobe exporter</h1>
<p>Version ${e(status.version)} &middot; source <b>${e(status.source)}</b> &middot; attach mode <b>${e(status.attachMode ?? 'none')}</b> &middot; collection ${e(state)}</p>
<p><a href="${e(metricsPath)}">Metrics</a> &middot; <a href="/health">Health</a></p>
<p>${status.interfaces.length} exported of ${status.attachedInterfaces} counted interfaces; ${status.collections} collections every ${status.collectIntervalMs / 1000} s; last at ${e(status.lastSuccess?.toISOString() ?? 'never')}.</p>
<table>
<thead><tr><th>interface</th><th>ifindex</th><th>active</th><th>ingress packets</th><th>ingress bytes</th><th>egress packets</th><th>egress bytes</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}
