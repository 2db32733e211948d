/**
 * The drop meter's fast path in user space (bpf/drop-meter.h, dm_slots):
 * merging one read of dm_drops with one of dm_slots into a count per key,
 * and choosing which keys to give a free slot. Pure, so the rules are
 * unit-tested with hand-made buffers.
 *
 * A key's count is its dm_drops entry plus its slot, each summed over CPUs.
 * A slot whose key is all zero is free, except slot 0: the all-zero key
 * counts there from the start (the program matches it against a free slot's
 * zero key), so slot 0 is never claimed for another key.
 */
import { sumU64Column } from '../abi.js';
import type { MapBatch } from '../bpf-map.js';
import { ARRAY_KEY_SIZE, DM_OVERFLOW_REASON, DROP_KEY_SIZE, slotIndexOfKey, slotKeyAt } from './abi.js';

/** One key's count: `key` a copy of its encoded dm_key. */
export interface MergedDropEntry {
  key: Buffer;
  packets: bigint;
}

/** A free slot to give a key: write `encodeSlot(cpus, key)` at `index`. */
export interface SlotClaim {
  index: number;
  key: Buffer;
}

/** How a map's batch is laid out: bytes per element's value buffer, per CPU's value, and the CPU count. */
export interface PerCpuLayout {
  valueBufferSize: number;
  valueStride: number;
  cpus: number;
}

export function isZeroKey(key: Uint8Array): boolean {
  for (let i = 0; i < DROP_KEY_SIZE; i++) if (key[i] !== 0) return false;
  return true;
}

/** The overflow key (reason DM_OVERFLOW_REASON, netns and ifindex 0): never given a slot. */
export function isOverflowKey(key: Buffer, offset = 0): boolean {
  return key.readUInt32LE(offset + 8) === DM_OVERFLOW_REASON && key.readUInt32LE(offset) === 0 && key.readUInt32LE(offset + 4) === 0;
}

/** A slot's owner key and count; `owner` undefined when free. */
export interface SlotState {
  index: number;
  owner: Buffer | undefined;
  packets: bigint;
}

/** The slot at position `i` of a dm_slots batch read. */
export function slotAt(batch: MapBatch, i: number, layout: PerCpuLayout): SlotState {
  const index = batch.keys.readUInt32LE(i * ARRAY_KEY_SIZE);
  const at = i * layout.valueBufferSize;
  const key = slotKeyAt(batch.values, at);
  const packets = sumU64Column(batch.values, at, layout.cpus, layout.valueStride);
  return { index, owner: index === 0 || !isZeroKey(key) ? key : undefined, packets };
}

/**
 * One count per key from a dm_drops read and a dm_slots read (entries in
 * dm_drops' order, then keys only a slot holds), and the claims: each key
 * with drops in dm_drops whose slot is free (the first such key per slot),
 * never the overflow key.
 */
export function mergeDropReads(
  drops: MapBatch,
  dropsLayout: PerCpuLayout,
  slots: MapBatch,
  slotsLayout: PerCpuLayout,
): { entries: MergedDropEntry[]; claims: SlotClaim[] } {
  const byKey = new Map<string, MergedDropEntry>();
  const entries: MergedDropEntry[] = [];
  for (let i = 0; i < drops.count; i++) {
    const key = Buffer.from(drops.keys.subarray(i * DROP_KEY_SIZE, (i + 1) * DROP_KEY_SIZE));
    const entry = { key, packets: sumU64Column(drops.values, i * dropsLayout.valueBufferSize, dropsLayout.cpus, 8) };
    byKey.set(key.toString('latin1'), entry);
    entries.push(entry);
  }
  const free = new Set<number>();
  for (let i = 0; i < slots.count; i++) {
    const slot = slotAt(slots, i, slotsLayout);
    if (!slot.owner) {
      free.add(slot.index);
      continue;
    }
    const id = slot.owner.toString('latin1');
    const entry = byKey.get(id);
    if (entry) entry.packets += slot.packets;
    else if (slot.packets > 0n) {
      const added = { key: Buffer.from(slot.owner), packets: slot.packets };
      byKey.set(id, added);
      entries.push(added);
    }
  }
  const claims: SlotClaim[] = [];
  for (let i = 0; i < drops.count; i++) {
    const entry = entries[i]!;
    if (entry.packets === 0n || isOverflowKey(entry.key)) continue;
    const index = slotIndexOfKey(entry.key);
    if (!free.delete(index)) continue;
    claims.push({ index, key: entry.key });
  }
  return { entries, claims };
}
