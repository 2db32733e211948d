/**
 * A per-CPU array of slots whose owners only user space sets: the fast path
 * of the socket and drop meters (bpf/socket-meter.h sm_slots, bpf/drop-meter.h
 * dm_slots). A map update writes every CPU's copy, so user space claims a free
 * slot (counters zero, owner set, on every CPU at once) and releases it (all
 * zero); a program only adds to a slot whose owner equals its own key and
 * never matches the all-zero owner of a free slot. The owners are read from
 * the map at open, so an adopted meter continues with them.
 */
import { BPF_ANY } from '../sys/libbpf.js';
import { encodeArrayKey } from './abi.js';
import type { BpfMap, MapBatch } from './bpf-map.js';

/** What of a map this table uses (a per-CPU array keyed by u32 index). */
export type SlotMap = Pick<
  BpfMap,
  'lookupAll' | 'lookup' | 'update' | 'keySize' | 'valueStride' | 'valueBufferSize' | 'maxEntries' | 'cpus'
>;

/** Where each CPU's slot keeps its owner: `size` bytes at `offset`, after the counters. */
export interface OwnerField {
  offset: number;
  size: number;
}

/** A per-CPU slot value owned by `owner` with zero counters (an all-zero owner: a free slot). Pure. */
export function encodeOwnedSlot(owner: Uint8Array, field: OwnerField, stride: number, cpus: number): Buffer {
  const b = Buffer.alloc(stride * cpus);
  for (let cpu = 0; cpu < cpus; cpu++) b.set(owner.subarray(0, field.size), cpu * stride + field.offset);
  return b;
}

export class OwnedSlots {
  /** Slot index → its owner's bytes. */
  private readonly owners = new Map<number, Buffer>();
  /** Slots whose release failed after their counts were handed out: never read, released again before each read. */
  private readonly stale = new Set<number>();
  private readonly zero: Buffer;
  private buffers: { keys: Buffer; values: Buffer } | undefined;

  constructor(
    private readonly map: SlotMap,
    private readonly field: OwnerField,
  ) {
    this.zero = Buffer.alloc(map.valueBufferSize);
    const batch = this.readAll();
    for (let i = 0; i < batch.count; i++) {
      const owner = this.ownerAt(batch.values, i * map.valueBufferSize);
      if (owner.some((b) => b !== 0)) this.owners.set(batch.keys.readUInt32LE(i * map.keySize), Buffer.from(owner));
    }
  }

  /** The owners, as this table has them (the map's at open, then its claims and releases). */
  owned(): Buffer[] {
    return [...this.owners.values()];
  }

  /**
   * Calls `visit` with each owned slot the map still holds for its owner: the
   * owner and where its per-CPU value sits in `values`. One batch read of the
   * whole array; none while nothing is owned.
   */
  read(visit: (owner: Buffer, values: Buffer, offset: number) => void): void {
    for (const index of this.stale) this.zeroSlot(index);
    if (this.owners.size === 0) return;
    const batch = this.readAll();
    for (let i = 0; i < batch.count; i++) {
      const owner = this.owners.get(batch.keys.readUInt32LE(i * this.map.keySize));
      const at = i * this.map.valueBufferSize;
      if (owner && this.ownerAt(batch.values, at).equals(owner)) visit(owner, batch.values, at);
    }
  }

  /**
   * Gives `owner` slot `index` when that slot is free; returns whether it owns
   * it now. Never throws: a failed claim leaves the key counting in the hash,
   * and the next read may try again.
   */
  claim(index: number, owner: Buffer): boolean {
    const held = this.owners.get(index);
    if (held !== undefined || this.stale.has(index)) return held?.equals(owner) ?? false;
    if (owner.every((b) => b === 0)) return false; // the programs never match it
    try {
      this.map.update(encodeArrayKey(index), encodeOwnedSlot(owner, this.field, this.map.valueStride, this.map.cpus), BPF_ANY);
    } catch {
      return false;
    }
    this.owners.set(index, Buffer.from(owner));
    return true;
  }

  /**
   * Frees slot `index` if `owner` holds it and returns its last per-CPU value
   * (undefined: it held none, or it was unreadable). Never throws. A count a
   * program adds between this read and the zeroing is lost; after it, that
   * key's counts go to the hash.
   */
  release(index: number, owner: Buffer): Buffer | undefined {
    if (!this.owners.get(index)?.equals(owner)) return undefined;
    this.owners.delete(index);
    this.stale.add(index);
    let value: Buffer | undefined;
    try {
      const v = this.map.lookup(encodeArrayKey(index));
      if (v && this.ownerAt(v, 0).equals(owner)) value = v;
    } catch {
      // Unreadable (never seen): its counts are lost, but the slot is freed all the same.
    }
    this.zeroSlot(index);
    return value;
  }

  /** CPU 0's copy of the owner (user space writes every CPU alike). */
  private ownerAt(values: Buffer, offset: number): Buffer {
    return values.subarray(offset + this.field.offset, offset + this.field.offset + this.field.size);
  }

  private zeroSlot(index: number): void {
    try {
      this.map.update(encodeArrayKey(index), this.zero, BPF_ANY);
      this.stale.delete(index);
    } catch {
      // Stays stale: read() tries again; its counts are never reported twice.
    }
  }

  private readAll(): MapBatch {
    const batch = this.map.lookupAll(this.map.maxEntries, this.buffers);
    this.buffers = { keys: batch.keys, values: batch.values };
    return batch;
  }
}
