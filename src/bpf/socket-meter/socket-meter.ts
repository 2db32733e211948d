/**
 * The socket meter: packets and bytes per socket cgroup, counted by a
 * cgroup_skb program pair attached once at the cgroup v2 root with cgroup
 * `bpf_link`s (bpf/socket-meter.bpf.c). A unit of its own beside the TC
 * counters: its object, maps, attach, pins and read.
 *
 * Without a pin path the links die with the process (also on SIGKILL): nothing
 * stays attached. With one, maps, programs and links are pinned in their own
 * directory (socket-meter-pins.ts) and the next start adopts them: the counts
 * continue exactly, also across a SIGKILL.
 *
 * @example
 * const meter = await openSocketMeter({ logger });
 * for (const row of meter.readSocketCounters()) console.log(row.cgroupId, row.direction, row.packets);
 * await meter.close();
 */
import { closeSync, existsSync, constants as fsConstants, openSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { constants as os } from 'node:os';
import type { CarryOverStore } from '../../source/counter-source.js';
import type { ForgottenEntry, SocketCounterRow, SocketCounterSource } from '../../source/socket-counter-source.js';
import { silentLogger, type Logger } from '../../log/logger.js';
import { BPF_NOEXIST, libbpf } from '../../sys/libbpf.js';
import type { BpfMap } from '../bpf-map.js';
import { BpfObject } from '../bpf-object.js';
import { CarryOverMap, MAP_CARRY, CARRY_VALUE_SIZE } from '../carry-over-map.js';
import { AbiMismatchError, callError } from '../errors.js';
import { ensurePinPath, objectHash, PinCorruptError } from '../pin-store.js';
import { mapFromFd } from '../pinned-objects.js';
import { programId } from '../prog-info.js';
import {
  addSocketCounts,
  CGROUP_KEY_SIZE,
  encodeCgroupKey,
  EXPECTED_MAPS,
  MAP_CGROUPS,
  MAP_SLOTS,
  MAP_STATS,
  PROG_EGRESS,
  PROG_INGRESS,
  SM_OVERFLOW_CGROUP,
  SM_SLOT_OWNER,
  smSlotIndex,
  SM_STAT_MAP_FULL,
  sumSlotCounts,
  sumSocketCounts,
  type SocketCounts,
} from './abi.js';
import { OwnedSlots } from '../owned-slots.js';
import { findCgroup2Root } from './cgroup-root.js';
import { ComponentPins } from '../component-pins.js';
import {
  listMeterDirs,
  meterDirFor,
  removeMeterDir,
  SOCKET_METER_PINS,
  type MeterLinkName,
  type MeterManifest,
} from './socket-meter-pins.js';
import { sumPerCpuU64 } from '../abi.js';

const { ENOENT, ENOSPC } = os.errno;

/** `enum bpf_attach_type` (uapi): the cgroup inet skb hooks. */
export const BPF_CGROUP_INET_INGRESS = 0;
export const BPF_CGROUP_INET_EGRESS = 1;

/** The shipped object, found from this module's location (src/bpf/socket-meter/ under tsx, dist/bpf/socket-meter/ when built). */
export const SOCKET_METER_OBJECT_PATH = fileURLToPath(new URL('../../../bpf/socket-meter.bpf.o', import.meta.url));

/** Options of `openSocketMeter`; every field is optional. */
export interface SocketMeterOptions {
  /** A bpffs directory (`--ebpf.pin-path`): pin and adopt, so counting continues across restarts. Default: none. */
  pinPath?: string;
  /** The cgroup2 mount to attach at. Default: found in /proc/self/mountinfo. */
  cgroupRoot?: string;
  /** Progress and warnings; libbpf's messages at debug. Default: silent. */
  logger?: Logger;
  /** The compiled object. Default: the shipped bpf/socket-meter.bpf.o. */
  objectPath?: string;
}

const LINKS: ReadonlyArray<{ name: MeterLinkName; prog: string; attachType: number }> = [
  { name: 'ingress', prog: PROG_INGRESS, attachType: BPF_CGROUP_INET_INGRESS },
  { name: 'egress', prog: PROG_EGRESS, attachType: BPF_CGROUP_INET_EGRESS },
];

/** Entries read per bpf_map_lookup_batch call: bounded memory on many-CPU nodes, any number of entries. */
const READ_CHUNK = 256;

/**
 * Loads (or adopts from the pin path) and attaches the socket meter at the
 * cgroup2 root. Throws NP_ERR_NO_CGROUP2 when there is no cgroup2 mount,
 * NP_ERR_NO_PRIVILEGE without CAP_BPF + CAP_NET_ADMIN.
 */
export function openSocketMeter(opts: SocketMeterOptions = {}): Promise<SocketMeter> {
  return new Promise((resolve) => resolve(SocketMeter.open(opts)));
}

/** The kernel objects a meter holds: maps and the fds to let go of at close. */
interface Held {
  cgroups: BpfMap;
  stats: BpfMap;
  slots: BpfMap;
  carry?: CarryOverMap;
  programIds: { ingress: number; egress: number };
  linkFds: number[];
  /** Extra fds to close (pinned maps and programs opened by path). */
  fds: number[];
  object?: BpfObject;
}

export class SocketMeter implements SocketCounterSource {
  private closed = false;
  private readonly cpus: number;
  private readonly slots: OwnedSlots;

  private constructor(
    readonly cgroupRoot: string,
    private readonly held: Held,
    /** The pin directory, when pinned: close() then leaves everything attached. */
    readonly pinDir: string | undefined,
  ) {
    this.cpus = held.cgroups.cpus;
    this.slots = new OwnedSlots(held.slots, SM_SLOT_OWNER);
  }

  static open(opts: SocketMeterOptions): SocketMeter {
    const logger = opts.logger ?? silentLogger();
    const cgroupRoot = findCgroup2Root(opts.cgroupRoot);
    const objectPath = opts.objectPath ?? SOCKET_METER_OBJECT_PATH;
    if (opts.pinPath === undefined) {
      const held = loadFresh(objectPath, logger, cgroupRoot, undefined);
      logger.info({ cgroupRoot }, `socket meter attached at ${cgroupRoot} (cgroup links, not pinned)`);
      return new SocketMeter(cgroupRoot, held, undefined);
    }
    ensurePinPath(opts.pinPath);
    const hash = objectHash(objectPath);
    const dir = meterDirFor(opts.pinPath, hash);
    for (const entry of listMeterDirs(opts.pinPath)) {
      if (entry.path === dir) continue;
      if (entry.temp) {
        const left = removeMeterDir(entry.path);
        if (left.length > 0) logger.warn({ left }, `an interrupted start left ${entry.path}; kept what netprobe does not pin there`);
      } else
        logger.warn(
          { code: 'NP_ERR_PIN_UNKNOWN', path: entry.path },
          `another socket meter version's pins ${entry.path} are left alone (still attached and counting); remove them with --ebpf.cleanup`,
        );
    }
    if (existsSync(dir)) {
      // A directory of this very object: adopt it (a corrupt one is an error, never overwritten).
      const held = adopt(ComponentPins.open(SOCKET_METER_PINS, dir), cgroupRoot, logger);
      logger.info({ cgroupRoot, dir }, `socket meter adopted from ${dir}`);
      return new SocketMeter(cgroupRoot, held, dir);
    }
    const held = loadFresh(objectPath, logger, cgroupRoot, { pinPath: opts.pinPath, hash });
    logger.info({ cgroupRoot, dir }, `socket meter attached at ${cgroupRoot}, pinned in ${dir}`);
    return new SocketMeter(cgroupRoot, held, dir);
  }

  get carryOver(): CarryOverStore | undefined {
    return this.held.carry;
  }

  /** Program ids of the two attached programs (to recognise our attachments). */
  get programIds(): { ingress: number; egress: number } {
    return { ...this.held.programIds };
  }

  /**
   * Each cgroup's counts are its hash entry's plus its slot's: what was counted
   * before its slot was claimed stays in the hash. A cgroup found in the hash
   * whose slot is free gets it here, for its next packets.
   */
  readSocketCounters(): SocketCounterRow[] {
    const hashed = this.readHash();
    const slotted = new Map<bigint, SocketCounts>();
    this.slots.read((owner, values, at) => slotted.set(owner.readBigUInt64LE(0), sumSlotCounts(values, at, this.cpus)));
    const rows: SocketCounterRow[] = [];
    for (const cgroupId of new Set([...hashed.keys(), ...slotted.keys()])) {
      const c = addSocketCounts(hashed.get(cgroupId), slotted.get(cgroupId));
      rows.push(
        { cgroupId, direction: 'ingress', packets: c.ingressPackets, bytes: c.ingressBytes },
        { cgroupId, direction: 'egress', packets: c.egressPackets, bytes: c.egressBytes },
      );
    }
    for (const cgroupId of hashed.keys())
      if (cgroupId !== SM_OVERFLOW_CGROUP && !slotted.has(cgroupId)) this.slots.claim(smSlotIndex(cgroupId), encodeCgroupKey(cgroupId));
    return rows;
  }

  /** The cgroup ids that own a slot in sm_slots (for tests and diagnostics). */
  slotOwners(): bigint[] {
    return this.slots.owned().map((owner) => owner.readBigUInt64LE(0));
  }

  /** Every entry of sm_cgroups, per-CPU values summed. */
  private readHash(): Map<bigint, SocketCounts> {
    const map = this.held.cgroups;
    const lib = libbpf();
    let chunk = READ_CHUNK;
    let keys = Buffer.alloc(CGROUP_KEY_SIZE * chunk);
    let values = Buffer.alloc(map.valueBufferSize * chunk);
    const out = new Map<bigint, SocketCounts>();
    let inBatch: Buffer | null = null;
    for (;;) {
      const outBatch = Buffer.alloc(8);
      const { ret, count } = lib.mapLookupBatch(map.fd, inBatch, outBatch, keys, values, chunk);
      if (ret === -ENOSPC && count === 0) {
        // One hash bucket holds more entries than the chunk: a larger chunk reads it.
        chunk *= 2;
        keys = Buffer.alloc(CGROUP_KEY_SIZE * chunk);
        values = Buffer.alloc(map.valueBufferSize * chunk);
        continue;
      }
      if (ret < 0 && ret !== -ENOENT) throw callError(`read map ${map.name} (batch)`, -ret);
      for (let i = 0; i < count; i++) {
        // A key may come twice if the kernel's iteration overlaps; the later read is the newer.
        out.set(keys.readBigUInt64LE(i * CGROUP_KEY_SIZE), sumSocketCounts(values, i * map.valueBufferSize, this.cpus));
      }
      if (ret === -ENOENT) break;
      inBatch = outBatch;
    }
    return out;
  }

  forget(cgroupIds: readonly bigint[]): Map<bigint, ForgottenEntry> {
    const out = new Map<bigint, ForgottenEntry>();
    for (const id of cgroupIds) {
      // The overflow entry must stay: the program counts into it when the map is full.
      if (id === SM_OVERFLOW_CGROUP) continue;
      let value: Buffer | undefined;
      try {
        // Read and delete in one syscall: a packet counted after the caller's read is in `value`, not lost with the entry.
        value = this.held.cgroups.take(encodeCgroupKey(id));
      } catch {
        continue; // not deleted: the entry (and its slot) stays and the caller reads it again
      }
      // After the hash entry: a failed take above leaves the slot owned, its counts still read.
      const last = this.slots.release(smSlotIndex(id), encodeCgroupKey(id));
      const slot = last && sumSlotCounts(last, 0, this.cpus);
      if (!value && !slot) {
        out.set(id, 'absent');
        continue;
      }
      const c = addSocketCounts(value && sumSocketCounts(value, 0, this.cpus), slot);
      out.set(id, {
        ingress: { packets: c.ingressPackets, bytes: c.ingressBytes },
        egress: { packets: c.egressPackets, bytes: c.egressBytes },
      });
    }
    return out;
  }

  readSourceStats(): Record<string, bigint> {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(SM_STAT_MAP_FULL, 0);
    const v = this.held.stats.lookup(key);
    return {
      socket_meter_map_full_packets: v ? sumPerCpuU64(v, 0, this.cpus) : 0n,
      socket_meter_map_capacity: BigInt(this.held.cgroups.maxEntries),
    };
  }

  /**
   * Without a pin path: detaches (closes the links) and unloads. With one:
   * lets go of the fds only; the pinned links keep counting for the next start.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const lib = libbpf();
    for (const fd of this.held.linkFds) lib.close(fd);
    this.held.carry?.close();
    for (const fd of this.held.fds) lib.close(fd);
    this.held.object?.close();
    return Promise.resolve();
  }
}

/** Loads the object, creates the overflow entry, attaches; with `pin`, pins everything first. */
function loadFresh(objectPath: string, logger: Logger, cgroupRoot: string, pin: { pinPath: string; hash: string } | undefined): Held {
  const object = BpfObject.open(objectPath, { logger });
  const linkFds: number[] = [];
  let carry: CarryOverMap | undefined;
  try {
    object.load();
    const cgroups = object.map(MAP_CGROUPS);
    const stats = object.map(MAP_STATS);
    const slots = object.map(MAP_SLOTS);
    checkMaps([cgroups, stats, slots], objectPath);
    createOverflowEntry(cgroups);
    const progFds = { ingress: object.programFd(PROG_INGRESS), egress: object.programFd(PROG_EGRESS) };
    const programIds = { ingress: programId(progFds.ingress), egress: programId(progFds.egress) };
    for (const l of LINKS) linkFds.push(attachAtRoot(progFds[l.name], l.attachType, cgroupRoot, l.name));
    if (pin) {
      carry = CarryOverMap.create();
      const manifest: MeterManifest = {
        netprobe: 1,
        component: 'socket-meter',
        object: pin.hash,
        maps: { ...EXPECTED_MAPS, [MAP_CARRY]: { keySize: 4, valueSize: CARRY_VALUE_SIZE } },
      };
      ComponentPins.create(
        SOCKET_METER_PINS,
        pin.pinPath,
        manifest,
        [
          { name: MAP_CGROUPS, fd: cgroups.fd },
          { name: MAP_STATS, fd: stats.fd },
          { name: MAP_SLOTS, fd: slots.fd },
          { name: MAP_CARRY, fd: carry.map.fd },
        ],
        LINKS.map((l) => ({ name: l.prog, fd: progFds[l.name] })),
        LINKS.map((l, i) => ({ name: l.name, fd: linkFds[i] ?? -1 })),
      );
    }
    logger.debug({ programIds }, 'socket meter loaded');
    return { cgroups, stats, slots, ...(carry ? { carry } : {}), programIds, linkFds, fds: [], object };
  } catch (e) {
    for (const fd of linkFds) libbpf().close(fd);
    carry?.close();
    object.close();
    throw e;
  }
}

/** Opens a pin directory's maps, programs and links; re-creates a link that is gone (its pin re-made). */
function adopt(pins: ComponentPins, cgroupRoot: string, logger: Logger): Held {
  const lib = libbpf();
  const fds: number[] = [];
  const linkFds: number[] = [];
  let carry: CarryOverMap | undefined;
  try {
    const openMap = (name: string): BpfMap => {
      const fd = pins.get('maps', name);
      fds.push(fd);
      const map = mapFromFd(fd);
      if (!map) throw new PinCorruptError(pins.dir, `maps/${name} cannot be described by the kernel`);
      return map;
    };
    const cgroups = openMap(MAP_CGROUPS);
    const stats = openMap(MAP_STATS);
    const slots = openMap(MAP_SLOTS);
    checkMaps([cgroups, stats, slots], pins.dir);
    const carryFd = pins.get('maps', MAP_CARRY);
    carry = CarryOverMap.fromFd(carryFd);
    if (!carry) {
      lib.close(carryFd);
      throw new PinCorruptError(pins.dir, `maps/${MAP_CARRY} is not netprobe's carry-over record`);
    }
    createOverflowEntry(cgroups);
    const progFds = { ingress: pins.get('progs', PROG_INGRESS), egress: pins.get('progs', PROG_EGRESS) };
    fds.push(progFds.ingress, progFds.egress);
    const programIds = { ingress: programId(progFds.ingress), egress: programId(progFds.egress) };
    const rootId = BigInt(statSync(cgroupRoot).ino);
    for (const l of LINKS) {
      const fd = pins.openLink(l.name);
      const info = fd === undefined ? undefined : cgroupLinkInfo(fd);
      if (fd !== undefined && info && info.progId === programIds[l.name] && info.cgroupId === rootId) {
        linkFds.push(fd);
        continue;
      }
      if (fd !== undefined) lib.close(fd);
      logger.warn(
        { dir: pins.dir, link: l.name },
        `pinned socket meter link ${l.name} is gone or elsewhere: attaching it again at ${cgroupRoot}`,
      );
      const created = attachAtRoot(progFds[l.name], l.attachType, cgroupRoot, l.name);
      linkFds.push(created);
      pins.pinLink(created, l.name);
    }
    return { cgroups, stats, slots, carry, programIds, linkFds, fds };
  } catch (e) {
    for (const fd of [...linkFds, ...fds]) lib.close(fd);
    carry?.close();
    throw e;
  }
}

/** Key 0 takes the counts of cgroups that found the map full; it must exist before the first packet needs it. */
function createOverflowEntry(cgroups: BpfMap): void {
  try {
    cgroups.update(encodeCgroupKey(SM_OVERFLOW_CGROUP), Buffer.alloc(cgroups.valueBufferSize), BPF_NOEXIST);
  } catch (e) {
    if ((e as { errno?: number }).errno !== os.errno.EEXIST) throw e;
  }
}

function checkMaps(maps: readonly BpfMap[], where: string): void {
  for (const m of maps) {
    const want = EXPECTED_MAPS[m.name];
    if (!want || want.keySize !== m.keySize || want.valueSize !== m.valueSize)
      throw new AbiMismatchError(
        `${where}: map ${m.name} has key ${m.keySize} and value ${m.valueSize} bytes; src/bpf/socket-meter/abi.ts expects ${want ? `${want.keySize} and ${want.valueSize}` : 'no such map'}`,
      );
  }
}

/** A cgroup bpf_link of `progFd` at the cgroup2 root (links always allow other programs beside them). */
function attachAtRoot(progFd: number, attachType: number, cgroupRoot: string, what: MeterLinkName): number {
  const rootFd = openSync(cgroupRoot, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    const linkFd = libbpf().linkCreate(progFd, rootFd, attachType, 0);
    if (linkFd < 0) throw callError(`attach the socket meter's ${what} program at the cgroup2 root ${cgroupRoot}`, -linkFd);
    return linkFd;
  } finally {
    closeSync(rootFd);
  }
}

/** `struct bpf_link_info` of a cgroup link: prog_id at 8, cgroup.cgroup_id (u64) at 16. */
function cgroupLinkInfo(fd: number): { progId: number; cgroupId: bigint } | undefined {
  const { ret, info } = libbpf().objInfo(fd, 64);
  if (ret < 0) return undefined;
  return { progId: info.readUInt32LE(8), cgroupId: info.readBigUInt64LE(16) };
}
