/**
 * The TypeScript mirror of bpf/netprobe.h: constants, sizes, and pure
 * encoders/decoders of the map keys and values. Change both together; the
 * loader compares these sizes with the loaded object's maps at start.
 */

export const NP_SLOT_BITS = 10;
export const NP_SLOTS = 1 << NP_SLOT_BITS;
export const NP_OVERFLOW_MAX = 16384;

export const NP_INGRESS = 0;
export const NP_EGRESS = 1;
export type DirectionIndex = typeof NP_INGRESS | typeof NP_EGRESS;

export const NP_STAT_UNCOUNTED = 0;
export const NP_STAT_MAX = 1;

/** Map and program names in bpf/netprobe.bpf.c. */
export const MAP_SLOTS = 'np_slots';
export const MAP_OVERFLOW = 'np_overflow';
export const MAP_STATS = 'np_stats';
export const PROG_INGRESS = 'netprobe_tc_in';
export const PROG_EGRESS = 'netprobe_tc_eg';

/** struct np_counters { u64 packets, bytes, segments; } */
export const COUNTERS_SIZE = 24;
/** struct np_slot { u32 ifindex; u32 reserved; struct np_counters c; } */
export const SLOT_SIZE = 8 + COUNTERS_SIZE;
/** struct np_key { u32 ifindex; u32 direction; } */
export const KEY_SIZE = 8;
/** Key of np_slots and np_stats (u32 index) and value of np_stats (u64). */
export const ARRAY_KEY_SIZE = 4;
export const STAT_VALUE_SIZE = 8;

/** Key and value sizes each map must have in the loaded object. */
export const EXPECTED_MAPS: Readonly<Record<string, { keySize: number; valueSize: number }>> = {
  [MAP_SLOTS]: { keySize: ARRAY_KEY_SIZE, valueSize: SLOT_SIZE },
  [MAP_OVERFLOW]: { keySize: KEY_SIZE, valueSize: COUNTERS_SIZE },
  [MAP_STATS]: { keySize: ARRAY_KEY_SIZE, valueSize: STAT_VALUE_SIZE },
};

export interface Counters {
  packets: bigint;
  bytes: bigint;
  segments: bigint;
}

/** Index into np_slots for an ifindex and direction (same formula as the program). */
export function slotIndex(ifindex: number, direction: DirectionIndex): number {
  return (((ifindex & (NP_SLOTS - 1)) << 1) | direction) >>> 0;
}

/** Bytes one CPU's value occupies in a per-CPU map buffer (the kernel rounds up to 8). */
export function perCpuStride(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8;
}

export function encodeArrayKey(index: number): Buffer {
  const b = Buffer.alloc(ARRAY_KEY_SIZE);
  b.writeUInt32LE(index >>> 0, 0);
  return b;
}

export function encodeOverflowKey(ifindex: number, direction: DirectionIndex): Buffer {
  const b = Buffer.alloc(KEY_SIZE);
  b.writeUInt32LE(ifindex >>> 0, 0);
  b.writeUInt32LE(direction, 4);
  return b;
}

export function decodeOverflowKey(buf: Buffer, offset = 0): { ifindex: number; direction: DirectionIndex } {
  return { ifindex: buf.readUInt32LE(offset), direction: (buf.readUInt32LE(offset + 4) & 1) as DirectionIndex };
}

/** A per-CPU np_slots value claiming the slot for `ifindex` on every CPU, counters zero. */
export function encodeSlotClaim(ifindex: number, cpus: number): Buffer {
  const stride = perCpuStride(SLOT_SIZE);
  const b = Buffer.alloc(stride * cpus);
  for (let cpu = 0; cpu < cpus; cpu++) b.writeUInt32LE(ifindex >>> 0, cpu * stride);
  return b;
}

/** Zeroed per-CPU np_counters values (a fresh overflow entry). */
export function encodeZeroCounters(cpus: number): Buffer {
  return Buffer.alloc(perCpuStride(COUNTERS_SIZE) * cpus);
}

/**
 * Sums per-CPU np_counters starting at `offset` (`counterOffset` bytes into
 * each CPU's value: 0 for np_overflow, 8 for np_slots). Pure.
 */
export function sumPerCpuCounters(buf: Buffer, offset: number, cpus: number, stride: number, counterOffset: number): Counters {
  const first = offset + counterOffset;
  return {
    packets: sumU64Column(buf, first, cpus, stride),
    bytes: sumU64Column(buf, first + 8, cpus, stride),
    segments: sumU64Column(buf, first + 16, cpus, stride),
  };
}

const TWO_POW_32 = 0x1_0000_0000;

/**
 * Exact sum of `count` u64 values `stride` bytes apart. The low and high
 * 32-bit halves are summed as plain numbers (exact below 2^53, i.e. for up
 * to 2^21 CPUs) and joined into one bigint at the end: this runs once per
 * counter per collection, and per-CPU bigint additions were most of the
 * collection's JavaScript time.
 */
export function sumU64Column(buf: Buffer, at: number, count: number, stride: number): bigint {
  let lo = 0;
  let hi = 0;
  for (let i = 0, p = at; i < count; i++, p += stride) {
    lo += buf.readUInt32LE(p);
    hi += buf.readUInt32LE(p + 4);
  }
  if (hi === 0 && lo <= Number.MAX_SAFE_INTEGER) return BigInt(lo);
  const carry = Math.floor(lo / TWO_POW_32);
  return (BigInt(hi + carry) << 32n) + BigInt(lo - carry * TWO_POW_32);
}

/** The owner ifindex recorded in a per-CPU np_slots value (CPU 0's copy). */
export function slotOwner(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset);
}

/** Sums a per-CPU u64 value. */
export function sumPerCpuU64(buf: Buffer, offset: number, cpus: number): bigint {
  return sumU64Column(buf, offset, cpus, 8);
}
