/**
 * docs/deployment.md and docs/troubleshooting.md kept in sync with the code
 * and the artefacts: every netprobe flag they mention is real, every alert
 * and every deploy/ file is described. (The error code table is checked
 * against the catalogue in error-catalogue.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CONFIG_SCHEMA } from '../../src/config/schema.js';
import { COMMAND_FLAGS } from '../../src/config/parse-flags.js';
import { DEPLOY_DIR, loadRules } from '../support/deploy-artefacts.js';

const ROOT = new URL('../../', import.meta.url).pathname;

async function doc(name: string): Promise<string> {
  return readFile(join(ROOT, 'docs', name), 'utf8');
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Every flag the CLI accepts, with `--no-` forms of booleans. */
function knownFlags(): Set<string> {
  const flags = new Set<string>();
  for (const setting of Object.values(CONFIG_SCHEMA) as Array<{ flag?: string }>) {
    if (setting.flag) flags.add(setting.flag).add(`no-${setting.flag}`);
  }
  for (const c of COMMAND_FLAGS) flags.add(c.flag);
  return flags;
}

test("troubleshooting.md covers the seed's three problems", async () => {
  const text = await doc('troubleshooting.md');
  for (const heading of ['No metrics available', 'Collection errors', 'High error rate']) {
    assert.match(text, new RegExp(`^## ${heading}$`, 'm'));
  }
});

test('every netprobe flag the docs mention exists', async () => {
  const flags = knownFlags();
  for (const name of ['deployment.md', 'troubleshooting.md']) {
    const mentioned = [
      ...(await doc(name)).matchAll(/--((?:no-)?(?:web|collector|ebpf|log|config|capabilities|source|check|help|version)[\w.-]*)/g),
    ].map((m) => m[1] as string);
    assert.ok(mentioned.length > 5, name);
    for (const flag of mentioned)
      assert.ok(flags.has(flag.replace(/[.-]$/, '')), `${name} mentions --${flag}, which netprobe does not have`);
  }
});

test('deployment.md describes every deploy/ file and every alert', async () => {
  const text = await doc('deployment.md');
  for (const file of await filesUnder(DEPLOY_DIR)) {
    const path = relative(ROOT, file);
    const name = path.split('/').at(-1) as string;
    assert.ok(text.includes(path) || text.includes(`\`${name}\``), `deployment.md does not mention ${path}`);
  }
  for (const rule of (await loadRules()).groups.flatMap((g) => g.rules)) {
    if (rule.alert) assert.ok(text.includes(`\`${rule.alert}\``), `deployment.md does not describe ${rule.alert}`);
    if (rule.record) assert.ok(text.includes(`\`${rule.record}\``), `deployment.md does not name ${rule.record}`);
  }
});
