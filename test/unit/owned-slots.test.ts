/**
 * The rules of src/bpf/owned-slots.ts (the socket and drop meters' fast path)
 * over an in-memory per-CPU array: pure logic, so a stand-in for the kernel
 * map. The kernel side is tested in test/privileged/socket-meter.test.ts and
 * drop-meter.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOwnedSlot, OwnedSlots, type SlotMap } from '../../src/bpf/owned-slots.js';

const CPUS = 2;
const SLOTS = 8;
/** struct { u64 count; u32 owner; u32 pad; }: the owner after the count, as in both meters. */
const STRIDE = 16;
const FIELD = { offset: 8, size: 4 };

/** A per-CPU array of SLOTS values, with a switch to make updates fail. */
class MemoryArray implements SlotMap {
  readonly keySize = 4;
  readonly valueStride = STRIDE;
  readonly valueBufferSize = STRIDE * CPUS;
  readonly maxEntries = SLOTS;
  readonly cpus = CPUS;
  readonly values = Buffer.alloc(STRIDE * CPUS * SLOTS);
  failUpdates = false;
  updates = 0;

  lookupAll(): { count: number; keys: Buffer; values: Buffer } {
    const keys = Buffer.alloc(4 * SLOTS);
    for (let i = 0; i < SLOTS; i++) keys.writeUInt32LE(i, i * 4);
    return { count: SLOTS, keys, values: Buffer.from(this.values) };
  }
  lookup(key: Buffer): Buffer {
    const at = key.readUInt32LE(0) * this.valueBufferSize;
    return Buffer.from(this.values.subarray(at, at + this.valueBufferSize));
  }
  update(key: Buffer, value: Buffer): void {
    if (this.failUpdates) throw new Error('EPERM');
    this.updates++;
    value.copy(this.values, key.readUInt32LE(0) * this.valueBufferSize);
  }
  /** What a program does: add to CPU `cpu`'s count of slot `index`. */
  count(index: number, cpu: number, n: number): void {
    const at = index * this.valueBufferSize + cpu * STRIDE;
    this.values.writeBigUInt64LE(this.values.readBigUInt64LE(at) + BigInt(n), at);
  }
  owner(index: number, cpu: number): number {
    return this.values.readUInt32LE(index * this.valueBufferSize + cpu * STRIDE + FIELD.offset);
  }
}

const owner = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};
/** Every owned slot's owner and its count summed over CPUs. */
function counts(slots: OwnedSlots): Array<[number, bigint]> {
  const out: Array<[number, bigint]> = [];
  slots.read((o, values, at) => {
    let sum = 0n;
    for (let cpu = 0; cpu < CPUS; cpu++) sum += values.readBigUInt64LE(at + cpu * STRIDE);
    out.push([o.readUInt32LE(0), sum]);
  });
  return out;
}

test('a claim writes the owner on every CPU with zero counts; a taken slot is not claimed again; an all-zero owner never', () => {
  const map = new MemoryArray();
  const slots = new OwnedSlots(map, FIELD);
  assert.equal(slots.claim(3, owner(11)), true);
  assert.deepEqual([map.owner(3, 0), map.owner(3, 1)], [11, 11]);
  assert.equal(slots.claim(3, owner(11)), true, 'already its own');
  assert.equal(slots.claim(3, owner(19)), false, "another owner's slot");
  assert.equal(slots.claim(4, owner(0)), false, 'the zero owner is a free slot');
  assert.equal(map.updates, 1);
  map.count(3, 0, 2);
  map.count(3, 1, 5);
  assert.deepEqual(counts(slots), [[11, 7n]]);
  assert.deepEqual(
    slots.owned().map((o) => o.readUInt32LE(0)),
    [11],
  );
});

test('owners are read back from the map (an adoption); a free slot with a stray count is no one', () => {
  const map = new MemoryArray();
  encodeOwnedSlot(owner(21), FIELD, STRIDE, CPUS).copy(map.values, 5 * map.valueBufferSize);
  map.count(5, 1, 4);
  map.count(6, 0, 1); // a count a program added while its slot was being released
  const slots = new OwnedSlots(map, FIELD);
  assert.deepEqual(counts(slots), [[21, 4n]]);
  assert.equal(slots.claim(6, owner(30)), true);
  assert.deepEqual(counts(slots), [
    [21, 4n],
    [30, 0n],
  ]);
});

test('release returns the last value and frees the slot; a failed zeroing is retried and never reported twice', () => {
  const map = new MemoryArray();
  const slots = new OwnedSlots(map, FIELD);
  slots.claim(2, owner(7));
  map.count(2, 0, 3);
  assert.equal(slots.release(2, owner(8)), undefined, 'not the owner');
  map.failUpdates = true;
  const last = slots.release(2, owner(7));
  assert.ok(last);
  assert.equal(last.readBigUInt64LE(0) + last.readBigUInt64LE(STRIDE), 3n);
  assert.equal(map.owner(2, 0), 7, 'the zeroing failed: still in the map');
  assert.deepEqual(counts(slots), [], 'a stale slot is never read');
  assert.equal(slots.claim(2, owner(9)), false, 'nor claimed while stale');
  map.failUpdates = false;
  assert.deepEqual(counts(slots), [], 'the read zeroes it first');
  assert.deepEqual([map.owner(2, 0), map.owner(2, 1), map.values.readBigUInt64LE(2 * map.valueBufferSize)], [0, 0, 0n]);
  assert.equal(slots.claim(2, owner(9)), true);
});

test('a failed claim leaves the slot free for the next try', () => {
  const map = new MemoryArray();
  const slots = new OwnedSlots(map, FIELD);
  map.failUpdates = true;
  assert.equal(slots.claim(1, owner(5)), false);
  assert.deepEqual(slots.owned(), []);
  map.failUpdates = false;
  assert.equal(slots.claim(1, owner(5)), true);
});
