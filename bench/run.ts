/**
 * netprobe's benchmark suite (issue 5): one command runs every part, each
 * part also runs alone. Needs root (namespaces, BPF); everything it creates
 * is removed at the end, also on failure or Ctrl-C.
 *
 *   npm run bench                         every part, full sizes (about 25 minutes)
 *   npm run bench -- --only=cost,scrape   some parts
 *   npm run bench -- --smoke              tiny sizes and durations: proves the harness works
 *   npm run bench -- --write-docs         also regenerate docs/benchmarks.md sections and the chart
 *   npm run bench -- --docs-only          only regenerate them from bench/out/results.json (no measuring)
 *   npm run bench -- --only=memory --minutes=10 --sizes=2000
 *   npm run bench -- --smoke --json=FILE  also write this run's results as JSON (the smoke test reads it)
 *
 * Results: bench/out/results.json (merged across runs, newest per part) and
 * bench/out/results.md; stdout gets the Markdown of this run.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanupAll, cleanupOnSignals, sweepOwnNamespaces } from '../test/support/cleanup-registry.js';
import type { BenchContext, BenchPart } from './lib/context.js';
import { describeMachine, type MachineInfo } from './lib/machine.js';
import { mergedSummary, partMarkdown, replaceSection, type PartResult } from './lib/report.js';
import { PARTS } from './parts/index.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(repoRoot, 'bench', 'out');
const docPath = join(repoRoot, 'docs', 'benchmarks.md');

const FULL_SIZES = [10, 100, 1000, 2000];
const SMOKE_SIZES = [10];

interface StoredResults {
  machine: MachineInfo;
  parts: Record<string, PartResult & { finishedAt: string; command: string }>;
}

function usage(): string {
  return `usage: npm run bench -- [--only=${PARTS.map((p) => p.name).join(',')}] [--smoke] [--sizes=10,100] [--minutes=N] [--write-docs] [--json=FILE]`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      sizes: { type: 'string' },
      minutes: { type: 'string' },
      'write-docs': { type: 'boolean', default: false },
      json: { type: 'string' },
      'docs-only': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage());
    return 0;
  }
  const wanted = values.only ? values.only.split(',').map((s) => s.trim()) : PARTS.map((p) => p.name);
  const unknown = wanted.filter((w) => !PARTS.some((p) => p.name === w));
  if (unknown.length > 0) {
    console.error(`bench: unknown part(s) ${unknown.join(', ')}; ${usage()}`);
    return 2;
  }
  if (values['docs-only']) {
    const stored = await readFile(join(outDir, 'results.json'), 'utf8').then((t) => JSON.parse(t) as StoredResults);
    await writeDocs(stored, [], undefined);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: needs root (network namespaces, BPF programs); run as root');
    return 2;
  }
  const sizes = values.sizes ? values.sizes.split(',').map(Number) : values.smoke ? SMOKE_SIZES : FULL_SIZES;
  if (sizes.some((n) => !Number.isInteger(n) || n < 2 || n % 2 !== 0)) {
    console.error(`bench: --sizes must be even integers ≥ 2, got ${values.sizes}`);
    return 2;
  }
  const soakMinutes = values.minutes !== undefined ? Number(values.minutes) : values.smoke ? 0.1 : 10;
  if (!(soakMinutes > 0)) {
    console.error(`bench: --minutes must be a positive number, got ${values.minutes}`);
    return 2;
  }

  await mkdir(outDir, { recursive: true });
  const ctx: BenchContext = {
    smoke: values.smoke,
    sizes,
    soakMinutes,
    repoRoot,
    outDir,
    log: (m) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`),
  };
  cleanupOnSignals();

  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const started = performance.now();
  const results: PartResult[] = [];
  let failed = false;
  for (const part of PARTS.filter((p) => wanted.includes(p.name))) {
    const missing = part.needs.filter((f) => !existsSync(join(repoRoot, f)));
    if (missing.length > 0) {
      ctx.log(`${part.name}: skipped, the tree has no ${missing.join(', ')} yet`);
      failed = true;
      continue;
    }
    ctx.log(`${part.name}: ${part.title}`);
    try {
      results.push(await runPart(part, ctx));
    } catch (e) {
      failed = true;
      ctx.log(`${part.name} failed: ${(e as Error).stack ?? String(e)}`);
    } finally {
      await cleanupAll();
    }
  }
  sweepOwnNamespaces();
  const totalSeconds = (performance.now() - started) / 1000;
  ctx.log(`done in ${totalSeconds.toFixed(0)} s`);

  const machine = describeMachine();
  const markdown = results.map((r) => `## ${r.title}\n\n${partMarkdown(r)}`).join('\n\n');
  console.log(markdown);
  if (values.json) await writeFile(values.json, JSON.stringify({ totalSeconds, parts: results, failed }, null, 2) + '\n');
  if (!ctx.smoke) {
    const stored = await storeResults(machine, results, command);
    await writeFile(
      join(outDir, 'results.md'),
      Object.values(stored.parts)
        .map((r) => `## ${r.title}\n\n${partMarkdown(r)}`)
        .join('\n\n') + '\n',
    );
    if (values['write-docs']) await writeDocs(stored, results, { totalSeconds, command, allParts: !values.only });
  }
  return failed ? 1 : 0;
}

async function runPart(part: BenchPart, ctx: BenchContext): Promise<PartResult> {
  const t0 = performance.now();
  const r = await part.run(ctx);
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}

async function storeResults(machine: MachineInfo, results: PartResult[], command: string): Promise<StoredResults> {
  const file = join(outDir, 'results.json');
  const previous = await readFile(file, 'utf8').then(
    (t) => JSON.parse(t) as StoredResults,
    () => undefined,
  );
  const stored: StoredResults = { machine, parts: { ...(previous?.parts ?? {}) } };
  const finishedAt = new Date().toISOString();
  for (const r of results) stored.parts[r.part] = { ...r, finishedAt, command };
  await writeFile(file, JSON.stringify(stored, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n');
  return stored;
}

/**
 * Regenerates docs/benchmarks.md: the machine and summary sections, the
 * sections of the parts of this run (all stored parts with --docs-only), and
 * the chart. `run` describes this run; without it the machine section is kept.
 */
async function writeDocs(
  stored: StoredResults,
  results: PartResult[],
  run: { totalSeconds: number; command: string; allParts: boolean } | undefined,
): Promise<void> {
  let doc = await readFile(docPath, 'utf8');
  if (run) {
    const m = stored.machine;
    const previous = /<!-- bench:machine -->\n([\s\S]*?)<!-- \/bench:machine -->/.exec(doc)?.[1] ?? '';
    // A partial run (--only) keeps the duration of the last full run.
    const fullRunLine = run.allParts
      ? `- A full run (\`${run.command}\`) finished ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC and took ${(run.totalSeconds / 60).toFixed(1)} minutes.`
      : (previous.split('\n').find((l) => l.startsWith('- A full run')) ?? '- No full run recorded yet.');
    const machine = [
      `- ${m.cpus} CPUs: ${m.cpuModel}; ${m.memoryGiB} GiB; Linux ${m.kernel}; Node ${m.node}; ${m.nodeExporter}`,
      fullRunLine,
    ].join('\n');
    doc = replaceSection(doc, 'machine', machine).doc;
  }
  // Each section from the stored copy, which carries the command and the time it was measured.
  const shown = (results.length > 0 ? results : Object.values(stored.parts)).map((r) => stored.parts[r.part] ?? r);
  // By part number (the order of the doc), not by run order (the long memory soak runs last).
  const inOrder = PARTS.map((p) => stored.parts[p.name])
    .filter((r): r is StoredResults['parts'][string] => r !== undefined)
    .sort((a, b) => partNumber(a.title) - partNumber(b.title));
  const previousSummary = /<!-- bench:summary -->\n([\s\S]*?)<!-- \/bench:summary -->/.exec(doc)?.[1] ?? '';
  doc = replaceSection(doc, 'summary', mergedSummary(previousSummary, inOrder)).doc;
  for (const r of shown) {
    const replaced = replaceSection(doc, r.part, partMarkdown(r));
    if (!replaced.found) process.stderr.write(`bench: docs/benchmarks.md has no <!-- bench:${r.part} --> section; not written\n`);
    doc = replaced.doc;
    const chart = PARTS.find((p) => p.name === r.part)?.chart;
    if (chart) await writeFile(join(repoRoot, 'docs', `benchmarks-${r.part}.svg`), chart(r.data));
  }
  await writeFile(docPath, doc);
}

/** 7 for "Part 7 — …": titles sort as text would put Part 10 before Part 2. */
function partNumber(title: string): number {
  return Number(/^Part (\d+)/.exec(title)?.[1] ?? Infinity);
}

process.exitCode = await main().catch(async (e: unknown) => {
  console.error(`bench: ${(e as Error).stack ?? String(e)}`);
  await cleanupAll();
  return 1;
});
