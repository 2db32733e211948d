/**
 * A carry-over record that is not one netprobe wrote (here a deflate bomb: a
 * valid record once inflated, 32 MiB from 32 KiB) is input to refuse, not to
 * trust: written into the pinned np_carry map of a private bpffs while
 * netprobe is down, the next start says in one line why it ignores it, serves
 * at once, and the next collection overwrites it with a good record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { CarryOverMap, MAP_CARRY } from '../../src/bpf/carry-over-map.js';
import { decodeCarriedState } from '../../src/collector/carry-over-record.js';
import { libbpf } from '../../src/sys/libbpf.js';
import { privateBpffs } from '../support/bpffs.js';
import { Netns } from '../support/netns.js';
import { fetchIn } from '../support/netns-http.js';
import { cliCommand, startNetprobe } from '../support/netprobe-process.js';

/** The pinned carry-over map of the one netprobe pin directory under `pinPath`. */
function openCarryMap(pinPath: string): CarryOverMap {
  const dirs = readdirSync(pinPath).filter((d) => d.startsWith('netprobe-bpf-'));
  assert.equal(dirs.length, 1, `pin directories: ${dirs.join(', ')}`);
  const fd = libbpf().objGet(join(pinPath, dirs[0]!, 'maps', MAP_CARRY));
  assert.ok(fd >= 0, `bpf_obj_get of ${MAP_CARRY}: ${fd}`);
  const map = CarryOverMap.fromFd(fd);
  assert.ok(map, `${MAP_CARRY} has the carry-over layout`);
  return map;
}

test('a bad carry-over record in the pinned map is logged, ignored and overwritten; netprobe serves', { timeout: 90_000 }, async (t) => {
  const ns = await Netns.create('npcarry');
  t.after(() => ns.delete());
  const bpffs = await privateBpffs();
  t.after(() => bpffs.cleanup());
  const pinPath = join(bpffs.dir, 'netprobe');
  const logs = mkdtempSync(join(tmpdir(), 'np-carry-logs-'));
  t.after(() => rmSync(logs, { recursive: true, force: true }));
  const args = ['--collector.pods', `--kubernetes.pod-logs-dir=${logs}`, '--collector.interval=500ms', `--ebpf.pin-path=${pinPath}`];
  t.after(async () => {
    const [cmd, cmdArgs] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup']);
    await ns.exec(cmd, cmdArgs).catch(() => undefined);
  });

  const first = await startNetprobe(ns, args);
  t.after(() => first.stop('SIGKILL'));
  assert.equal(await first.stop('SIGTERM'), 0);

  const bomb = deflateRawSync(
    Buffer.concat([Buffer.from('{"v":1,"interfaces":[],'), Buffer.alloc(32 * 1024 * 1024, ' '), Buffer.from('"namespaces":[]}')]),
    { level: 9 },
  );
  const carry = openCarryMap(pinPath);
  t.after(() => carry.close());
  carry.write(bomb);
  assert.equal(Buffer.compare(Buffer.from(carry.read() ?? []), bomb), 0, 'the bad record is in the pinned map');

  const second = await startNetprobe(ns, args);
  t.after(() => second.stop('SIGKILL'));
  const refused = second
    .output()
    .split('\n')
    .filter((l) => l.includes('carried-over pod state cannot be used'));
  assert.equal(refused.length, 1, second.output());
  assert.match(refused[0]!, /it inflates to more than \d+ bytes\).*ignored and replaced by the next collection's record/);
  const { status, body } = await fetchIn(ns, second.port, '/metrics');
  assert.equal(status, 200);
  assert.match(body, /^netprobe_up 1$/m);

  // The next collection writes its own record over the bad one.
  const deadline = Date.now() + 30_000;
  let now = carry.read();
  while (now && Buffer.compare(Buffer.from(now), bomb) === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    now = carry.read();
  }
  assert.ok(now && Buffer.compare(Buffer.from(now), bomb) !== 0, 'the bad record was overwritten');
  assert.deepEqual(decodeCarriedState(now), { interfaces: [], namespaces: [] }, 'by a good record (no pods on this node)');
  assert.equal(await second.stop('SIGTERM'), 0);
});
