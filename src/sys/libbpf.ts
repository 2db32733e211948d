/**
 * libbpf.so.1 through koffi (libc is bound apart, in libc.ts, so that what
 * needs only libc never loads libbpf). Everything here is a thin,
 * typed wrapper: it encodes option structs, calls, decodes results. Policy
 * (errors, retries, cleanup) lives in the modules that use it.
 *
 * Conventions: libbpf calls return `-errno` on failure (libbpf 1.x), libc
 * calls return -1 and leave the reason in `errno()`. koffi returns pointers
 * as BigInt; 0n is NULL.
 *
 * The option struct layouts below are those of libbpf 1.1 on 64-bit Linux;
 * `checkLayouts()` runs at load and refuses to go on if koffi computes
 * anything else.
 */
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { libc, type Libc } from './libc.js';
import { AbiMismatchError, LibbpfMissingError } from './sys-errors.js';

/** Attach types of the kernel's `enum bpf_attach_type` that we use (uapi numbers, stable). */
export const BPF_TCX_INGRESS = 46;
export const BPF_TCX_EGRESS = 47;
/** Link/attach flags (uapi). `BPF_F_BEFORE` with no anchor = first in the chain. */
export const BPF_F_BEFORE = 1 << 3;
/** `enum bpf_tc_attach_point` (libbpf). */
export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
/** `bpf_tc_opts.flags`: replace an existing filter with the same handle and priority. */
export const BPF_TC_F_REPLACE = 1;
/** `bpf_map_update_elem` flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
/** `enum bpf_map_type` values we meet. */
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
/** `libbpf_print_level`. */
export const LIBBPF_WARN = 0;
export const LIBBPF_INFO = 1;
export const LIBBPF_DEBUG = 2;

const SIZE_T = 'size_t';

const TestRunOpts = koffi.struct('np_bpf_test_run_opts', {
  sz: SIZE_T,
  data_in: 'void *',
  data_out: 'void *',
  data_size_in: 'uint32_t',
  data_size_out: 'uint32_t',
  ctx_in: 'void *',
  ctx_out: 'void *',
  ctx_size_in: 'uint32_t',
  ctx_size_out: 'uint32_t',
  retval: 'uint32_t',
  repeat: 'int',
  duration: 'uint32_t',
  flags: 'uint32_t',
  cpu: 'uint32_t',
  batch_size: 'uint32_t',
});

/* Only `sz` and `flags` are used: libbpf 1.1 passes `flags` through for
 * attach types it does not know (tcx) as long as the rest is zero. */
const LinkCreateOpts = koffi.struct('np_bpf_link_create_opts', {
  sz: SIZE_T,
  flags: 'uint32_t',
  iter_info: 'void *',
  iter_info_len: 'uint32_t',
  target_btf_id: 'uint32_t',
  union_space: koffi.array('uint64_t', 4),
});

const TcHook = koffi.struct('np_bpf_tc_hook', {
  sz: SIZE_T,
  ifindex: 'int',
  attach_point: 'int',
  parent: 'uint32_t',
});

const TcOpts = koffi.struct('np_bpf_tc_opts', {
  sz: SIZE_T,
  prog_fd: 'int',
  flags: 'uint32_t',
  prog_id: 'uint32_t',
  handle: 'uint32_t',
  priority: 'uint32_t',
});

const MapBatchOpts = koffi.struct('np_bpf_map_batch_opts', {
  sz: SIZE_T,
  elem_flags: 'uint64_t',
  flags: 'uint64_t',
});

/** Sizes and offsets as compiled from libbpf 1.1's headers (x86_64 and arm64 agree). */
const EXPECTED_LAYOUTS: ReadonlyArray<[string, TypeObject, number, Record<string, number>]> = [
  [
    'struct bpf_test_run_opts',
    TestRunOpts,
    80,
    { data_in: 8, data_size_in: 24, ctx_in: 32, ctx_size_in: 48, retval: 56, repeat: 60, duration: 64, batch_size: 76 },
  ],
  ['struct bpf_link_create_opts', LinkCreateOpts, 64, { flags: 8 }],
  ['struct bpf_tc_hook', TcHook, 24, { ifindex: 8, attach_point: 12, parent: 16 }],
  ['struct bpf_tc_opts', TcOpts, 32, { prog_fd: 8, flags: 12, prog_id: 16, handle: 20, priority: 24 }],
  ['struct bpf_map_batch_opts', MapBatchOpts, 24, {}],
];

/** `struct bpf_prog_info`: only `id` and `name` are read; the kernel fills what fits. */
const PROG_INFO_SIZE = 232;
const PROG_INFO_ID_OFFSET = 4;
const PROG_INFO_NAME_OFFSET = 64;
const BPF_OBJ_NAME_LEN = 16;

/** Checks that koffi lays out our option structs exactly as libbpf 1.1 does. */
export function checkLayouts(): void {
  if (koffi.sizeof('size_t') !== 8 || koffi.sizeof('void *') !== 8)
    throw new AbiMismatchError('pointer size: netprobe supports 64-bit Linux only');
  for (const [name, type, size, offsets] of EXPECTED_LAYOUTS) {
    if (koffi.sizeof(type) !== size) throw new AbiMismatchError(`${name}: size ${koffi.sizeof(type)}, libbpf 1.1 has ${size}`);
    for (const [field, offset] of Object.entries(offsets)) {
      const actual = koffi.offsetof(type, field);
      if (actual !== offset) throw new AbiMismatchError(`${name}.${field}: offset ${actual}, libbpf 1.1 has ${offset}`);
    }
  }
}

function encodeStruct(type: TypeObject, value: Record<string, unknown>): Buffer {
  const buf = Buffer.alloc(koffi.sizeof(type));
  koffi.encode(buf, type, { sz: buf.length, ...value });
  return buf;
}

/** Result of one BPF_PROG_TEST_RUN. */
export interface TestRunResult {
  /** 0 or -errno. */
  ret: number;
  retval: number;
  /** Average ns per repetition, as measured by the kernel. */
  durationNs: number;
  dataSizeOut: number;
}

/** libbpf.so.1, plus the libc calls. */
export interface Libbpf extends Libc {
  objectOpenFile(path: string): bigint;
  objectLoad(obj: bigint): number;
  objectClose(obj: bigint): void;
  findProgram(obj: bigint, name: string): bigint;
  /** `bpf_program__set_autoload`: whether `load()` loads this program (before load only). 0 or -errno. */
  programSetAutoload(prog: bigint, autoload: boolean): number;
  programFd(prog: bigint): number;
  findMap(obj: bigint, name: string): bigint;
  mapFd(map: bigint): number;
  mapKeySize(map: bigint): number;
  mapValueSize(map: bigint): number;
  mapType(map: bigint): number;
  mapMaxEntries(map: bigint): number;
  mapSetMaxEntries(map: bigint, maxEntries: number): number;

  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): number;
  mapLookup(fd: number, key: Buffer, value: Buffer): number;
  mapDelete(fd: number, key: Buffer): number;
  /**
   * One `bpf_map_lookup_batch` call. `inBatch` null starts at the beginning;
   * `count` is in: capacity, out: entries returned. `ret` is 0 or -errno
   * (-ENOENT marks the end, and that call may still return entries).
   */
  mapLookupBatch(
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    capacity: number,
  ): { ret: number; count: number };

  linkCreate(progFd: number, ifindex: number, attachType: number, flags: number): number;
  /** `bpf_raw_tracepoint_open`: attaches a tp_btf program (name null) or a raw tracepoint; a link fd or -errno. */
  rawTracepointOpen(name: string | null, progFd: number): number;
  /** `bpf_enable_stats`: the kernel counts programs' run time while the returned fd is open; an fd or -errno. */
  enableStats(type: number): number;
  tcHookCreate(ifindex: number, attachPoint: number): number;
  tcHookDestroy(ifindex: number, attachPoint: number): number;
  tcAttach(
    ifindex: number,
    attachPoint: number,
    opts: { progFd: number; handle: number; priority: number; flags: number },
  ): { ret: number; progId: number };
  tcDetach(ifindex: number, attachPoint: number, handle: number, priority: number): number;
  tcQuery(ifindex: number, attachPoint: number, handle: number, priority: number): { ret: number; progId: number };
  /** `bpf_prog_query` on an ifindex (tcx): the attached program ids, first to last. */
  progQuery(ifindex: number, attachType: number, capacity: number): { ret: number; ids: number[] };
  progGetFdById(id: number): number;
  /** `bpf_obj_get_info_by_fd` on a program fd. */
  progInfo(fd: number): { ret: number; id: number; name: string };
  /** `bpf_obj_pin`: pins a map, program or link fd at a bpffs path. 0 or -errno. */
  objPin(fd: number, path: string): number;
  /** `bpf_obj_get`: an fd of the object pinned at a bpffs path, or -errno. */
  objGet(path: string): number;
  /** `bpf_obj_get_info_by_fd` into a zeroed buffer of `size` bytes (map, program or link info). */
  objInfo(fd: number, size: number): { ret: number; info: Buffer };
  /** `bpf_link_update`: atomically replaces the program of a link. 0 or -errno. */
  linkUpdate(linkFd: number, newProgFd: number): number;
  /** `bpf_map_create` with only `map_flags` set among the options: an fd or -errno. */
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, mapFlags: number): number;
  progTestRun(progFd: number, opts: { dataIn: Buffer; ctxIn?: Buffer; dataOut?: Buffer; repeat: number }): TestRunResult;
  numPossibleCpus(): number;
  /** Routes libbpf's own messages (including the verifier log) to `sink`; null silences them. */
  setPrint(sink: ((level: number, message: string) => void) | null): void;
}

let binding: Libbpf | undefined;

/** Loads libbpf.so.1 and libc once; throws `LibbpfMissingError` when libbpf is absent. */
export function libbpf(): Libbpf {
  binding ??= bind();
  return binding;
}

function bind(): Libbpf {
  checkLayouts();
  let lib: LibraryHandle;
  let libcHandle: LibraryHandle;
  try {
    lib = koffi.load('libbpf.so.1');
    libcHandle = koffi.load('libc.so.6');
  } catch (e) {
    throw new LibbpfMissingError(e);
  }

  const f = {
    open_file: lib.func('void *bpf_object__open_file(const char *path, void *opts)'),
    load: lib.func('int bpf_object__load(void *obj)'),
    close_obj: lib.func('void bpf_object__close(void *obj)'),
    find_prog: lib.func('void *bpf_object__find_program_by_name(void *obj, const char *name)'),
    prog_fd: lib.func('int bpf_program__fd(void *prog)'),
    set_autoload: lib.func('int bpf_program__set_autoload(void *prog, bool autoload)'),
    find_map: lib.func('void *bpf_object__find_map_by_name(void *obj, const char *name)'),
    map_fd: lib.func('int bpf_map__fd(void *map)'),
    map_key_size: lib.func('uint32_t bpf_map__key_size(void *map)'),
    map_value_size: lib.func('uint32_t bpf_map__value_size(void *map)'),
    map_type: lib.func('int bpf_map__type(void *map)'),
    map_max_entries: lib.func('uint32_t bpf_map__max_entries(void *map)'),
    map_set_max_entries: lib.func('int bpf_map__set_max_entries(void *map, uint32_t max_entries)'),
    update: lib.func('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)'),
    lookup: lib.func('int bpf_map_lookup_elem(int fd, void *key, void *value)'),
    del: lib.func('int bpf_map_delete_elem(int fd, void *key)'),
    lookup_batch: lib.func(
      'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, void *opts)',
    ),
    link_create: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)'),
    raw_tp_open: lib.func('int bpf_raw_tracepoint_open(const char *name, int prog_fd)'),
    enable_stats: lib.func('int bpf_enable_stats(int type)'),
    hook_create: lib.func('int bpf_tc_hook_create(void *hook)'),
    hook_destroy: lib.func('int bpf_tc_hook_destroy(void *hook)'),
    tc_attach: lib.func('int bpf_tc_attach(void *hook, void *opts)'),
    tc_detach: lib.func('int bpf_tc_detach(void *hook, void *opts)'),
    tc_query: lib.func('int bpf_tc_query(void *hook, void *opts)'),
    prog_query: lib.func(
      'int bpf_prog_query(int target_fd, int type, uint32_t query_flags, _Inout_ uint32_t *attach_flags, void *prog_ids, _Inout_ uint32_t *prog_cnt)',
    ),
    prog_get_fd_by_id: lib.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
    obj_get_info: lib.func('int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *info_len)'),
    test_run: lib.func('int bpf_prog_test_run_opts(int prog_fd, void *opts)'),
    obj_pin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
    obj_get: lib.func('int bpf_obj_get(const char *path)'),
    link_update: lib.func('int bpf_link_update(int link_fd, int new_prog_fd, void *opts)'),
    map_create: lib.func(
      'int bpf_map_create(int map_type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, void *opts)',
    ),
    num_cpus: lib.func('int libbpf_num_possible_cpus(void)'),
    set_print: lib.func('void *libbpf_set_print(void *fn)'),
    vsnprintf: libcHandle.func('int vsnprintf(void *buf, size_t size, const char *fmt, void *ap)'),
  };

  const PrintFn = koffi.proto('int np_libbpf_print_fn(int level, const char *fmt, void *ap)');
  let printSink: ((level: number, message: string) => void) | null = null;
  // va_list on x86_64/arm64 Linux is a small struct passed by pointer; a copy lets
  // us measure the formatted length before formatting for real.
  const VA_LIST_BYTES = 32;
  const printCallback = koffi.register((level: number, fmt: string, ap: unknown): number => {
    if (!printSink) return 0;
    // Buffer.from(ArrayBuffer) would alias the memory: copy the bytes for real.
    const apCopy = Buffer.from(new Uint8Array(koffi.view(ap, VA_LIST_BYTES)));
    const length = Number(f.vsnprintf(null, 0, fmt, apCopy));
    if (length < 0) return 0;
    const out = Buffer.alloc(length + 1);
    f.vsnprintf(out, out.length, fmt, ap);
    printSink(level, out.toString('utf8', 0, length).replace(/\n$/, ''));
    return 0;
  }, koffi.pointer(PrintFn));
  // Until someone asks for the messages, keep libbpf from writing to stderr.
  f.set_print(printCallback);

  const u32 = (n: number): [number] => [n >>> 0];

  return {
    ...libc(),

    objectOpenFile: (path) => toAddress(f.open_file(path, null)),
    objectLoad: (obj) => f.load(obj) as number,
    objectClose: (obj) => {
      f.close_obj(obj);
    },
    findProgram: (obj, name) => toAddress(f.find_prog(obj, name)),
    programFd: (prog) => f.prog_fd(prog) as number,
    programSetAutoload: (prog, autoload) => f.set_autoload(prog, autoload) as number,
    findMap: (obj, name) => toAddress(f.find_map(obj, name)),
    mapFd: (map) => f.map_fd(map) as number,
    mapKeySize: (map) => f.map_key_size(map) as number,
    mapValueSize: (map) => f.map_value_size(map) as number,
    mapType: (map) => f.map_type(map) as number,
    mapMaxEntries: (map) => f.map_max_entries(map) as number,
    mapSetMaxEntries: (map, maxEntries) => f.map_set_max_entries(map, maxEntries) as number,

    mapUpdate: (fd, key, value, flags) => f.update(fd, key, value, flags) as number,
    mapLookup: (fd, key, value) => f.lookup(fd, key, value) as number,
    mapDelete: (fd, key) => f.del(fd, key) as number,
    mapLookupBatch: (fd, inBatch, outBatch, keys, values, capacity) => {
      const count = u32(capacity);
      const opts = encodeStruct(MapBatchOpts, { elem_flags: 0n, flags: 0n });
      const ret = f.lookup_batch(fd, inBatch, outBatch, keys, values, count, opts) as number;
      return { ret, count: count[0] };
    },

    linkCreate: (progFd, ifindex, attachType, flags) => {
      const opts = encodeStruct(LinkCreateOpts, {
        flags,
        iter_info: null,
        iter_info_len: 0,
        target_btf_id: 0,
        union_space: [0n, 0n, 0n, 0n],
      });
      return f.link_create(progFd, ifindex, attachType, opts) as number;
    },
    rawTracepointOpen: (name, progFd) => f.raw_tp_open(name, progFd) as number,
    enableStats: (type) => f.enable_stats(type) as number,
    tcHookCreate: (ifindex, attachPoint) =>
      f.hook_create(encodeStruct(TcHook, { ifindex, attach_point: attachPoint, parent: 0 })) as number,
    tcHookDestroy: (ifindex, attachPoint) =>
      f.hook_destroy(encodeStruct(TcHook, { ifindex, attach_point: attachPoint, parent: 0 })) as number,
    tcAttach: (ifindex, attachPoint, o) => {
      const hook = encodeStruct(TcHook, { ifindex, attach_point: attachPoint, parent: 0 });
      const opts = encodeStruct(TcOpts, { prog_fd: o.progFd, flags: o.flags, prog_id: 0, handle: o.handle, priority: o.priority });
      const ret = f.tc_attach(hook, opts) as number;
      return { ret, progId: opts.readUInt32LE(koffi.offsetof(TcOpts, 'prog_id')) };
    },
    tcDetach: (ifindex, attachPoint, handle, priority) => {
      const hook = encodeStruct(TcHook, { ifindex, attach_point: attachPoint, parent: 0 });
      return f.tc_detach(hook, encodeStruct(TcOpts, { prog_fd: 0, flags: 0, prog_id: 0, handle, priority })) as number;
    },
    tcQuery: (ifindex, attachPoint, handle, priority) => {
      const hook = encodeStruct(TcHook, { ifindex, attach_point: attachPoint, parent: 0 });
      const opts = encodeStruct(TcOpts, { prog_fd: 0, flags: 0, prog_id: 0, handle, priority });
      const ret = f.tc_query(hook, opts) as number;
      return { ret, progId: opts.readUInt32LE(koffi.offsetof(TcOpts, 'prog_id')) };
    },
    progQuery: (ifindex, attachType, capacity) => {
      const ids = Buffer.alloc(4 * capacity);
      const count = u32(capacity);
      const ret = f.prog_query(ifindex, attachType, 0, u32(0), ids, count) as number;
      const n = ret === 0 ? Math.min(count[0], capacity) : 0;
      return { ret, ids: Array.from({ length: n }, (_, i) => ids.readUInt32LE(4 * i)) };
    },
    progGetFdById: (id) => f.prog_get_fd_by_id(id) as number,
    progInfo: (fd) => {
      const info = Buffer.alloc(PROG_INFO_SIZE);
      const ret = f.obj_get_info(fd, info, u32(PROG_INFO_SIZE)) as number;
      const nameBytes = info.subarray(PROG_INFO_NAME_OFFSET, PROG_INFO_NAME_OFFSET + BPF_OBJ_NAME_LEN);
      const end = nameBytes.indexOf(0);
      return { ret, id: info.readUInt32LE(PROG_INFO_ID_OFFSET), name: nameBytes.toString('utf8', 0, end < 0 ? BPF_OBJ_NAME_LEN : end) };
    },
    objPin: (fd, path) => f.obj_pin(fd, path) as number,
    objGet: (path) => f.obj_get(path) as number,
    objInfo: (fd, size) => {
      const info = Buffer.alloc(size);
      const ret = f.obj_get_info(fd, info, u32(size)) as number;
      return { ret, info };
    },
    linkUpdate: (linkFd, newProgFd) => f.link_update(linkFd, newProgFd, null) as number,
    mapCreate: (type, name, keySize, valueSize, maxEntries, mapFlags) => {
      // struct bpf_map_create_opts up to map_flags (offset 28); libbpf reads only what `sz` covers.
      const opts = Buffer.alloc(32);
      opts.writeBigUInt64LE(32n, 0);
      opts.writeUInt32LE(mapFlags >>> 0, 28);
      return f.map_create(type, name, keySize, valueSize, maxEntries, opts) as number;
    },
    progTestRun: (progFd, o) => {
      const opts = encodeStruct(TestRunOpts, {
        data_in: o.dataIn,
        data_out: o.dataOut ?? null,
        data_size_in: o.dataIn.length,
        data_size_out: o.dataOut?.length ?? 0,
        ctx_in: o.ctxIn ?? null,
        ctx_out: null,
        ctx_size_in: o.ctxIn?.length ?? 0,
        ctx_size_out: 0,
        retval: 0,
        repeat: o.repeat,
        duration: 0,
        flags: 0,
        cpu: 0,
        batch_size: 0,
      });
      const ret = f.test_run(progFd, opts) as number;
      const out = koffi.decode(opts, TestRunOpts) as { retval: number; duration: number; data_size_out: number };
      return { ret, retval: out.retval | 0, durationNs: out.duration, dataSizeOut: out.data_size_out };
    },
    numPossibleCpus: () => f.num_cpus() as number,
    setPrint: (sink) => {
      printSink = sink;
    },
  };
}

function toAddress(ptr: unknown): bigint {
  if (ptr === null || ptr === undefined) return 0n;
  if (typeof ptr === 'bigint') return ptr;
  return koffi.address(ptr);
}
