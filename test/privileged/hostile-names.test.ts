/**
 * Interface names with every kind of character Linux allows (anything but
 * '/', ':', '%', whitespace and NUL, up to 15 bytes — quotes, backslashes,
 * braces, Unicode, control characters, even bytes that are not UTF-8) come
 * out of /metrics with correct escaping, still accepted by promtool, and
 * never inject markup into the / page.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, ip } from '../support/netns.js';
import { fetchIn } from '../support/netns-http.js';
import { startNetprobe } from '../support/netprobe-process.js';
import { labelSets, promtoolCheck } from '../support/exposition-parse.js';

const NAMES = [
  'q"uo\\te', // quote and backslash
  'a\\nb\\"c', // a literal backslash-n, not a newline
  '{lab}=,#', // exposition syntax characters
  'ünïcødé', // 2-byte UTF-8
  '💥x', // 4-byte UTF-8
  'abcdefghijklmno', // exactly 15 bytes
  'ctl\x01\x7fz', // control characters (not whitespace)
  '<script>', // markup
  "$(id)';|&*?", // shell metacharacters ('%' is not allowed: the kernel reads it as a %d template)
  '-', // a lone dash
];
const NOT_UTF8 = Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x78]); // "bad\xff\xfex"

test('every character Linux allows in an interface name is exported escaped and promtool-clean', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'np-names-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ns = await Netns.create('npnames');
  t.after(() => ns.delete());
  for (const [i, name] of NAMES.entries()) {
    assert.ok(Buffer.byteLength(name) <= 15, name);
    await ns.ip(['link', 'add', name, 'type', 'veth', 'peer', 'name', `peer${i}`]);
  }
  // Bytes that are not UTF-8 cannot travel through argv as a JS string: a batch file carries them.
  await writeFile(join(dir, 'batch'), Buffer.concat([Buffer.from('link add '), NOT_UTF8, Buffer.from(' type veth peer name peerbad\n')]));
  await ip(['-n', ns.name, '-batch', join(dir, 'batch')]);

  const np = await startNetprobe(ns, ['--collector.interval=500ms']);
  t.after(() => np.stop('SIGKILL'));
  await new Promise((r) => setTimeout(r, 1000));
  const metrics = await fetchIn(ns, np.port, '/metrics');
  assert.equal(metrics.status, 200);
  const exported = new Set(labelSets(metrics.body, 'netprobe_tc_packets_total').map((l) => l['interface']));
  for (const name of NAMES)
    assert.ok(exported.has(name), `${JSON.stringify(name)} exported exactly (got ${JSON.stringify([...exported])})`);
  // Not UTF-8: shown with replacement characters, never as broken bytes.
  assert.ok(exported.has(NOT_UTF8.toString('utf8')), `non-UTF-8 name exported as ${JSON.stringify(NOT_UTF8.toString('utf8'))}`);
  assert.equal(Buffer.from(metrics.body, 'utf8').toString('utf8'), metrics.body);
  assert.equal(await promtoolCheck(metrics.body), '', 'promtool check metrics');

  const page = await fetchIn(ns, np.port, '/');
  assert.equal(page.status, 200);
  assert.ok(!page.body.includes('<script>'), 'the / page escapes interface names');
  const health = await fetchIn(ns, np.port, '/health');
  assert.doesNotThrow(() => JSON.parse(health.body));
  t.diagnostic(`${NAMES.length + 1} hostile names exported, promtool clean, / escaped`);
  assert.equal(await np.stop('SIGTERM'), 0);
});
