/**
 * Log–log line charts as plain SVG text (no plotting dependency): the scrape
 * chart of docs/benchmarks.md, latency and CPU per scrape against interface
 * count, one line per exporter.
 */

export interface Series {
  name: string;
  color: string;
  /** [x, y] points; non-positive values are skipped (log axes). */
  points: Array<[number, number]>;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
}

const W = 460;
const H = 320;
const M = { left: 64, right: 28, top: 36, bottom: 48 };

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Powers of ten covering [lo, hi], as axis ticks. */
function decades(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

const label = (v: number): string => (v >= 1000 ? `${v / 1000}k` : v >= 1 ? String(v) : String(Number(v.toPrecision(1))));

function panelSvg(p: Panel, xLabel: string): string {
  const pts = p.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  if (pts.length === 0) return `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`;
  // x ticks at the measured sizes themselves; y ticks at powers of ten.
  const xs = [...new Set(pts.map((q) => q[0]))].sort((a, b) => a - b);
  const ys = decades(Math.min(...pts.map((q) => q[1])), Math.max(...pts.map((q) => q[1])));
  const [x0, x1] = [Math.log10(xs[0]!), Math.log10(xs[xs.length - 1]!)];
  const xLabelOf = (x: number): string => x.toLocaleString('en-US');
  const [y0, y1] = [Math.log10(ys[0]!), Math.log10(ys[ys.length - 1]!)];
  const px = (x: number): number => M.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(p.title)}</text>`);
  for (const x of xs) {
    out.push(`<line x1="${px(x).toFixed(1)}" y1="${M.top}" x2="${px(x).toFixed(1)}" y2="${H - M.bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${px(x).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${xLabelOf(x)}</text>`);
  }
  for (const y of ys) {
    out.push(`<line x1="${M.left}" y1="${py(y)}" x2="${W - M.right}" y2="${py(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${M.left - 6}" y="${py(y) + 4}" text-anchor="end">${label(y)}</text>`);
  }
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const good = s.points.filter(([x, y]) => x > 0 && y > 0);
    const path = good.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [x, y] of good) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = M.top + 4 + i * 16;
    out.push(`<rect x="${M.left + 8}" y="${ly}" width="12" height="3" fill="${s.color}"/>`);
    out.push(`<text x="${M.left + 24}" y="${ly + 5}">${escapeXml(s.name)}</text>`);
  });
  return out.join('\n');
}

/** Panels side by side sharing the x label, as one SVG document. */
export function chartSvg(panels: Panel[], xLabel: string, footnote = ''): string {
  const width = W * panels.length;
  const height = H + (footnote ? 20 : 0);
  const body = panels.map((p, i) => `<g transform="translate(${i * W} 0)">\n${panelSvg(p, xLabel)}\n</g>`).join('\n');
  const foot = footnote ? `\n<text x="8" y="${H + 14}" font-size="11" fill="#555">${escapeXml(footnote)}</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${body}${foot}
</svg>
`;
}
