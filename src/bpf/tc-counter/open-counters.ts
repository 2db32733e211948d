/**
 * The TC counters' kernel objects: the shipped object loaded and its maps
 * checked against src/bpf/abi.ts, the counter table and programs over it,
 * and the attach mode, picked once. With a pin path: this object's pins are
 * adopted when a predecessor left them (nothing loaded, nothing attached
 * anew), else the object is loaded and pinned, and an older object's pins
 * are offered for takeover.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AttachMode } from '../../source/counter-source.js';
import type { Logger } from '../../log/logger.js';
import { libbpf } from '../../sys/libbpf.js';
import { EXPECTED_MAPS, MAP_OVERFLOW, MAP_SLOTS, MAP_STATS, PROG_EGRESS, PROG_INGRESS } from '../abi.js';
import type { BpfMap } from '../bpf-map.js';
import { BpfObject } from '../bpf-object.js';
import { CarryOverMap, MAP_CARRY } from '../carry-over-map.js';
import { AbiMismatchError, TcxUnsupportedError } from '../errors.js';
import { ensurePinPath, objectHash, pinDirFor, PinStore } from '../pin-store.js';
import { programId } from '../prog-info.js';
import type { Predecessor, Programs } from './attacher.js';
import { CounterTable } from './counter-table.js';
import { chooseAttachMode } from './feature-probe.js';
import { createOffsetMap, findOlderPins, manifestFor, MAP_OFFSETS, openPins, type OlderPins } from './pinned-counters.js';

/** The shipped object, found from this module's location (`src/bpf/tc-counter/` under tsx, `dist/bpf/tc-counter/` when built). */
export const DEFAULT_OBJECT_PATH = fileURLToPath(new URL('../../../bpf/netprobe.bpf.o', import.meta.url));

/** The counter maps and programs, loaded fresh or adopted from pins. */
export interface OpenedCounters {
  readonly table: CounterTable;
  readonly programs: Programs;
  readonly mode: AttachMode;
  /** With a pin path: where maps, programs and links are pinned. */
  readonly store?: PinStore;
  /** Attachments to take over during the first pass: our own pins', or an older object's. */
  readonly adoptFrom?: Predecessor;
  /** An older object's pins, whose counts are carried over and which are removed after the first pass. */
  readonly older?: OlderPins;
  /** With a pin path: the exporter's carry-over record, pinned beside the counters. */
  readonly carry?: CarryOverMap;
  /** Closes our fds (pinned objects stay). */
  close(): void;
}

/** Options of `openCounters`. */
export interface OpenCountersOptions {
  /** The compiled BPF object. */
  objectPath: string;
  /** The attach mode asked for; a pinned state keeps its own (with a warning when they differ). */
  requestedMode: 'auto' | 'tcx' | 'tc';
  /** How many interfaces the overflow hash holds; undefined = the object's own size. */
  overflowCapacity: number | undefined;
  logger: Logger;
}

/** With a pin path: the directory, and this network namespace's cookie (pins of another namespace are refused). */
export interface PinnedAt {
  pinPath: string;
  netnsCookie: string | null;
}

/** Without `pinned`: the object loaded fresh (its close() unloads it). With it: adopted or loaded and pinned. */
export function openCounters(opts: OpenCountersOptions, pinned?: PinnedAt): OpenedCounters {
  return pinned ? openWithPins(opts, pinned) : openFresh(opts);
}

/** Opens and loads the object and checks its maps against src/bpf/abi.ts. */
function loadObject(opts: OpenCountersOptions): BpfObject {
  const object = BpfObject.open(opts.objectPath, { logger: opts.logger });
  try {
    if (opts.overflowCapacity !== undefined) object.setMaxEntries(MAP_OVERFLOW, 2 * opts.overflowCapacity);
    object.load();
    for (const [name, expected] of Object.entries(EXPECTED_MAPS)) {
      const map = object.map(name);
      if (map.keySize !== expected.keySize || map.valueSize !== expected.valueSize) {
        throw new AbiMismatchError(
          `map ${name} of ${opts.objectPath}: key/value ${map.keySize}/${map.valueSize} bytes, src/bpf/abi.ts expects ${expected.keySize}/${expected.valueSize}`,
        );
      }
    }
  } catch (e) {
    object.close();
    throw e;
  }
  return object;
}

function counterParts(object: BpfObject, offsets?: BpfMap): { table: CounterTable; programs: Programs } {
  const table = new CounterTable(object.map(MAP_SLOTS), object.map(MAP_OVERFLOW), object.map(MAP_STATS), offsets);
  const prog = (name: string): { fd: number; id: number } => {
    const fd = object.programFd(name);
    return { fd, id: programId(fd) };
  };
  return { table, programs: { ingress: prog(PROG_INGRESS), egress: prog(PROG_EGRESS) } };
}

function openFresh(opts: OpenCountersOptions): OpenedCounters {
  const object = loadObject(opts);
  try {
    const { table, programs } = counterParts(object);
    return { table, programs, mode: chooseMode(opts, programs), close: () => object.close() };
  } catch (e) {
    object.close();
    throw e;
  }
}

function openWithPins(opts: OpenCountersOptions, { pinPath, netnsCookie }: PinnedAt): OpenedCounters {
  const { logger, requestedMode } = opts;
  ensurePinPath(pinPath);
  const hash = objectHash(opts.objectPath);
  const ownDir = pinDirFor(pinPath, hash);
  if (existsSync(ownDir)) {
    const opened = openPins(ownDir, netnsCookie);
    const mode = opened.store.manifest.attachMode;
    if (requestedMode !== 'auto' && requestedMode !== mode) warnPinnedMode(logger, ownDir, mode);
    const programIds = { ingress: opened.programs.ingress.id, egress: opened.programs.egress.id };
    logger.info({ pinned: ownDir }, `adopting the pinned eBPF state in ${ownDir}`);
    return { ...opened, mode, adoptFrom: { store: opened.store, programIds } };
  }
  const older = findOlderPins(pinPath, hash, netnsCookie, logger);
  let object: BpfObject | undefined;
  let offsets: BpfMap | undefined;
  let carry: CarryOverMap | undefined;
  let closed = false;
  // Called by close() once loaded, and again by a failed load's cleanup: once only (a second close could hit a reused fd).
  const close = (): void => {
    if (closed) return;
    closed = true;
    object?.close();
    if (offsets) libbpf().close(offsets.fd);
    carry?.close();
    older?.close();
  };
  try {
    object = loadObject(opts);
    offsets = createOffsetMap();
    carry = CarryOverMap.create();
    const handedOn = older?.carry.read();
    if (handedOn) carry.write(handedOn);
    const { table, programs } = counterParts(object, offsets);
    // The older attachments are taken over in place, so their mode is kept (as when adopting our own pins).
    const mode = older ? older.attachMode : chooseMode(opts, programs);
    if (older && requestedMode !== 'auto' && requestedMode !== mode) warnPinnedMode(logger, older.store.dir, mode);
    const maps = [MAP_SLOTS, MAP_OVERFLOW, MAP_STATS].map((name) => ({ name, fd: (object as BpfObject).map(name).fd }));
    const store = PinStore.create(
      pinPath,
      manifestFor(hash, mode, netnsCookie),
      [...maps, { name: MAP_OFFSETS, fd: offsets.fd }, { name: MAP_CARRY, fd: carry.map.fd }],
      [
        { name: PROG_INGRESS, fd: programs.ingress.fd },
        { name: PROG_EGRESS, fd: programs.egress.fd },
      ],
    );
    if (older)
      logger.info(
        { pinned: older.store.dir, attachMode: older.attachMode },
        `taking over the attachments and counts of an older netprobe pinned in ${older.store.dir}`,
      );
    return { table, programs, mode, store, carry, ...(older ? { adoptFrom: older, older } : {}), close };
  } catch (e) {
    close();
    throw e;
  }
}

function warnPinnedMode(logger: Logger, dir: string, mode: AttachMode): void {
  logger.warn(
    { pinned: dir, attachMode: mode },
    `the pinned programs are attached in ${mode} mode; keeping it (run --ebpf.cleanup first to change the attach mode)`,
  );
}

function chooseMode(opts: OpenCountersOptions, programs: Programs): AttachMode {
  const { mode, tcx } = chooseAttachMode(opts.requestedMode, programs.ingress.fd, opts.logger);
  if (mode === 'tcx' && !tcx.supported) throw new TcxUnsupportedError(tcx.reason);
  return mode;
}
