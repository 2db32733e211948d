/**
 * One map of a loaded BPF object, by fd: element update/lookup/delete and
 * batch reads. Per-CPU maps take and return a value buffer holding every
 * possible CPU's copy (`valueStride` bytes each).
 */
import { perCpuStride } from './abi.js';
import { callError } from './errors.js';
import { BPF_ANY, BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, libbpf } from '../sys/libbpf.js';
import { constants as os } from 'node:os';

const { ENOENT, ENOSPC } = os.errno;

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
   * Deletes one element and returns its value as it was at the deletion (one
   * syscall: nothing the program adds between a read and the delete is lost);
   * undefined if it did not exist.
   */
  take(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueBufferSize);
    this.checkSizes(key, value);
    const ret = libbpf().mapLookupAndDelete(this.fd, key, value);
    if (ret === -ENOENT) return undefined;
    if (ret < 0) throw callError(`look up and delete an element of map ${this.name}`, -ret);
    return value;
  }

  /**
   * Reads every element: `bpf_map_lookup_batch` until the kernel reports the
   * end (-ENOENT), however many elements the map holds. `sizeHint` (elements)
   * sizes the first buffers, or `reuse`'s are taken when at least that large;
   * when they fill up they grow (doubling, up to `max_entries`) and the read
   * goes on where it stopped, so one call is enough when the hint fits. The
   * returned buffers may be new: pass them as `reuse` next time.
   */
  lookupAll(sizeHint: number = this.maxEntries, reuse?: { keys: Buffer; values: Buffer }): MapBatch {
    const lib = libbpf();
    const wanted = Math.min(Math.max(1, Math.ceil(sizeHint)), this.maxEntries);
    // Reusing buffers across collections keeps a large per-CPU read from churning the GC.
    const reusable = reuse
      ? Math.min(Math.floor(reuse.keys.length / this.keySize), Math.floor(reuse.values.length / this.valueBufferSize))
      : 0;
    let room = reusable >= wanted ? reusable : wanted;
    let keys = reusable >= wanted && reuse ? reuse.keys : Buffer.alloc(this.keySize * room);
    let values = reusable >= wanted && reuse ? reuse.values : Buffer.alloc(this.valueBufferSize * room);
    const grow = (): void => {
      room = Math.min(room * 2, this.maxEntries);
      keys = Buffer.concat([keys], this.keySize * room);
      values = Buffer.concat([values], this.valueBufferSize * room);
    };
    // Batch tokens are opaque; 8 bytes covers every map type's key/bucket id.
    const token = Buffer.alloc(Math.max(8, this.keySize));
    let count = 0;
    let inBatch: Buffer | null = null;
    for (;;) {
      if (count >= room) {
        // A map never holds more than max_entries: full buffers of that size hold it all (an array ends without -ENOENT).
        if (room >= this.maxEntries) break;
        grow();
      }
      const outBatch = Buffer.alloc(token.length);
      const { ret, count: got } = lib.mapLookupBatch(
        this.fd,
        inBatch,
        outBatch,
        keys.subarray(count * this.keySize),
        values.subarray(count * this.valueBufferSize),
        room - count,
      );
      if (ret === -ENOSPC && got === 0 && room < this.maxEntries) {
        // A hash bucket holds more elements than there is room left for: grow, then read that bucket again.
        grow();
        continue;
      }
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
