/**
 * The exporter's carry-over record (pod attribution and namespace totals,
 * docs/architecture.md), pinned beside the counters it belongs to so that a
 * restart continues it as the counters continue. bpffs holds no regular
 * files: the record is the one value of a BPF array, a little-endian u32
 * length and then that many bytes. One writer (this process) and one
 * syscall per write: a reader never sees half a record.
 */
import type { CarryOverStore } from '../source/counter-source.js';
import { NetprobeError } from '../errors/index.js';
import { BPF_MAP_TYPE_ARRAY, libbpf } from '../sys/libbpf.js';
import type { BpfMap } from './bpf-map.js';
import { createMap, mapFromFd } from './pinned-objects.js';

export const MAP_CARRY = 'np_carry';
const KEY_SIZE = 4;
/** 64 KiB: ~90 bytes per pod interface compressed, so ~700 of them (the kubelet's default max-pods is 110). */
export const CARRY_VALUE_SIZE = 64 * 1024;
const KEY = Buffer.alloc(KEY_SIZE);

export class CarryOverMap implements CarryOverStore {
  readonly capacity = CARRY_VALUE_SIZE - 4;
  private readonly value = Buffer.alloc(CARRY_VALUE_SIZE);

  private constructor(readonly map: BpfMap) {}

  /** A new, empty record (not pinned yet: the caller pins `map.fd`). */
  static create(): CarryOverMap {
    return new CarryOverMap(createMap(BPF_MAP_TYPE_ARRAY, MAP_CARRY, KEY_SIZE, CARRY_VALUE_SIZE, 1));
  }

  /** The record behind a pinned map's fd, or undefined when the map is not one (the fd stays the caller's). */
  static fromFd(fd: number): CarryOverMap | undefined {
    const map = mapFromFd(fd);
    if (!map || map.type !== BPF_MAP_TYPE_ARRAY || map.keySize !== KEY_SIZE || map.valueSize !== CARRY_VALUE_SIZE || map.maxEntries !== 1)
      return undefined;
    return new CarryOverMap(map);
  }

  read(): Uint8Array | undefined {
    const value = this.map.lookup(KEY);
    if (!value) return undefined;
    const length = value.readUInt32LE(0);
    if (length === 0 || length > this.capacity) return undefined;
    return value.subarray(4, 4 + length);
  }

  write(data: Uint8Array): void {
    if (data.length > this.capacity)
      throw new NetprobeError('NP_ERR_BPF', `the carry-over record needs ${data.length} bytes; map ${MAP_CARRY} holds ${this.capacity}`);
    this.value.writeUInt32LE(data.length, 0);
    this.value.set(data, 4);
    this.value.fill(0, 4 + data.length);
    this.map.update(KEY, this.value);
  }

  close(): void {
    libbpf().close(this.map.fd);
  }
}
