/**
 * The counter entries in the kernel maps, owned by user space: the program
 * only ever updates entries that exist. Before an interface is attached we
 * claim its two slots in np_slots (both directions, every CPU, counters
 * zero) or, when another interface holds that slot, create its two entries
 * in np_overflow; after detaching we clear them. So a packet still in flight
 * cannot resurrect a deleted interface, and a reused ifindex starts at zero.
 */
import { constants as os } from 'node:os';
import type { CounterRow } from '../../source/counter-source.js';
import { NetprobeError } from '../../errors/index.js';
import {
  COUNTERS_SIZE,
  decodeOverflowKey,
  encodeArrayKey,
  encodeOverflowKey,
  encodeSlotClaim,
  encodeZeroCounters,
  NP_EGRESS,
  NP_INGRESS,
  NP_SLOTS,
  NP_STAT_UNCOUNTED,
  slotIndex,
  slotOwner,
  sumPerCpuCounters,
  sumPerCpuU64,
  type Counters,
  type DirectionIndex,
} from '../abi.js';
import type { BpfMap, MapBatch } from '../bpf-map.js';
import { BpfCallError } from '../errors.js';
import { BPF_ANY } from '../../sys/libbpf.js';

/** Where an interface's counters live. */
export type Placement = 'slot' | 'overflow';

/** np_overflow has no room left for another interface. */
export class MapFullError extends NetprobeError {
  constructor(ifindex: number, cause: unknown) {
    super('NP_ERR_MAP_FULL', `count ifindex ${ifindex}: its slot is taken and the overflow map np_overflow is full`, { cause });
    this.name = 'MapFullError';
  }
}

const FULL_ERRNOS = new Set([os.errno.E2BIG, os.errno.ENOSPC, os.errno.ENOMEM]);
const ZERO: Counters = { packets: 0n, bytes: 0n, segments: 0n };
/** Offset key (ifindex 0, ingress) of the uncounted-packets counter. */
const UNCOUNTED_OFFSET_KEY = 0;
/** Counters sit after `u32 ifindex, u32 reserved` in each CPU's np_slot. */
const SLOT_COUNTERS_OFFSET = 8;

export class CounterTable {
  /** Slot base (ifindex & (NP_SLOTS-1)) → the ifindex that owns it. */
  private readonly slotOwners = new Map<number, number>();
  private readonly overflowed = new Set<number>();
  private readonly slotBuffers: { keys: Buffer; values: Buffer };
  private overflowBuffers: { keys: Buffer; values: Buffer } | undefined;
  private readonly zeroSlots: Buffer;

  /** Counts carried over from a predecessor with another BPF object (an upgrade), by ifindex * 2 + direction. */
  private readonly offsets = new Map<number, Counters>();

  constructor(
    private readonly slots: BpfMap,
    private readonly overflow: BpfMap,
    private readonly stats: BpfMap,
    /** Where offsets persist (a pinned user-space hash: np_key → np_counters); none without a pin path. */
    private readonly offsetStore?: BpfMap,
  ) {
    this.slotBuffers = {
      keys: Buffer.alloc(slots.keySize * slots.maxEntries),
      values: Buffer.alloc(slots.valueBufferSize * slots.maxEntries),
    };
    this.zeroSlots = encodeSlotClaim(0, slots.cpus);
  }

  placement(ifindex: number): Placement | undefined {
    if (this.slotOwners.get(ifindex & (NP_SLOTS - 1)) === ifindex) return 'slot';
    return this.overflowed.has(ifindex) ? 'overflow' : undefined;
  }

  /** Number of interfaces whose counters live in np_overflow. */
  get overflowCount(): number {
    return this.overflowed.size;
  }

  /**
   * Takes the entries already in the kernel maps as ours (adopting pinned
   * maps after a restart): slot owners, every overflow key and every stored
   * offset. Nothing may be left unread: an interface whose entries were not
   * taken would be claimed afresh (its counts zeroed), one gone meanwhile would never be released.
   */
  adoptKernelEntries(): void {
    for (const ifindex of this.slotEntries()) this.slotOwners.set(ifindex & (NP_SLOTS - 1), ifindex);
    for (const { ifindex } of this.overflowEntries()) this.overflowed.add(ifindex);
    if (!this.offsetStore) return;
    const batch = this.offsetStore.lookupAll(this.offsetStore.maxEntries);
    for (let i = 0; i < batch.count; i++) {
      const key = decodeOverflowKey(batch.keys, i * this.offsetStore.keySize);
      const at = i * this.offsetStore.valueBufferSize;
      this.offsets.set(key.ifindex * 2 + key.direction, {
        packets: batch.values.readBigUInt64LE(at),
        bytes: batch.values.readBigUInt64LE(at + 8),
        segments: batch.values.readBigUInt64LE(at + 16),
      });
    }
  }

  /** Every ifindex with an entry (slot or overflow). */
  entries(): number[] {
    return [...new Set([...this.slotOwners.values(), ...this.overflowed])];
  }

  /** Adds counts to an interface's offset (kept in the offset store, so a restart keeps them too). */
  addOffset(ifindex: number, direction: DirectionIndex, add: Counters): void {
    const k = ifindex * 2 + direction;
    const prev = this.offsets.get(k) ?? ZERO;
    const next = { packets: prev.packets + add.packets, bytes: prev.bytes + add.bytes, segments: prev.segments + add.segments };
    if (this.offsetStore) {
      const value = Buffer.alloc(COUNTERS_SIZE);
      value.writeBigUInt64LE(next.packets, 0);
      value.writeBigUInt64LE(next.bytes, 8);
      value.writeBigUInt64LE(next.segments, 16);
      this.offsetStore.update(encodeOverflowKey(ifindex, direction), value, BPF_ANY);
    }
    this.offsets.set(k, next);
  }

  /** Creates zeroed counter entries for both directions. Throws MapFullError when there is no room. */
  claim(ifindex: number): Placement {
    const existing = this.placement(ifindex);
    if (existing) this.release(ifindex);
    else this.dropOffsets(ifindex);
    const base = ifindex & (NP_SLOTS - 1);
    if (!this.slotOwners.has(base)) {
      const claim = encodeSlotClaim(ifindex, this.slots.cpus);
      this.slots.update(encodeArrayKey(slotIndex(ifindex, NP_INGRESS)), claim, BPF_ANY);
      this.slots.update(encodeArrayKey(slotIndex(ifindex, NP_EGRESS)), claim, BPF_ANY);
      this.slotOwners.set(base, ifindex);
      return 'slot';
    }
    const zero = encodeZeroCounters(this.overflow.cpus);
    try {
      this.overflow.update(encodeOverflowKey(ifindex, NP_INGRESS), zero, BPF_ANY);
      this.overflow.update(encodeOverflowKey(ifindex, NP_EGRESS), zero, BPF_ANY);
    } catch (e) {
      this.overflow.delete(encodeOverflowKey(ifindex, NP_INGRESS));
      if (e instanceof BpfCallError && FULL_ERRNOS.has(e.errno)) throw new MapFullError(ifindex, e);
      throw e;
    }
    this.overflowed.add(ifindex);
    return 'overflow';
  }

  /** Clears (slot) or deletes (overflow) both directions' entries. Idempotent. */
  release(ifindex: number): void {
    const base = ifindex & (NP_SLOTS - 1);
    if (this.slotOwners.get(base) === ifindex) {
      this.slots.update(encodeArrayKey(slotIndex(ifindex, NP_INGRESS)), this.zeroSlots, BPF_ANY);
      this.slots.update(encodeArrayKey(slotIndex(ifindex, NP_EGRESS)), this.zeroSlots, BPF_ANY);
      this.slotOwners.delete(base);
    }
    if (this.overflowed.delete(ifindex)) {
      this.overflow.delete(encodeOverflowKey(ifindex, NP_INGRESS));
      this.overflow.delete(encodeOverflowKey(ifindex, NP_EGRESS));
    }
    this.dropOffsets(ifindex);
  }

  private dropOffsets(ifindex: number): void {
    for (const direction of [NP_INGRESS, NP_EGRESS] as const) {
      if (this.offsets.delete(ifindex * 2 + direction)) this.offsetStore?.delete(encodeOverflowKey(ifindex, direction));
    }
  }

  /**
   * Both directions of every given interface, per-CPU values summed: a batch
   * read of all of np_slots, plus one of all of np_overflow when it is in use.
   */
  read(interfaces: Iterable<{ ifindex: number; name: string }>): CounterRow[] {
    const slotBatch = this.slots.lookupAll(this.slots.maxEntries, this.slotBuffers);
    const slotStride = this.slots.valueStride;
    const slotValue = (ifindex: number, dir: DirectionIndex): Counters => {
      const index = slotIndex(ifindex, dir);
      const at = index * this.slots.valueBufferSize;
      if (index >= slotBatch.count || slotOwner(slotBatch.values, at) !== ifindex) return ZERO;
      return sumPerCpuCounters(slotBatch.values, at, this.slots.cpus, slotStride, SLOT_COUNTERS_OFFSET);
    };

    // np_overflow: where each (ifindex, direction) sits in the batch; summed only when a row asks.
    const overflowAt = new Map<number, number>();
    let overflowBatch: MapBatch | undefined;
    if (this.overflowed.size > 0) {
      // Every entry is read, however many the map holds (the buffers grow when entries nobody tracks are there too).
      overflowBatch = this.overflow.lookupAll(this.overflowed.size * 2 + 16, this.overflowBuffers);
      this.overflowBuffers = { keys: overflowBatch.keys, values: overflowBatch.values };
      for (let i = 0; i < overflowBatch.count; i++) {
        const key = decodeOverflowKey(overflowBatch.keys, i * this.overflow.keySize);
        overflowAt.set(key.ifindex * 2 + key.direction, i * this.overflow.valueBufferSize);
      }
    }
    const overflowValue = (ifindex: number, dir: DirectionIndex): Counters => {
      const at = overflowAt.get(ifindex * 2 + dir);
      if (at === undefined || !overflowBatch) return ZERO;
      return sumPerCpuCounters(overflowBatch.values, at, this.overflow.cpus, this.overflow.valueStride, 0);
    };

    const rows: CounterRow[] = [];
    for (const { ifindex, name } of interfaces) {
      const where = this.placement(ifindex);
      const read = where === 'slot' ? slotValue : where === 'overflow' ? overflowValue : () => ZERO;
      this.pushRows(rows, ifindex, name, read(ifindex, NP_INGRESS), read(ifindex, NP_EGRESS));
    }
    return rows;
  }

  /** Both directions of one interface by element lookups, not a whole-map read (a deleted interface's final counts). */
  readOne(ifindex: number, name: string): CounterRow[] {
    const where = this.placement(ifindex);
    const value = (dir: DirectionIndex): Counters => {
      if (where === 'slot') {
        const v = this.slots.lookup(encodeArrayKey(slotIndex(ifindex, dir)));
        if (!v || slotOwner(v, 0) !== ifindex) return ZERO;
        return sumPerCpuCounters(v, 0, this.slots.cpus, this.slots.valueStride, SLOT_COUNTERS_OFFSET);
      }
      if (where === 'overflow') {
        const v = this.overflow.lookup(encodeOverflowKey(ifindex, dir));
        return v ? sumPerCpuCounters(v, 0, this.overflow.cpus, this.overflow.valueStride, 0) : ZERO;
      }
      return ZERO;
    };
    const rows: CounterRow[] = [];
    this.pushRows(rows, ifindex, name, value(NP_INGRESS), value(NP_EGRESS));
    return rows;
  }

  /** Appends the two rows of an interface, with any counts carried over from an older object added. */
  private pushRows(rows: CounterRow[], ifindex: number, name: string, ingress: Counters, egress: Counters): void {
    if (this.offsets.size > 0) {
      ingress = plus(ingress, this.offsets.get(ifindex * 2 + NP_INGRESS));
      egress = plus(egress, this.offsets.get(ifindex * 2 + NP_EGRESS));
    }
    rows.push(
      { ifindex, name, direction: 'ingress', packets: ingress.packets, bytes: ingress.bytes, segments: ingress.segments },
      { ifindex, name, direction: 'egress', packets: egress.packets, bytes: egress.bytes, segments: egress.segments },
    );
  }

  /** Packets that reached an attached hook with no counter entry (np_stats). */
  uncountedPackets(): bigint {
    const value = this.stats.lookup(encodeArrayKey(NP_STAT_UNCOUNTED));
    // An upgrade carries the older object's count under ifindex 0 (never an interface's).
    const carried = this.offsets.get(UNCOUNTED_OFFSET_KEY)?.packets ?? 0n;
    return (value ? sumPerCpuU64(value, 0, this.stats.cpus) : 0n) + carried;
  }

  /** Carries an older object's uncounted packets over (an upgrade), so that counter never goes backwards. */
  addUncountedOffset(packets: bigint): void {
    if (packets > 0n) this.addOffset(0, NP_INGRESS, { packets, bytes: 0n, segments: 0n });
  }

  /**
   * Every key in np_overflow, as the kernel has it: all of them, also those
   * no interface of ours claims (adoption takes them all, and releases those of interfaces gone).
   */
  overflowEntries(): Array<{ ifindex: number; direction: DirectionIndex }> {
    const batch = this.overflow.lookupAll(this.overflowed.size * 2 + 16);
    return Array.from({ length: batch.count }, (_, i) => decodeOverflowKey(batch.keys, i * this.overflow.keySize));
  }

  /** ifindexes that own a slot, as the kernel has it (for tests and diagnostics). */
  slotEntries(): number[] {
    const batch = this.slots.lookupAll(this.slots.maxEntries);
    const owners = new Set<number>();
    for (let i = 0; i < batch.count; i++) {
      const owner = slotOwner(batch.values, i * this.slots.valueBufferSize);
      if (owner !== 0) owners.add(owner);
    }
    return [...owners].sort((a, b) => a - b);
  }
}

function plus(a: Counters, b: Counters | undefined): Counters {
  return b ? { packets: a.packets + b.packets, bytes: a.bytes + b.bytes, segments: a.segments + b.segments } : a;
}
