/**
 * The TypeScript mirror of bpf/drop-meter.h: constants, sizes and the pure
 * encoders/decoders of dm_drops keys. Change both together; the loader
 * compares these sizes with the loaded object's maps.
 */
import type { OwnerField } from '../owned-slots.js';

export const DM_DROPS_MAX = 16384;
export const DM_OVERFLOW_REASON = 0xffffffff;
export const DM_IFNAMSIZ = 16;
export const DM_SLOTS = 512;
export const DM_STAT_MAP_FULL = 0;
export const DM_STAT_MAX = 1;

/** Map and program names in bpf/drop-meter.bpf.c. */
export const MAP_DROPS = 'dm_drops';
export const MAP_SLOTS = 'dm_slots';
export const MAP_STATS = 'dm_stats';
export const MAP_CONFIG = 'dm_config';
/** One program per shape of the kfree_skb tracepoint, by its argument count (without the ctx). */
export const PROG_BY_ARGS: Readonly<Record<2 | 3 | 4, string>> = { 2: 'netprobe_drop2', 3: 'netprobe_drop3', 4: 'netprobe_drop4' };

/** struct dm_key { u32 netns, ifindex, reason, reserved; u64 cgroup; char ifname[16]; } */
export const DROP_KEY_SIZE = 40;
const OFF_NETNS = 0;
const OFF_IFINDEX = 4;
const OFF_REASON = 8;
const OFF_CGROUP = 16;
const OFF_IFNAME = 24;
export const DROP_VALUE_SIZE = 8;
/** struct dm_slot { u64 packets; struct dm_key key; }: the owner key last. */
export const SLOT_VALUE_SIZE = 8 + DROP_KEY_SIZE;
/** Where a slot keeps its owner key, for src/bpf/owned-slots.ts. */
export const DM_SLOT_OWNER: OwnerField = { offset: 8, size: DROP_KEY_SIZE };
/** struct dm_config { u32 host_netns, reserved; } */
export const CONFIG_VALUE_SIZE = 8;
export const ARRAY_KEY_SIZE = 4;

export const EXPECTED_MAPS: Readonly<Record<string, { keySize: number; valueSize: number }>> = {
  [MAP_DROPS]: { keySize: DROP_KEY_SIZE, valueSize: DROP_VALUE_SIZE },
  [MAP_SLOTS]: { keySize: ARRAY_KEY_SIZE, valueSize: SLOT_VALUE_SIZE },
  [MAP_STATS]: { keySize: ARRAY_KEY_SIZE, valueSize: 8 },
  [MAP_CONFIG]: { keySize: ARRAY_KEY_SIZE, valueSize: CONFIG_VALUE_SIZE },
};

export interface DropKey {
  netnsInode: number;
  ifindex: number;
  /** The kernel's reason number (named through drop-reasons.ts). */
  reason: number;
  cgroupId: bigint;
  interfaceName: string;
}

export function encodeDropKey(k: DropKey): Buffer {
  const b = Buffer.alloc(DROP_KEY_SIZE);
  b.writeUInt32LE(k.netnsInode >>> 0, OFF_NETNS);
  b.writeUInt32LE(k.ifindex >>> 0, OFF_IFINDEX);
  b.writeUInt32LE(k.reason >>> 0, OFF_REASON);
  b.writeBigUInt64LE(k.cgroupId, OFF_CGROUP);
  b.write(k.interfaceName, OFF_IFNAME, DM_IFNAMSIZ - 1, 'latin1');
  return b;
}

/** Decodes the key at `offset` (a device name ends at its first NUL; the kernel's names are at most 15 bytes). */
export function decodeDropKey(buf: Buffer, offset = 0): DropKey {
  const name = buf.subarray(offset + OFF_IFNAME, offset + OFF_IFNAME + DM_IFNAMSIZ);
  const end = name.indexOf(0);
  return {
    netnsInode: buf.readUInt32LE(offset + OFF_NETNS),
    ifindex: buf.readUInt32LE(offset + OFF_IFINDEX),
    reason: buf.readUInt32LE(offset + OFF_REASON),
    cgroupId: buf.readBigUInt64LE(offset + OFF_CGROUP),
    interfaceName: name.toString('latin1', 0, end < 0 ? DM_IFNAMSIZ : end),
  };
}

/** The key drops are counted under when dm_drops is full. */
export const OVERFLOW_KEY: DropKey = { netnsInode: 0, ifindex: 0, reason: DM_OVERFLOW_REASON, cgroupId: 0n, interfaceName: '' };

export function encodeConfig(hostNetnsInode: number): Buffer {
  const b = Buffer.alloc(CONFIG_VALUE_SIZE);
  b.writeUInt32LE(hostNetnsInode >>> 0, 0);
  return b;
}

/** dm_slot_index() of drop-meter.h: ((ifindex * 2654435761) ^ reason ^ netns) & (DM_SLOTS - 1), in u32 arithmetic. */
export function dropSlotIndex(netnsInode: number, ifindex: number, reason: number): number {
  return (Math.imul(ifindex, 2654435761) ^ reason ^ netnsInode) & (DM_SLOTS - 1);
}

/** The slot of an encoded dm_key (`key` holds it at `offset`). */
export function slotIndexOfKey(key: Uint8Array, offset = 0): number {
  const b = Buffer.from(key.buffer, key.byteOffset + offset, DROP_KEY_SIZE);
  return dropSlotIndex(b.readUInt32LE(OFF_NETNS), b.readUInt32LE(OFF_IFINDEX), b.readUInt32LE(OFF_REASON));
}

/** The overflow key (reason DM_OVERFLOW_REASON, netns and ifindex 0): never given a slot. */
export function isOverflowKey(key: Buffer, offset = 0): boolean {
  return (
    key.readUInt32LE(offset + OFF_REASON) === DM_OVERFLOW_REASON &&
    key.readUInt32LE(offset + OFF_NETNS) === 0 &&
    key.readUInt32LE(offset + OFF_IFINDEX) === 0
  );
}
