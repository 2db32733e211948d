/**
 * The counter maps and programs of a run with a pin path: adopted from this
 * object's pin directory when a predecessor left one (no load, no attach),
 * else loaded fresh and pinned, with any pin directory of an older object
 * offered for takeover. Pure policy over PinStore; the manager attaches.
 */
import type { AttachMode } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import { BPF_MAP_TYPE_HASH, libbpf } from '../../sys/libbpf.js';
import {
  COUNTERS_SIZE,
  EXPECTED_MAPS,
  KEY_SIZE,
  MAP_OVERFLOW,
  MAP_SLOTS,
  MAP_STATS,
  NP_OVERFLOW_MAX,
  NP_SLOTS,
  PROG_EGRESS,
  PROG_INGRESS,
} from '../abi.js';
import type { Predecessor, Programs } from './attacher.js';
import type { BpfMap } from '../bpf-map.js';
import { CounterTable } from './counter-table.js';
import { CARRY_VALUE_SIZE, CarryOverMap, MAP_CARRY } from '../carry-over-map.js';
import { listPinPath, PinCorruptError, PinStore, pinDirFor, removeKnown, type PinManifest } from '../pin-store.js';
import { createMap, mapFromFd } from '../pinned-objects.js';
import { programId } from '../prog-info.js';

/** The pinned user-space map of offsets carried over from an older object (np_key → np_counters). */
export const MAP_OFFSETS = 'np_offsets';
const OFFSETS_MAX = 2 * (NP_SLOTS + NP_OVERFLOW_MAX);
const BPF_F_NO_PREALLOC = 1;

/** Maps and programs opened from a pin directory; `close()` closes our fds (the pins keep them alive). */
export interface OpenedPins {
  store: PinStore;
  table: CounterTable;
  programs: Programs;
  carry: CarryOverMap;
  close(): void;
}

/** Opens a netprobe pin directory after checking it is this namespace's and readable by this version. */
export function openPins(dir: string, netnsCookie: string | null): OpenedPins {
  const store = PinStore.open(dir);
  const m = store.manifest;
  if (m.netnsCookie !== netnsCookie)
    throw new PinCorruptError(dir, `it belongs to another network namespace (cookie ${m.netnsCookie}, this one ${netnsCookie})`);
  const fds: number[] = [];
  const lib = libbpf();
  const close = (): void => {
    for (const fd of fds.splice(0)) lib.close(fd);
  };
  try {
    const map = (name: string): BpfMap => {
      const fd = store.get('maps', name);
      fds.push(fd);
      const found = mapFromFd(fd);
      const expected = name === MAP_OFFSETS ? { keySize: KEY_SIZE, valueSize: COUNTERS_SIZE } : EXPECTED_MAPS[name];
      if (!found || !expected || found.keySize !== expected.keySize || found.valueSize !== expected.valueSize)
        throw new PinCorruptError(dir, `maps/${name} is not a netprobe counter map of the layout this version reads`);
      return found;
    };
    const table = new CounterTable(map(MAP_SLOTS), map(MAP_OVERFLOW), map(MAP_STATS), map(MAP_OFFSETS));
    const prog = (name: string): { fd: number; id: number } => {
      const fd = store.get('progs', name);
      fds.push(fd);
      const info = lib.progInfo(fd);
      if (info.ret !== 0 || !name.startsWith(info.name))
        throw new PinCorruptError(dir, `progs/${name} is not netprobe's program (${info.name || 'not a program'})`);
      return { fd, id: programId(fd) };
    };
    const programs = { ingress: prog(PROG_INGRESS), egress: prog(PROG_EGRESS) };
    const carry = openCarry(store);
    fds.push(carry.map.fd);
    table.adoptKernelEntries();
    return { store, table, programs, carry, close };
  } catch (e) {
    close();
    throw e;
  }
}

/** The directory's carry-over record; a directory pinned by a version without one gets an empty one. */
function openCarry(store: PinStore): CarryOverMap {
  const fd = store.getOptionalMap(MAP_CARRY);
  if (fd === undefined) {
    const created = CarryOverMap.create();
    try {
      store.pinMap(created.map.fd, MAP_CARRY);
    } catch (e) {
      created.close();
      throw e;
    }
    return created;
  }
  const carry = CarryOverMap.fromFd(fd);
  if (!carry) {
    libbpf().close(fd);
    throw new PinCorruptError(store.dir, `maps/${MAP_CARRY} is not netprobe's carry-over record`);
  }
  return carry;
}

/** A fresh user-space hash for offsets (no preallocation: it is empty unless an upgrade happened). */
export function createOffsetMap(): BpfMap {
  return createMap(BPF_MAP_TYPE_HASH, MAP_OFFSETS, KEY_SIZE, COUNTERS_SIZE, OFFSETS_MAX, BPF_F_NO_PREALLOC);
}

export function manifestFor(objectHash: string, attachMode: AttachMode, netnsCookie: string | null): PinManifest {
  const maps: PinManifest['maps'] = {
    ...EXPECTED_MAPS,
    [MAP_OFFSETS]: { keySize: KEY_SIZE, valueSize: COUNTERS_SIZE },
    [MAP_CARRY]: { keySize: 4, valueSize: CARRY_VALUE_SIZE },
  };
  return { netprobe: 1, object: objectHash, attachMode, netnsCookie, maps };
}

/** A predecessor whose attachments and counts a fresh run takes over. */
export interface OlderPins extends Predecessor {
  readonly table: CounterTable;
  readonly attachMode: AttachMode;
  /** Its carry-over record, handed on to the new directory. */
  readonly carry: CarryOverMap;
  close(): void;
}

/**
 * What a pin path holds besides this object's directory: at most one older
 * netprobe directory this version can read (taken over), others reported and
 * left alone; temporary directories of an interrupted start are removed.
 */
export function findOlderPins(pinPath: string, objectHash: string, netnsCookie: string | null, logger: Logger): OlderPins | undefined {
  const own = pinDirFor(pinPath, objectHash);
  let older: OlderPins | undefined;
  for (const entry of listPinPath(pinPath)) {
    if (entry.path === own) continue;
    if (entry.kind === 'temp') {
      const left = removeKnown(entry.path);
      if (left.length > 0) logger.warn({ left }, `an interrupted netprobe start left ${entry.path}; kept what netprobe does not pin there`);
      continue;
    }
    if (entry.kind === 'other') {
      logger.debug({ path: entry.path }, 'not netprobe pinned state: left alone');
      continue;
    }
    if (older) {
      logger.warn(
        { code: 'NP_ERR_PIN_UNKNOWN', path: entry.path },
        `more than one older netprobe pin directory: ${entry.path} is left alone (its programs may still be attached); remove it with that version's --ebpf.cleanup`,
      );
      continue;
    }
    try {
      const opened = openPins(entry.path, netnsCookie);
      older = {
        store: opened.store,
        table: opened.table,
        programIds: { ingress: opened.programs.ingress.id, egress: opened.programs.egress.id },
        attachMode: opened.store.manifest.attachMode,
        carry: opened.carry,
        close: () => opened.close(),
      };
    } catch (e) {
      logger.warn(
        { code: 'NP_ERR_PIN_UNKNOWN', path: entry.path, err: e instanceof Error ? e.message : String(e) },
        `pinned state ${entry.path} looks like another netprobe version's but this version cannot read it: left alone; run that version's --ebpf.cleanup, or delete it by hand after checking it with bpftool`,
      );
    }
  }
  return older;
}
