/**
 * Reading the Prometheus and Grafana artefacts under deploy/ for tests: the
 * rules file, the dashboard and the PromQL it holds, and a promtool runner.
 * Shared by test/unit/deploy-*.test.ts and test/privileged/prometheus-e2e.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';

const run = promisify(execFile);

export const DEPLOY_DIR = new URL('../../deploy/', import.meta.url).pathname;
export const PROMETHEUS_DIR = join(DEPLOY_DIR, 'prometheus');
export const RULES_PATH = join(PROMETHEUS_DIR, 'netprobe-rules.yml');
export const DASHBOARD_PATH = join(DEPLOY_DIR, 'grafana', 'netprobe-dashboard.json');

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

export interface DataSourceRef {
  type?: string;
  uid: string;
}
export interface Target {
  expr: string;
  refId: string;
  datasource?: DataSourceRef;
}
export interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: DataSourceRef;
  targets?: Target[];
  panels?: Panel[];
}
export interface TemplateVar {
  type: string;
  name: string;
  query: unknown;
  datasource?: DataSourceRef;
}
export interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: TemplateVar[] };
}

/** One PromQL expression of the dashboard and where it sits. */
export interface DashboardQuery {
  where: string;
  expr: string;
}

export async function loadRules(): Promise<RuleFile> {
  return parseYaml(await readFile(RULES_PATH, 'utf8')) as RuleFile;
}

export async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(DASHBOARD_PATH, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/**
 * Every PromQL expression of the dashboard: panel targets, and the selector
 * inside each query variable's `label_values(<selector>, <label>)` (Grafana's
 * own function; its selector is PromQL).
 */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const queries = allPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })),
  );
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
    const text = (v.query as { query?: string }).query ?? '';
    const selector = /^label_values\((.*),\s*\w+\)$/.exec(text)?.[1];
    if (selector === undefined) throw new Error(`variable ${v.name}: expected label_values(selector, label), got ${text}`);
    queries.push({ where: `variable ${v.name}`, expr: selector });
  }
  return queries;
}

/** Grafana's variables replaced by values that keep the query valid PromQL and select everything. */
export function substituteGrafanaVariables(expr: string, rateInterval = '1m'): string {
  return expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?(instance|interface)\}?/g, '.*');
}

/** Metric names an expression selects (an identifier right before `{` or `[`). */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...withoutStrings.matchAll(/\b([a-z_][a-z0-9_]*(?::[a-z0-9_]+)*)\s*(?=\{|\[)/gi)].map((m) => m[1] as string);
}

/** Runs promtool; a non-zero exit is returned, not thrown, with all output. */
export async function promtool(args: string[], cwd = PROMETHEUS_DIR): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd, timeout: 60_000 });
    return { code: 0, output: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      output: `${err.stdout ?? ''}${err.stderr ?? ''}${typeof err.code === 'string' ? err.code : ''}`,
    };
  }
}

/** A temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'netprobe-deploy-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
