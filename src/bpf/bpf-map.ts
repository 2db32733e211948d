/**
 * One map of a loaded BPF object, by fd: element update/lookup/delete and
 * batch reads. Per-CPU maps take and return a value buffer holding every
 * possible CPU's copy (`valueStride` bytes each).
 */
import { perCpuStride } from './abi.js';
import { callError } from './errors.js';
import { BPF_ANY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, libbpf } from '../sys/libbpf.js';
import { constants as os } from 'node:os';

const { ENOENT } = os.errno;

/** What a batch read returns: `count` keys and values packed in the two buffers. */
export interface MapBatch {
  count: number;
  keys: Buffer;
  values: Buffer;
}

export class BpfMap {
  /** Bytes of one CPU's value in a per-CPU value buffer (or the whole value otherwise). */
  readonly valueStride: number;
  /** Size of the value buffer `update`/`lookup` take: stride × CPUs for per-CPU maps. */
  readonly valueBufferSize: number;

  constructor(
    readonly name: string,
    readonly fd: number,
    readonly type: number,
    readonly keySize: number,
    readonly valueSize: number,
    readonly maxEntries: number,
    /** Number of possible CPUs (the kernel's per-CPU value count). */
    readonly cpus: number,
  ) {
    this.valueStride = this.perCpu ? perCpuStride(valueSize) : valueSize;
    this.valueBufferSize = this.perCpu ? this.valueStride * cpus : valueSize;
  }

  get perCpu(): boolean {
    return this.type === BPF_MAP_TYPE_PERCPU_ARRAY || this.type === BPF_MAP_TYPE_PERCPU_HASH;
  }

  /** Writes one element; flags are BPF_ANY / BPF_NOEXIST / BPF_EXIST. Throws BpfCallError (`errno` tells E2BIG etc.). */
  update(key: Buffer, value: Buffer, flags: number = BPF_ANY): void {
    this.checkSizes(key, value);
    const ret = libbpf().mapUpdate(this.fd, key, value, flags);
    if (ret < 0) throw callError(`update an element of map ${this.name}`, -ret);
  }

  /** The element's value buffer, or undefined when there is none. */
  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueBufferSize);
    this.checkSizes(key, value);
    const ret = libbpf().mapLookup(this.fd, key, value);
    if (ret === -ENOENT) return undefined;
    if (ret < 0) throw callError(`look up an element of map ${this.name}`, -ret);
    return value;
  }

  /** Deletes one element; false if it did not exist. */
  delete(key: Buffer): boolean {
    if (key.length !== this.keySize) throw new RangeError(`map ${this.name}: key of ${key.length} bytes, expected ${this.keySize}`);
    const ret = libbpf().mapDelete(this.fd, key);
    if (ret === -ENOENT) return false;
    if (ret < 0) throw callError(`delete an element of map ${this.name}`, -ret);
    return true;
  }

  /**
   * Reads every element with as few `bpf_map_lookup_batch` calls as the
   * buffers allow (one, when `capacity` ≥ the number of elements).
   */
  lookupAll(capacity: number = this.maxEntries, reuse?: { keys: Buffer; values: Buffer }): MapBatch {
    const lib = libbpf();
    // Reusing buffers across collections keeps a large per-CPU read from churning the GC.
    const fits = reuse && reuse.keys.length >= this.keySize * capacity && reuse.values.length >= this.valueBufferSize * capacity;
    const keys = fits ? reuse.keys : Buffer.alloc(this.keySize * capacity);
    const values = fits ? reuse.values : Buffer.alloc(this.valueBufferSize * capacity);
    // Batch tokens are opaque; 8 bytes covers every map type's key/bucket id.
    const token = Buffer.alloc(Math.max(8, this.keySize));
    let count = 0;
    let inBatch: Buffer | null = null;
    while (count < capacity) {
      const outBatch = Buffer.alloc(token.length);
      const { ret, count: got } = lib.mapLookupBatch(
        this.fd,
        inBatch,
        outBatch,
        keys.subarray(count * this.keySize),
        values.subarray(count * this.valueBufferSize),
        capacity - count,
      );
      if (ret < 0 && ret !== -ENOENT) throw callError(`read map ${this.name} (batch)`, -ret);
      count += got;
      if (ret === -ENOENT) break;
      inBatch = outBatch;
    }
    return { count, keys, values };
  }

  private checkSizes(key: Buffer, value: Buffer): void {
    if (key.length !== this.keySize) throw new RangeError(`map ${this.name}: key of ${key.length} bytes, expected ${this.keySize}`);
    if (value.length !== this.valueBufferSize)
      throw new RangeError(`map ${this.name}: value of ${value.length} bytes, expected ${this.valueBufferSize}`);
  }
}
