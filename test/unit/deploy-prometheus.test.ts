/**
 * The Prometheus and Grafana artefacts under deploy/ are checked by the real
 * promtool (Debian's `prometheus` package, installed by scripts/install.sh
 * test): the scrape config, the rules, the rules' unit tests, and every PromQL
 * expression the dashboard holds — so none of them can hold a broken query.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { DEFAULT_SERVER_CONFIG } from '../../src/config/exporter-config.js';
import * as metricFamilies from '../../src/exposition/metric-families.js';
import type { FamilyDefinition } from '../../src/exposition/metric-families.js';
import * as socketFamilies from '../../src/exposition/socket-families.js';
import * as dropFamilies from '../../src/exposition/drop-families.js';
import {
  PROMETHEUS_DIR,
  allPanels,
  dashboardQueries,
  loadDashboard,
  loadRules,
  metricNames,
  promtool,
  substituteGrafanaVariables,
  withTempDir,
} from '../support/deploy-artefacts.js';

/**
 * Every metric family netprobe exports, from the exporter's own definitions,
 * plus the eBPF source's health counters (EbpfManager.readSourceStats keys;
 * test/privileged/prometheus-e2e.test.ts checks every name the rules and the
 * dashboard use against a live exporter).
 */
const EXPORTED_METRICS = new Set([
  ...[...Object.values(metricFamilies), ...Object.values(socketFamilies), ...Object.values(dropFamilies)]
    .filter(isFamily)
    .map((f) => f.name),
  ...['uncounted_packets', 'interfaces_uncounted', 'interfaces_overflow'].map((key) => metricFamilies.sourceStatFamily(key, 'ebpf').name),
]);

function isFamily(value: unknown): value is FamilyDefinition {
  return typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string';
}

test('prometheus.yml is valid for promtool and scrapes the contract defaults', async () => {
  const result = await promtool(['check', 'config', 'prometheus.yml']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /SUCCESS: prometheus\.yml is valid/);
  const config = parseYaml(await readFile(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
  };
  const job = config.scrape_configs.find((c) => c.job_name === 'netprobe');
  assert.ok(job, 'a scrape job named netprobe (the rules select job="netprobe")');
  assert.equal(job.metrics_path, DEFAULT_SERVER_CONFIG.path);
  assert.deepEqual(job.static_configs[0]?.targets, [`localhost:${DEFAULT_SERVER_CONFIG.port}`]);
  assert.deepEqual(config.rule_files, ['netprobe-rules.yml']);
});

test('netprobe-rules.yml passes promtool check rules', async () => {
  const result = await promtool(['check', 'rules', 'netprobe-rules.yml']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /SUCCESS: \d+ rules found/);
});

test('the rules unit tests pass, and every alert is tested firing and quiet', async () => {
  const result = await promtool(['test', 'rules', 'netprobe-rules.test.yml']);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /SUCCESS/);

  const rules = await loadRules();
  const alerts = rules.groups
    .flatMap((g) => g.rules)
    .filter((r) => r.alert)
    .map((r) => r.alert as string);
  const tests = parseYaml(await readFile(join(PROMETHEUS_DIR, 'netprobe-rules.test.yml'), 'utf8')) as {
    tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
  };
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
  for (const alert of alerts) {
    assert.ok(
      cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
      `${alert} is tested firing`,
    );
    assert.ok(
      cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0),
      `${alert} is tested staying quiet`,
    );
  }
});

test('a broken rules file makes the promtool check fail (the check can fail)', async () => {
  await withTempDir(async (dir) => {
    const rules = await loadRules();
    const first = rules.groups[0]?.rules[0];
    assert.ok(first);
    first.expr = `${first.expr} +`;
    await writeFile(join(dir, 'broken.yml'), stringifyYaml(rules));
    const result = await promtool(['check', 'rules', 'broken.yml'], dir);
    assert.notEqual(result.code, 0, result.output);
  });
});

test('every alert and recording rule uses only metrics netprobe exports or rules record', async () => {
  const rules = await loadRules();
  const recorded = new Set(
    rules.groups
      .flatMap((g) => g.rules)
      .filter((r) => r.record)
      .map((r) => r.record as string),
  );
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    for (const name of metricNames(rule.expr)) {
      assert.ok(EXPORTED_METRICS.has(name) || recorded.has(name) || name === 'up', `${rule.alert ?? rule.record}: unknown metric ${name}`);
    }
    if (rule.alert) {
      assert.ok(rule.labels?.severity, `${rule.alert} has a severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert} has summary and description`);
    }
  }
});

test('the dashboard is import-ready: data source variable, node and interface variables', async () => {
  const dashboard = await loadDashboard();
  assert.ok(dashboard.uid && dashboard.title);
  const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  const ds = vars.get('DS_PROMETHEUS');
  assert.equal(ds?.type, 'datasource');
  assert.equal(ds?.query, 'prometheus');
  for (const name of ['instance', 'interface']) {
    const v = vars.get(name);
    assert.equal(v?.type, 'query', `variable ${name}`);
    assert.equal(v?.datasource?.uid, '${DS_PROMETHEUS}', `variable ${name} uses the data source variable`);
  }
  for (const panel of allPanels(dashboard.panels).filter((p) => p.type !== 'row')) {
    assert.equal(panel.datasource?.uid, '${DS_PROMETHEUS}', `panel "${panel.title}" uses the data source variable`);
    assert.ok(panel.targets && panel.targets.length > 0, `panel "${panel.title}" has queries`);
    for (const t of panel.targets) assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', `panel "${panel.title}" ${t.refId}`);
  }
  // No data source uid may be hard-coded anywhere (an import would point at nothing).
  const text = JSON.stringify(dashboard);
  const uids = [...text.matchAll(/"uid":"([^"]*)"/g)].map((m) => m[1]).filter((uid) => uid !== dashboard.uid);
  assert.deepEqual([...new Set(uids)], ['${DS_PROMETHEUS}']);
});

test('the dashboard layout fits the 24-column grid with no overlapping panels', async () => {
  const boxes = allPanels((await loadDashboard()).panels).map((p) => ({ title: p.title, ...p.gridPos }));
  for (const b of boxes) assert.ok(b.x >= 0 && b.w > 0 && b.h > 0 && b.x + b.w <= 24, `${b.title} fits the grid`);
  for (const [i, a] of boxes.entries()) {
    for (const b of boxes.slice(i + 1)) {
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!overlap, `"${a.title}" overlaps "${b.title}"`);
    }
  }
});

test("the dashboard has the seed's four panels and the seed's four queries", async () => {
  const dashboard = await loadDashboard();
  const panels = allPanels(dashboard.panels);
  const rows = panels.filter((p) => p.type === 'row').map((p) => p.title);
  for (const row of ['Traffic overview', 'Interface details', 'Rate trends', 'Active interfaces'])
    assert.ok(rows.includes(row), `row ${row}`);
  const exprs = panels.flatMap((p) => p.targets ?? []).map((t) => t.expr.replace(/\s+/g, ''));
  const has = (re: RegExp): boolean => exprs.some((e) => re.test(e));
  // The seed summed every interface; node traffic is the uplinks' (the recording rule joins the role).
  assert.ok(has(/^sumby\(direction\)\(instance_direction:netprobe_tc_bytes:rate5m/), 'traffic in/out across the uplinks');
  assert.ok(has(/^sum\(netprobe_interface_active\{/), 'active interface count');
  assert.ok(has(/rate\(netprobe_tc_bytes_total\{[^}]*\}\[\$__rate_interval\]\)/), 'byte rate per interface');
  assert.ok(has(/^topk\(5,sumby\(interface\)\(rate\(netprobe_tc_packets_total/), 'top 5 interfaces by packet rate');
});

test('every dashboard query is valid PromQL for promtool and uses only exported or recorded metrics', async () => {
  const dashboard = await loadDashboard();
  const rules = await loadRules();
  const recorded = new Set(
    rules.groups
      .flatMap((g) => g.rules)
      .filter((r) => r.record)
      .map((r) => r.record as string),
  );
  const queries = dashboardQueries(dashboard);
  assert.ok(queries.length >= 10);
  for (const q of queries) {
    for (const name of metricNames(q.expr)) {
      assert.ok(EXPORTED_METRICS.has(name) || recorded.has(name) || name === 'up', `${q.where}: unknown metric ${name}`);
    }
  }
  await withTempDir(async (dir) => {
    const asRules = {
      groups: [
        { name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: substituteGrafanaVariables(q.expr) })) },
      ],
    };
    await writeFile(join(dir, 'dashboard-queries.yml'), stringifyYaml(asRules));
    const result = await promtool(['check', 'rules', 'dashboard-queries.yml'], dir);
    assert.equal(result.code, 0, `${result.output}\n${queries.map((q, i) => `${i}: ${q.where}: ${q.expr}`).join('\n')}`);
    assert.match(result.output, new RegExp(`SUCCESS: ${queries.length} rules found`));
  });
});
