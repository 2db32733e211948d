/**
 * The socket meter's fast path, owned by user space: sm_slots, a per-CPU
 * array where a cgroup counts with one array lookup instead of a per-CPU hash
 * lookup (bpf/socket-meter.h). An update writes every CPU's copy, so only
 * user space claims (owner = id, counters 0) and releases (all 0) slots; the
 * program only adds to a slot whose owner is the packet's cgroup. The owners
 * are read from the map itself, so an adopted meter continues with them.
 */
import type { BpfMap, MapBatch } from '../bpf-map.js';
import { BPF_ANY } from '../../sys/libbpf.js';
import { encodeArrayKey } from '../abi.js';
import { encodeSmSlot, smSlotIndex, smSlotOwner, SM_OVERFLOW_CGROUP, sumSlotCounts, type SocketCounts } from './abi.js';

export class CgroupSlots {
  /** Slot index → the cgroup id that owns it. */
  private readonly owners = new Map<number, bigint>();
  /** Slots whose release failed after their counts were handed out: never read, released again before each read. */
  private readonly stale = new Set<number>();
  private readonly zero: Buffer;
  private buffers: { keys: Buffer; values: Buffer } | undefined;

  constructor(private readonly map: BpfMap) {
    this.zero = encodeSmSlot(0n, map.cpus);
    const batch = this.readAll();
    for (let i = 0; i < batch.count; i++) {
      const owner = smSlotOwner(batch.values, i * map.valueBufferSize);
      if (owner !== 0n) this.owners.set(batch.keys.readUInt32LE(i * map.keySize), owner);
    }
  }

  /** The cgroup ids owning a slot, as this table has them (the kernel's at open, then our claims and releases). */
  owned(): bigint[] {
    return [...this.owners.values()];
  }

  /** Counts of every owned slot, summed over CPUs: one batch read of the whole array. */
  read(): Map<bigint, SocketCounts> {
    for (const index of this.stale) this.zeroSlot(index);
    const out = new Map<bigint, SocketCounts>();
    if (this.owners.size === 0) return out;
    const batch = this.readAll();
    for (let i = 0; i < batch.count; i++) {
      const index = batch.keys.readUInt32LE(i * this.map.keySize);
      const owner = this.owners.get(index);
      const at = i * this.map.valueBufferSize;
      if (owner !== undefined && smSlotOwner(batch.values, at) === owner) out.set(owner, sumSlotCounts(batch.values, at, this.map.cpus));
    }
    return out;
  }

  /**
   * Gives `cgroupId` its slot when that slot is free; returns whether it owns
   * it now. Never the overflow id 0. Never throws: a failed claim leaves the
   * cgroup counting in the hash, and the next read tries again.
   */
  claim(cgroupId: bigint): boolean {
    if (cgroupId === SM_OVERFLOW_CGROUP) return false;
    const index = smSlotIndex(cgroupId);
    const owner = this.owners.get(index);
    if (owner !== undefined || this.stale.has(index)) return owner === cgroupId;
    try {
      this.map.update(encodeArrayKey(index), encodeSmSlot(cgroupId, this.map.cpus), BPF_ANY);
    } catch {
      return false;
    }
    this.owners.set(index, cgroupId);
    return true;
  }

  /**
   * Frees the slot of a cgroup that is gone and returns its final counts
   * (undefined: it owned none). Never throws. A packet of a lingering socket counted between
   * this read and the zeroing is lost; after it, such packets go to the hash.
   */
  release(cgroupId: bigint): SocketCounts | undefined {
    const index = smSlotIndex(cgroupId);
    if (this.owners.get(index) !== cgroupId) return undefined;
    this.owners.delete(index);
    this.stale.add(index);
    let counts: SocketCounts | undefined;
    try {
      const value = this.map.lookup(encodeArrayKey(index));
      if (value && smSlotOwner(value, 0) === cgroupId) counts = sumSlotCounts(value, 0, this.map.cpus);
    } catch {
      // Unreadable (never seen): its counts are lost, but the slot is freed all the same.
    }
    this.zeroSlot(index);
    return counts;
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
