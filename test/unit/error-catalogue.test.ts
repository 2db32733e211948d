/**
 * The error catalogue (src/errors/) is the one list of NP_ERR_* codes: every
 * code src/ raises is in it, every code in it is raised somewhere, and
 * docs/troubleshooting.md has exactly one row per code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CATALOGUE, ERROR_CODES, isErrorCode, NetprobeError } from '../../src/errors/index.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CATALOGUE_DIR = join(ROOT, 'src', 'errors');

/** Every `'NP_ERR_…'` string literal in src/ outside the catalogue itself. */
async function codesUsedInSource(): Promise<Set<string>> {
  const codes = new Set<string>();
  const entries = await readdir(join(ROOT, 'src'), { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.parentPath.startsWith(CATALOGUE_DIR)) continue;
    const text = await readFile(join(e.parentPath, e.name), 'utf8');
    for (const m of text.matchAll(/['"`](NP_ERR_[A-Z0-9_]+)['"`]/g)) codes.add(m[1] as string);
  }
  return codes;
}

test('every entry has a code of the NP_ERR_ form, a summary and a hint', () => {
  assert.ok(ERROR_CODES.length >= 15, `${ERROR_CODES.length} codes`);
  for (const code of ERROR_CODES) {
    assert.match(code, /^NP_ERR_[A-Z0-9_]+$/);
    const { summary, hint } = ERROR_CATALOGUE[code];
    assert.ok(summary.length > 10, `${code} summary`);
    assert.ok(hint.length > 10, `${code} hint`);
  }
  assert.equal(isErrorCode('NP_ERR_LISTEN'), true);
  assert.equal(isErrorCode('NP_ERR_NOPE'), false);
  assert.equal(isErrorCode('toString'), false, 'own keys only');
});

test('src/ uses only catalogue codes, and every catalogue code is used', async () => {
  const used = await codesUsedInSource();
  assert.deepEqual(
    [...used].filter((c) => !isErrorCode(c)),
    [],
    'codes in src/ missing from src/errors/error-catalogue.ts',
  );
  assert.deepEqual(
    ERROR_CODES.filter((c) => !used.has(c)),
    [],
    'catalogue codes nothing in src/ raises',
  );
});

test('docs/troubleshooting.md has one row per catalogue code, and no other', async () => {
  const text = await readFile(join(ROOT, 'docs', 'troubleshooting.md'), 'utf8');
  const rows = [...text.matchAll(/^\| `(NP_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1] as string);
  assert.deepEqual(
    ERROR_CODES.filter((c) => !rows.includes(c)),
    [],
    'catalogue codes without a row in the error code table',
  );
  assert.deepEqual(
    rows.filter((c) => !isErrorCode(c)),
    [],
    'rows for codes the catalogue no longer has',
  );
  assert.equal(new Set(rows).size, rows.length, 'one row per code');
});

test("a NetprobeError carries the catalogue's hint unless the call gives its own", () => {
  const plain = new NetprobeError('NP_ERR_STATE', 'load: already loaded');
  assert.equal(plain.code, 'NP_ERR_STATE');
  assert.equal(plain.hint, ERROR_CATALOGUE.NP_ERR_STATE.hint);
  assert.equal(plain.message, `load: already loaded; ${ERROR_CATALOGUE.NP_ERR_STATE.hint}`);
  const cause = new Error('EADDRINUSE');
  const specific = new NetprobeError('NP_ERR_LISTEN', 'cannot listen on *:1', { hint: 'pick another port', cause });
  assert.equal(specific.message, 'cannot listen on *:1; pick another port');
  assert.equal(specific.cause, cause);
  assert.ok(specific instanceof Error);
});
