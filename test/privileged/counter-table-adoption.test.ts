/**
 * Reading maps whole, against the real kernel maps of the shipped object
 * (loaded, not attached): `BpfMap.lookupAll` returns every element of a hash
 * or an array whatever its size hint (also when a hash bucket holds more
 * elements than there is room left); a restarted `CounterTable` adopts every
 * entry of a large np_overflow (not only the first few), continues each
 * interface's counts instead of zeroing them, releases the entries of
 * interfaces gone meanwhile, and `read()` finds every live interface however
 * many entries nobody tracks sit beside them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfObject, DEFAULT_OBJECT_PATH } from '../../src/bpf/index.js';
import { CounterTable } from '../../src/bpf/tc-counter/counter-table.js';
import { createMap } from '../../src/bpf/pinned-objects.js';
import { createOffsetMap } from '../../src/bpf/tc-counter/pinned-counters.js';
import type { BpfMap } from '../../src/bpf/bpf-map.js';
import {
  COUNTERS_SIZE,
  encodeOverflowKey,
  MAP_OVERFLOW,
  MAP_SLOTS,
  MAP_STATS,
  NP_EGRESS,
  NP_INGRESS,
  perCpuStride,
  type DirectionIndex,
} from '../../src/bpf/abi.js';
import { BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, libbpf } from '../../src/sys/libbpf.js';

/** The old read window: what tracked interfaces' entries plus 16 left room for. */
const OLD_SLACK = 16;

/** A per-CPU np_counters value: CPU c counts `packets + c` packets and ten bytes per packet. */
function perCpuCounters(map: BpfMap, packets: number): Buffer {
  const stride = perCpuStride(COUNTERS_SIZE);
  const value = Buffer.alloc(stride * map.cpus);
  for (let cpu = 0; cpu < map.cpus; cpu++) {
    value.writeBigUInt64LE(BigInt(packets + cpu), cpu * stride);
    value.writeBigUInt64LE(BigInt((packets + cpu) * 10), cpu * stride + 8);
    value.writeBigUInt64LE(BigInt(packets + cpu), cpu * stride + 16);
  }
  return value;
}

/** What `read()` must return for an entry written with `perCpuCounters(map, packets)`. */
function expectedSum(map: BpfMap, packets: number): { packets: bigint; bytes: bigint } {
  let sum = 0;
  for (let cpu = 0; cpu < map.cpus; cpu++) sum += packets + cpu;
  return { packets: BigInt(sum), bytes: BigInt(sum * 10) };
}

const closeFd = (map: BpfMap): void => void libbpf().close(map.fd);

test('lookupAll reads every element of a hash and of an array, whatever the size hint', (t) => {
  // 1,000 elements in a 4,096-entry hash: read with hints far below (1, 16), at and above the count.
  const hash = createMap(BPF_MAP_TYPE_PERCPU_HASH, 'np_test_hash', 8, COUNTERS_SIZE, 4096, 1);
  t.after(() => closeFd(hash));
  const written = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const key = encodeOverflowKey(5000 + (i >> 1), (i & 1) as DirectionIndex);
    hash.update(key, perCpuCounters(hash, i));
    written.set(key.toString('hex'), i);
  }
  for (const hint of [1, OLD_SLACK, 999, 1000, 4096]) {
    const batch = hash.lookupAll(hint);
    assert.equal(batch.count, 1000, `hint ${hint}: ${batch.count} of 1000 elements read`);
    const seen = new Set<string>();
    for (let i = 0; i < batch.count; i++) {
      const key = batch.keys.subarray(i * hash.keySize, (i + 1) * hash.keySize).toString('hex');
      const at = i * hash.valueBufferSize;
      assert.deepEqual(
        batch.values.subarray(at, at + hash.valueBufferSize),
        perCpuCounters(hash, written.get(key)!),
        `hint ${hint}: value of ${key}`,
      );
      seen.add(key);
    }
    assert.equal(seen.size, 1000, `hint ${hint}: every key once`);
  }
  // Reused buffers too small for the map: it grows them and says so by returning new ones.
  const small = { keys: Buffer.alloc(8 * 4), values: Buffer.alloc(hash.valueBufferSize * 4) };
  const grown = hash.lookupAll(4, small);
  assert.equal(grown.count, 1000);
  assert.ok(grown.keys.length >= 8 * 1000);

  // Full, small hash: 64 keys in 64 buckets share buckets (all distinct has odds of about 1e-27),
  // so reading with room for one element at a time meets a bucket of two or more (-ENOSPC), and must go on.
  const tight = createMap(BPF_MAP_TYPE_PERCPU_HASH, 'np_test_tight', 8, COUNTERS_SIZE, 64, 1);
  t.after(() => closeFd(tight));
  for (let i = 0; i < 64; i++) tight.update(encodeOverflowKey(i + 1, NP_INGRESS), perCpuCounters(tight, i));
  assert.equal(tight.lookupAll(1).count, 64);

  // An array holds max_entries elements; its last batch ends without -ENOENT.
  const array = createMap(BPF_MAP_TYPE_ARRAY, 'np_test_array', 4, 8, 300);
  t.after(() => closeFd(array));
  for (const hint of [1, 7, 300]) assert.equal(array.lookupAll(hint).count, 300, `array, hint ${hint}`);
});

test('a restarted CounterTable adopts every np_overflow entry, keeps its counts, releases the gone, and reads past untracked entries', (t) => {
  const object = BpfObject.open(DEFAULT_OBJECT_PATH);
  t.after(() => object.close());
  object.load();
  const offsets = createOffsetMap();
  t.after(() => closeFd(offsets));
  const table = (): CounterTable => new CounterTable(object.map(MAP_SLOTS), object.map(MAP_OVERFLOW), object.map(MAP_STATS), offsets);
  const overflow = object.map(MAP_OVERFLOW);

  // 60 interfaces own slots (ifindex 2..61); 60 more collide with them (1026..1085): 120 overflow entries.
  const low = Array.from({ length: 60 }, (_, i) => 2 + i);
  const high = low.map((i) => 1024 + i);
  const first = table();
  for (const ifindex of low) assert.equal(first.claim(ifindex), 'slot');
  for (const ifindex of high) assert.equal(first.claim(ifindex), 'overflow');
  // Counts the program would have made: a distinct value per (ifindex, direction).
  const packetsOf = (ifindex: number, direction: DirectionIndex): number => ifindex * 2 + direction;
  for (const ifindex of high)
    for (const direction of [NP_INGRESS, NP_EGRESS] as const)
      overflow.update(encodeOverflowKey(ifindex, direction), perCpuCounters(overflow, packetsOf(ifindex, direction)));

  // A restart: a new table over the same (pinned) maps, while 20 of the overflow interfaces were deleted.
  const gone = new Set(high.slice(0, 20));
  const live = high.filter((i) => !gone.has(i));
  const second = table();
  second.adoptKernelEntries();
  assert.equal(second.overflowCount, 60, 'every overflow interface adopted');
  for (const ifindex of high) assert.equal(second.placement(ifindex), 'overflow', `ifindex ${ifindex}`);
  for (const ifindex of gone) second.release(ifindex);
  const keys = second
    .overflowEntries()
    .map((k) => k.ifindex)
    .sort((a, b) => a - b);
  assert.deepEqual(
    keys,
    live.flatMap((i) => [i, i]).sort((a, b) => a - b),
    'only the live interfaces have entries left',
  );

  // Entries nobody tracks (more than the old slack) beside the live ones: read() still finds every live one.
  for (let i = 0; i < 40; i++) overflow.update(encodeOverflowKey(3000 + i, NP_INGRESS), perCpuCounters(overflow, 1));
  const rows = second.read(live.map((ifindex) => ({ ifindex, name: `if${ifindex}` })));
  const wrong: string[] = [];
  for (const r of rows) {
    const want = expectedSum(overflow, packetsOf(r.ifindex, r.direction === 'ingress' ? NP_INGRESS : NP_EGRESS));
    if (r.packets !== want.packets || r.bytes !== want.bytes)
      wrong.push(`${r.ifindex} ${r.direction}: ${r.packets}/${r.bytes}, want ${want.packets}/${want.bytes}`);
  }
  assert.deepEqual(wrong, [], `${wrong.length} of ${rows.length} rows wrong`);
  assert.equal(rows.length, live.length * 2);
});
