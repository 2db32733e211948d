import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BadGlobError, compileInterfaceFilter } from '../../src/net/interface-filter.js';
import { NetprobeError } from '../../src/errors/index.js';

const names = ['lo', 'eth0', 'eth1', 'ens3', 'veth1a2b', 'docker0', 'cali123', 'lxc_health', 'eth10'];
const kept = (include: string[], exclude?: string[]): string[] => names.filter(compileInterfaceFilter(include, exclude));

test('empty include keeps every interface', () => {
  assert.deepEqual(kept([]), names);
});

test('exact names', () => {
  assert.deepEqual(kept(['eth0', 'lo']), ['lo', 'eth0']);
});

test('globs: *, ?, braces, classes', () => {
  assert.deepEqual(kept(['eth*']), ['eth0', 'eth1', 'eth10']);
  assert.deepEqual(kept(['eth?']), ['eth0', 'eth1']);
  assert.deepEqual(kept(['{eth,ens}*']), ['eth0', 'eth1', 'ens3', 'eth10']);
  assert.deepEqual(kept(['eth[01]']), ['eth0', 'eth1']);
});

test('exclude wins over include', () => {
  assert.deepEqual(kept(['eth*'], ['eth1*']), ['eth0']);
  assert.deepEqual(kept([], ['lo', 'veth*', 'cali*']), ['eth0', 'eth1', 'ens3', 'docker0', 'lxc_health', 'eth10']);
});

test('!pattern in include excludes', () => {
  assert.deepEqual(kept(['!lo', '!eth*']), ['ens3', 'veth1a2b', 'docker0', 'cali123', 'lxc_health']);
  assert.deepEqual(kept(['eth*', '!eth1']), ['eth0', 'eth10']);
});

test('glob matching is anchored: eth* does not match veth', () => {
  assert.equal(compileInterfaceFilter(['eth*'])('veth0'), false);
});

test('bad patterns throw NP_ERR_BAD_GLOB naming the pattern', () => {
  for (const bad of ['{eth,ens', '(eth', 'eth[', '{x', '', '  ', 'a/b', 'eth 0', 'averyveryverylongname']) {
    assert.throws(
      () => compileInterfaceFilter(['eth0', bad]),
      (e: unknown) =>
        e instanceof BadGlobError && e instanceof NetprobeError && e.code === 'NP_ERR_BAD_GLOB' && e.message.includes(JSON.stringify(bad)),
      `pattern ${JSON.stringify(bad)}`,
    );
  }
  assert.throws(() => compileInterfaceFilter([], ['{x']), BadGlobError);
});
