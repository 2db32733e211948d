/**
 * What `netprobe top` prints, as a pure function of the overview document and
 * the view's state: the header (source, health), the node totals (the uplinks'
 * traffic), and one line per interface sorted as asked. No I/O, no clock, no ANSI: `top.ts` adds the
 * screen handling. Interface names are made terminal-safe first (a name may
 * hold control characters, ESC included, which must never reach the terminal).
 */
import type { OverviewDocument, OverviewInterface } from '../exposition/overview-document.js';

export type TopSort = 'bytes' | 'in' | 'out' | 'packets' | 'name';

/** Keys that change the sort, as shown in the help line. */
export const SORT_KEYS: Readonly<Record<string, TopSort>> = { b: 'bytes', i: 'in', o: 'out', p: 'packets', n: 'name' };

export interface TopView {
  sort: TopSort;
  /** Case-insensitive substring of the name (or namespace/pod). */
  filter: string;
  /** Where the document came from (shown in the header). */
  url: string;
  /** Age of the last collection in ms, if known. */
  lastCollectionAgeMs?: number;
  /** Lines available for interface rows; undefined = all (the --once table). */
  maxRows?: number;
}

const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** 3 significant digits with an SI prefix: 1234567 → "1.23 M". The page uses the same rule. */
export function si(value: number): string {
  if (!Number.isFinite(value)) return '-';
  if (value === 0) return '0';
  let x = Math.abs(value);
  let i = 0;
  while (x >= 999.5 && i < PREFIXES.length - 1) {
    x /= 1000;
    i++;
  }
  const digits = x >= 99.95 ? x.toFixed(0) : x >= 9.995 ? x.toFixed(1) : x.toFixed(2);
  return `${value < 0 ? '-' : ''}${digits}${PREFIXES[i] ? ` ${PREFIXES[i]}` : ''}`;
}

/** A value with its unit: "1.23 MB/s", "0 B/s", "1.20 k pkt/s" (a prefix joins B, not words). */
export function withUnit(value: number, unit: string): string {
  const text = si(value);
  return /[kMGTPE]$/.test(text) && unit.startsWith('B') ? `${text}${unit}` : `${text} ${unit}`;
}

/** Control characters (C0, DEL, C1) shown as \xNN, so a name can never drive the terminal. */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

const busy = (r: OverviewInterface): number => r.ingress.bytesPerSecond + r.egress.bytesPerSecond;
const SORTERS: Record<TopSort, (a: OverviewInterface, b: OverviewInterface) => number> = {
  bytes: (a, b) => busy(b) - busy(a),
  in: (a, b) => b.ingress.bytesPerSecond - a.ingress.bytesPerSecond,
  out: (a, b) => b.egress.bytesPerSecond - a.egress.bytesPerSecond,
  packets: (a, b) => b.ingress.packetsPerSecond + b.egress.packetsPerSecond - (a.ingress.packetsPerSecond + a.egress.packetsPerSecond),
  name: () => 0,
};

/** The interfaces to show, filtered and sorted (ties and the name sort by name, then ifindex). */
export function selectInterfaces(doc: OverviewDocument, view: Pick<TopView, 'sort' | 'filter'>): OverviewInterface[] {
  const needle = view.filter.toLowerCase();
  const rows = needle
    ? doc.interfaces.filter((r) => [r.name, r.namespace ?? '', r.pod ?? ''].some((s) => s.toLowerCase().includes(needle)))
    : [...doc.interfaces];
  const byName = (a: OverviewInterface, b: OverviewInterface): number =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : a.ifindex - b.ifindex;
  return rows.sort((a, b) => SORTERS[view.sort](a, b) || byName(a, b));
}

interface Column {
  title: string;
  right: boolean;
  cell: (r: OverviewInterface) => string;
}

function columns(withPods: boolean, drops: OverviewDocument['drops']): Column[] {
  const cols: Column[] = [{ title: 'INTERFACE', right: false, cell: (r) => terminalSafe(r.name) }];
  if (withPods) cols.push({ title: 'POD', right: false, cell: (r) => (r.pod ? terminalSafe(`${r.namespace ?? ''}/${r.pod}`) : '') });
  cols.push(
    { title: 'ROLE', right: false, cell: (r) => terminalSafe(r.role ?? '') },
    { title: 'IFINDEX', right: true, cell: (r) => String(r.ifindex) },
    { title: 'IN B/s', right: true, cell: (r) => si(r.ingress.bytesPerSecond) },
    { title: 'OUT B/s', right: true, cell: (r) => si(r.egress.bytesPerSecond) },
    { title: 'IN pkt/s', right: true, cell: (r) => si(r.ingress.packetsPerSecond) },
    { title: 'OUT pkt/s', right: true, cell: (r) => si(r.egress.packetsPerSecond) },
    { title: 'ACTIVE', right: true, cell: (r) => (r.departed ? 'gone' : r.active ? 'yes' : 'no') },
  );
  if (withPods && drops?.active) {
    // The pod's drops (not_specified left out), on each of its rows: drops are counted per pod, not per host veth.
    const byPod = new Map(drops.pods.map((p) => [`${p.namespace}/${p.pod}`, p.packets]));
    cols.push({ title: 'POD DROPS', right: true, cell: (r) => (r.pod ? si(byPod.get(`${r.namespace ?? ''}/${r.pod}`) ?? 0) : '') });
  }
  return cols;
}

/** Display width: every code point counts 1 (names are short; wide characters are rare). */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, n: number, right: boolean): string {
  const fill = ' '.repeat(Math.max(0, n - width(text)));
  return right ? fill + text : text + fill;
}

/** The header lines: what is running and whether its numbers can be trusted. */
export function headerLines(doc: OverviewDocument, view: TopView): string[] {
  const t = doc.trust;
  const problems: string[] = [];
  if (!t.up) problems.push(`COLLECTION DOWN: ${t.lastError ?? 'no successful collection'}`);
  if ((t.interfacesUncounted ?? 0) > 0) problems.push(`${t.interfacesUncounted} interfaces uncounted`);
  if ((t.uncountedPackets ?? 0) > 0) problems.push(`${t.uncountedPackets} packets uncounted`);
  const stale = Math.max(3 * t.collectIntervalMs, 30_000);
  if (view.lastCollectionAgeMs !== undefined && view.lastCollectionAgeMs > stale)
    problems.push(`last collection ${duration(view.lastCollectionAgeMs / 1000)} ago`);
  const age = view.lastCollectionAgeMs === undefined ? '' : ` · last collection ${duration(view.lastCollectionAgeMs / 1000)} ago`;
  return [
    `netprobe ${terminalSafe(t.version)} at ${terminalSafe(view.url)} · source ${t.source}${t.attachMode ? `/${t.attachMode}` : ''} · up ${duration(t.uptimeSeconds)}${age}`,
    `${uplinksLabel(doc)}: in ${withUnit(doc.totals.ingress.bytesPerSecond, 'B/s')} ${withUnit(doc.totals.ingress.packetsPerSecond, 'pkt/s')} · ` +
      `out ${withUnit(doc.totals.egress.bytesPerSecond, 'B/s')} ${withUnit(doc.totals.egress.packetsPerSecond, 'pkt/s')} · ` +
      `${doc.interfaces.length} interfaces · ${t.collections} collections, ${t.collectionErrors} errors`,
    problems.length > 0 ? `PROBLEM: ${problems.join('; ')}` : 'status: ok',
  ];
}

/** Node totals are the uplinks' traffic: the header says which interfaces, or that none is known. */
function uplinksLabel(doc: OverviewDocument): string {
  const names = (doc.uplinks ?? []).map((u) => terminalSafe(u.name));
  return names.length > 0 ? `node (uplinks ${names.join(', ')})` : 'node (no uplink known: --collector.uplinks)';
}

/** The table: a title line and one line per interface (at most `maxRows`). */
export function tableLines(doc: OverviewDocument, view: TopView): string[] {
  const rows = selectInterfaces(doc, view);
  const shown = view.maxRows === undefined ? rows : rows.slice(0, Math.max(0, view.maxRows));
  const cols = columns(
    doc.interfaces.some((r) => r.pod !== undefined),
    doc.drops,
  );
  const cells = shown.map((r) => cols.map((c) => c.cell(r)));
  const widths = cols.map((c, i) => Math.max(width(c.title), ...cells.map((row) => width(row[i]!))));
  const line = (values: string[]): string =>
    values
      .map((v, i) => pad(v, widths[i]!, cols[i]!.right))
      .join('  ')
      .trimEnd();
  return [line(cols.map((c) => c.title)), ...cells.map(line)];
}

/** The `--once` output: header, a blank line, the whole table. */
export function renderOnce(doc: OverviewDocument, view: TopView): string {
  return `${[...headerLines(doc, view), '', ...tableLines(doc, view)].join('\n')}\n`;
}
