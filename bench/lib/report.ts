/**
 * What each benchmark part returns, and how results become Markdown: tables
 * for bench/out/results.md and for the generated sections of
 * docs/benchmarks.md (between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`).
 */
import type { Summary } from './stats.js';
import { relativeSpread } from './stats.js';

export interface Table {
  caption?: string;
  headers: string[];
  rows: string[][];
}

/** One target of issue 5 / issue 2 and how this run did against it. */
export interface Verdict {
  target: string;
  result: string;
  /** undefined: the part has no pass/fail target (e.g. "say when inside the noise"). */
  met?: boolean;
}

export interface PartResult {
  /** Short name, also the --only value and the doc section marker. */
  part: string;
  title: string;
  tables: Table[];
  /** Plain sentences: targets met or not, caveats. */
  notes: string[];
  /** The part's targets, for the summary table. */
  verdicts: Verdict[];
  /** Machine-readable numbers (bench/out/results.json, the chart, the smoke test). */
  data: Record<string, unknown>;
  seconds: number;
}

export function markdownTable(t: Table): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const lines = [
    `| ${t.headers.map(escape).join(' | ')} |`,
    `| ${t.headers.map(() => '---').join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ];
  return (t.caption ? `${t.caption}\n\n` : '') + lines.join('\n');
}

export function partMarkdown(r: PartResult & { command?: string; finishedAt?: string }): string {
  const parts = [...r.tables.map(markdownTable)];
  if (r.notes.length > 0) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
  const when = r.command && r.finishedAt ? `Measured by \`${r.command}\`, ${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC; ` : '';
  parts.push(`_${when}the part took ${r.seconds.toFixed(0)} s._`);
  return parts.join('\n\n');
}

/** The summary table: one row per target of every part that has results. */
export function summaryTable(results: PartResult[]): Table {
  return {
    headers: ['part', 'target', 'result', 'met'],
    rows: results.flatMap((r) =>
      (r.verdicts ?? []).map((v) => [
        r.title.replace(/ —.*$/, ''),
        v.target,
        v.result,
        v.met === undefined ? '–' : v.met ? 'yes' : '**no**',
      ]),
    ),
  };
}

/** Where a part sits in the doc: 'Part 1' < 'Part 1b' < 'Part 2' < 'Part 10'. */
function comparePartLabels(a: string, b: string): number {
  const key = (label: string): [number, string] => {
    const m = /^Part (\d+)(\w*)/.exec(label);
    return m ? [Number(m[1]), m[2]!] : [Infinity, label];
  };
  const [na, sa] = key(a);
  const [nb, sb] = key(b);
  return na - nb || (sa < sb ? -1 : sa > sb ? 1 : 0);
}

/**
 * The summary table as the doc should show it: the rows of every part in
 * `results`, and the doc's current rows (`previous`, the section's body) of
 * the parts that have none here — a run with --only in a checkout that holds
 * no stored results of the other parts keeps their rows.
 */
export function mergedSummary(previous: string, results: PartResult[]): string {
  const label = (row: string): string => row.slice(1, row.indexOf(' | ')).trim();
  const [header, rule, ...fresh] = markdownTable(summaryTable(results)).split('\n');
  const have = new Set(fresh.map(label));
  const kept = previous.split('\n').filter((l) => /^\| Part /.test(l) && !have.has(label(l)));
  // A stable sort: the rows of one part keep their order.
  const rows = [...fresh, ...kept].sort((a, b) => comparePartLabels(label(a), label(b)));
  return [header, rule, ...rows].join('\n');
}

/** Replaces the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; false if the markers are missing. */
export function replaceSection(doc: string, name: string, body: string): { doc: string; found: boolean } {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) return { doc, found: false };
  return { doc: `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`, found: true };
}

/** `1.23 ms (±4.0%)`-style cell from a summary, with a number formatter. */
export function cell(s: Summary, format: (v: number) => string): string {
  return `${format(s.median)} (${relativeSpread(s)})`;
}

export const fmt = {
  ns: (v: number): string => `${v.toFixed(1)} ns`,
  ms: (v: number): string => (v < 1 ? `${v.toFixed(3)} ms` : v < 10 ? `${v.toFixed(2)} ms` : `${v.toFixed(1)} ms`),
  ratio: (v: number): string => `${v >= 0.1 ? v.toFixed(2) : Number(v.toPrecision(2)).toString()}×`,
  bytes: (v: number): string =>
    v >= 1 << 20 ? `${(v / (1 << 20)).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${v} B`,
  count: (v: number): string => Math.round(v).toLocaleString('en-US'),
};
