/**
 * The persistence settings (--ebpf.pin-path, --ebpf.cleanup, --ebpf.object)
 * through the one schema: flags, env and file agree; cleanup without a pin
 * path is a configuration problem naming what is missing; the pin-path
 * layout names are what bpffs accepts (no dots).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigFrom } from '../support/config-input.js';
import { PIN_DIR_PREFIX } from '../../src/bpf/pin-store.js';

const load = loadConfigFrom;

test('pin path, cleanup and object come from flags, env and the config file', () => {
  const fromFlags = load(['--ebpf.pin-path=/sys/fs/bpf/np', '--ebpf.cleanup', '--ebpf.object=/opt/np.o']);
  assert.ok(fromFlags.ok);
  assert.deepEqual(
    [fromFlags.settings.pinPath, fromFlags.settings.cleanup, fromFlags.settings.objectFile],
    ['/sys/fs/bpf/np', true, '/opt/np.o'],
  );
  const fromEnv = load([], { NETPROBE_EBPF_PIN_PATH: '/sys/fs/bpf/e' });
  assert.ok(fromEnv.ok);
  assert.equal(fromEnv.settings.pinPath, '/sys/fs/bpf/e');
  const fromFile = load(['--config.file=c.yaml'], {}, { 'c.yaml': 'ebpf:\n  pinPath: /sys/fs/bpf/f\n' });
  assert.ok(fromFile.ok, JSON.stringify(fromFile));
  assert.equal(fromFile.settings.pinPath, '/sys/fs/bpf/f');
  const defaults = load([]);
  assert.ok(defaults.ok);
  assert.deepEqual([defaults.settings.pinPath, defaults.settings.cleanup], ['', false], 'off by default: nothing outlives the process');
});

test('--ebpf.cleanup without a pin path is a configuration problem', () => {
  const r = load(['--ebpf.cleanup']);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.problems.some((p) => p.field === '--ebpf.cleanup' && /needs --ebpf.pin-path/.test(p.message)), JSON.stringify(r));
});

test('pin directory names contain no dot (bpffs refuses them)', () => {
  assert.ok(!PIN_DIR_PREFIX.includes('.'));
});
