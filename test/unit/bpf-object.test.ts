/**
 * The committed BPF object is exactly what its source compiles to, and it has
 * the programs and maps the loader expects. Kernel-free: it runs clang,
 * llvm-readelf and `bpftool btf dump file` (which reads the file only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const committedObject = join(repoRoot, 'bpf', 'netprobe.bpf.o');

// Map types from include/uapi/linux/bpf.h.
const BPF_MAP_TYPE_PERCPU_HASH = 5;
const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
const BPF_F_NO_PREALLOC = 1;

async function haveTool(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then(
    () => true,
    () => false,
  );
}

// CI installs the toolchain (scripts/install.sh test), so a missing tool there
// is a failure; on a developer machine without clang the test says why it skips.
async function toolchainSkipReason(): Promise<string | undefined> {
  for (const tool of ['clang', 'llvm-strip', 'llvm-readelf', 'bpftool']) {
    if (!(await haveTool(tool))) {
      if (process.env.CI) assert.fail(`${tool} is not installed (scripts/install.sh test installs it)`);
      return `${tool} is not installed; run scripts/install.sh test`;
    }
  }
  return undefined;
}

interface BtfType {
  id: number;
  kind: string;
  name: string;
  type_id?: number;
  size?: number;
  nr_elems?: number;
  members?: Array<{ name: string; type_id: number }>;
  vars?: Array<{ type_id: number; name: string }>;
}

/** A map as libbpf reads it from the object's BTF-defined `.maps` section. */
interface MapDefinition {
  type: number;
  maxEntries: number;
  keySize: number;
  valueSize: number;
  flags: number;
}

/** Reads the BTF map definitions (`__uint(type, ...)` etc.) of an object file. */
async function readMapDefinitions(objectPath: string): Promise<Map<string, MapDefinition>> {
  const { stdout } = await run('bpftool', ['-j', 'btf', 'dump', 'file', objectPath], { maxBuffer: 16 << 20 });
  const types = new Map<number, BtfType>();
  for (const t of (JSON.parse(stdout) as { types: BtfType[] }).types) types.set(t.id, t);
  const byId = (id: number | undefined): BtfType => {
    const t = id === undefined ? undefined : types.get(id);
    assert.ok(t, `BTF type ${id} missing`);
    return t;
  };
  const sizeOf = (id: number | undefined): number => {
    const t = byId(id);
    return t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE' ? sizeOf(t.type_id) : (t.size ?? NaN);
  };
  // `__uint(name, N)` is `int (*name)[N]`; `__type(name, T)` is `T *name`.
  const uintMember = (ptrId: number): number => byId(byId(ptrId).type_id).nr_elems ?? NaN;
  const pointeeSize = (ptrId: number): number => sizeOf(byId(ptrId).type_id);

  const maps = new Map<string, MapDefinition>();
  const section = [...types.values()].find((t) => t.kind === 'DATASEC' && t.name === '.maps');
  assert.ok(section?.vars, 'the object has no BTF .maps section');
  for (const v of section.vars) {
    const variable = byId(v.type_id);
    const def: MapDefinition = { type: NaN, maxEntries: NaN, keySize: NaN, valueSize: NaN, flags: 0 };
    for (const m of byId(variable.type_id).members ?? []) {
      if (m.name === 'type') def.type = uintMember(m.type_id);
      else if (m.name === 'max_entries') def.maxEntries = uintMember(m.type_id);
      else if (m.name === 'map_flags') def.flags = uintMember(m.type_id);
      else if (m.name === 'key') def.keySize = pointeeSize(m.type_id);
      else if (m.name === 'value') def.valueSize = pointeeSize(m.type_id);
    }
    maps.set(variable.name, def);
  }
  return maps;
}

/** Reads `#define NAME value` constants of the ABI header, the single source of the sizes. */
async function abiConstants(): Promise<{ slots: number; overflowMax: number }> {
  const header = await readFile(join(repoRoot, 'bpf', 'netprobe.h'), 'utf8');
  const define = (name: string): number => {
    const m = new RegExp(`^#define ${name} (\\d+)`, 'm').exec(header);
    assert.ok(m?.[1], `${name} is not defined in bpf/netprobe.h`);
    return Number(m[1]);
  };
  return { slots: 2 ** define('NP_SLOT_BITS'), overflowMax: define('NP_OVERFLOW_MAX') };
}

test('bpf/netprobe.bpf.o is byte-identical to a rebuild of bpf/ in another directory', async (t) => {
  const skip = await toolchainSkipReason();
  if (skip) return t.skip(skip);
  // A different checkout path proves -fdebug-prefix-map and llvm-strip keep paths out of the object.
  const dir = await mkdtemp(join(tmpdir(), 'netprobe-bpf-build-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(repoRoot, 'bpf'), join(dir, 'bpf'), { recursive: true });
  const rebuilt = join(dir, 'rebuilt.bpf.o');
  await run('bash', [join(dir, 'bpf', 'build.sh'), rebuilt], { timeout: 60_000 });
  const [fresh, committed] = await Promise.all([readFile(rebuilt), readFile(committedObject)]);
  assert.ok(
    fresh.equals(committed),
    'bpf/netprobe.bpf.o differs from what bpf/netprobe.bpf.c compiles to: run `bash bpf/build.sh` and commit the object with its source',
  );
});

test('the object has both TC programs, GPL-compatible licence, BTF and no DWARF', async (t) => {
  const skip = await toolchainSkipReason();
  if (skip) return t.skip(skip);
  const { stdout: sections } = await run('llvm-readelf', ['-S', '--wide', committedObject]);
  const sectionNames = new Set([...sections.matchAll(/^\s*\[\s*\d+\]\s+(\S+)/gm)].map((m) => m[1]));
  for (const name of ['tc', '.maps', 'license', '.BTF', '.BTF.ext']) assert.ok(sectionNames.has(name), `section ${name} missing`);
  assert.deepEqual(
    [...sectionNames].filter((s) => s?.startsWith('.debug')),
    [],
    'DWARF left in the object (llvm-strip -g)',
  );

  const { stdout: symbols } = await run('llvm-readelf', ['-s', '--wide', committedObject]);
  const programs = [...symbols.matchAll(/\bFUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+(\S+)/g)].map((m) => m[1]).sort();
  assert.deepEqual(programs, ['netprobe_tc_eg', 'netprobe_tc_in']);

  const { stdout: licence } = await run('llvm-objdump', ['-s', '-j', 'license', committedObject]);
  assert.match(licence, /GPL/, 'the licence must be GPL-compatible for the kernel helpers used');
});

test('the object defines the maps of bpf/netprobe.h with the ABI sizes', async (t) => {
  const skip = await toolchainSkipReason();
  if (skip) return t.skip(skip);
  const { slots, overflowMax } = await abiConstants();
  const maps = await readMapDefinitions(committedObject);
  assert.deepEqual([...maps.keys()].sort(), ['np_overflow', 'np_slots', 'np_stats']);
  // np_slot = { u32 ifindex; u32 reserved; np_counters c }, np_counters = 3 × u64, np_key = 2 × u32.
  assert.deepEqual(maps.get('np_slots'), { type: BPF_MAP_TYPE_PERCPU_ARRAY, maxEntries: slots * 2, keySize: 4, valueSize: 32, flags: 0 });
  assert.deepEqual(maps.get('np_overflow'), {
    type: BPF_MAP_TYPE_PERCPU_HASH,
    maxEntries: overflowMax,
    keySize: 8,
    valueSize: 24,
    flags: BPF_F_NO_PREALLOC,
  });
  assert.deepEqual(maps.get('np_stats'), { type: BPF_MAP_TYPE_PERCPU_ARRAY, maxEntries: 1, keySize: 4, valueSize: 8, flags: 0 });
});
