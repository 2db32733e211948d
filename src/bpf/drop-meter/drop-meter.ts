/**
 * The drop meter: packets the kernel drops, per network namespace, validated
 * device, reason and (in the node's namespace) socket cgroup, counted by a
 * tracing program at skb:kfree_skb (bpf/drop-meter.bpf.c). A unit of its own
 * beside the TC counters and the socket meter: its object, variant choice,
 * attach, pins and read.
 *
 * The program variant (the tracepoint's argument count changed in 5.17 and
 * 6.11) and the reason names come from the running kernel's BTF. Without a
 * pin path the link dies with the process (also on SIGKILL). With one, maps,
 * program and link are pinned in a directory of their own
 * (drop-meter-pins.ts) and the next start adopts them: counts continue
 * exactly, also across a SIGKILL.
 *
 * @example
 * const meter = await openDropMeter({ logger });
 * for (const row of meter.readDropCounters()) console.log(row.netnsInode, row.interfaceName, row.reason, row.packets);
 * await meter.close();
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { constants as os } from 'node:os';
import type { CarryOverStore } from '../../source/counter-source.js';
import type { DropCounterRow, DropCounterSource } from '../../source/drop-counter-source.js';
import { NetprobeError } from '../../errors/index.js';
import { silentLogger, type Logger } from '../../log/logger.js';
import { BPF_ANY, BPF_NOEXIST, libbpf } from '../../sys/libbpf.js';
import { sumPerCpuU64, sumU64Column } from '../abi.js';
import type { BpfMap, MapBatch } from '../bpf-map.js';
import { BpfObject } from '../bpf-object.js';
import { CarryOverMap, MAP_CARRY, CARRY_VALUE_SIZE } from '../carry-over-map.js';
import { ComponentPins, type ComponentManifest } from '../component-pins.js';
import { AbiMismatchError, callError, privilegeError } from '../errors.js';
import { ensurePinPath, objectHash, PinCorruptError } from '../pin-store.js';
import { linkInfo, mapFromFd } from '../pinned-objects.js';
import { effectiveCapabilities, hasBpfPrivileges, hasTracingPrivileges } from '../privileges.js';
import { programId, programRunStats } from '../prog-info.js';
import {
  decodeDropKey,
  DM_SLOT_OWNER,
  DM_STAT_MAP_FULL,
  DROP_KEY_SIZE,
  encodeConfig,
  encodeDropKey,
  EXPECTED_MAPS,
  isOverflowKey,
  MAP_CONFIG,
  MAP_DROPS,
  MAP_SLOTS,
  MAP_STATS,
  OVERFLOW_KEY,
  PROG_BY_ARGS,
  slotIndexOfKey,
} from './abi.js';
import { OwnedSlots } from '../owned-slots.js';
import { reasonNames, type ReasonNames } from './drop-reasons.js';
import { DROP_LINK, DROP_METER_PINS, dropMeterDirFor, listDropMeterDirs, removeDropMeterDir } from './drop-meter-pins.js';
import { readVmlinuxBtf, VMLINUX_BTF_PATH, type KernelBtf } from './vmlinux-btf.js';

/** The shipped object, found from this module's location (src/bpf/drop-meter/ under tsx, dist/bpf/drop-meter/ when built). */
export const DROP_METER_OBJECT_PATH = fileURLToPath(new URL('../../../bpf/drop-meter.bpf.o', import.meta.url));
/** The tracepoint's prototype in BTF: `typedef void (*btf_trace_kfree_skb)(void *, struct sk_buff *, ...)`. */
export const KFREE_SKB_TRACE_TYPEDEF = 'btf_trace_kfree_skb';
/** The reason of the overflow row (drops counted while the map was full). */
export const OVERFLOW_REASON = 'overflow';

/** Options of `openDropMeter`; every field is optional. */
export interface DropMeterOptions {
  /** A bpffs directory (`--ebpf.pin-path`): pin and adopt, so counting continues across restarts. Default: none. */
  pinPath?: string;
  /** Progress and warnings; libbpf's messages at debug. Default: silent. */
  logger?: Logger;
  /** The compiled object. Default: the shipped bpf/drop-meter.bpf.o. */
  objectPath?: string;
  /** The kernel's BTF. Default: /sys/kernel/btf/vmlinux. */
  btfPath?: string;
}

/** What the running kernel's BTF says about drops: which program fits and how reasons are named. */
export interface DropKernel {
  /** Arguments of the kfree_skb tracepoint (2, 3 or 4; more are read as 4). */
  tracepointArgs: 2 | 3 | 4;
  program: string;
  reasons: ReasonNames;
}

/** Reads the kernel's BTF; throws NP_ERR_NO_BTF or NP_ERR_NO_DROP_TRACEPOINT naming what is missing. */
export function describeDropKernel(btfPath: string = VMLINUX_BTF_PATH): DropKernel {
  let btf: KernelBtf;
  try {
    btf = readVmlinuxBtf(btfPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NetprobeError('NP_ERR_NO_BTF', `count drops: cannot read the kernel's BTF ${btfPath} (${code ?? (e as Error).message})`, {
      cause: e,
    });
  }
  const params = btf.typedefParamCount(KFREE_SKB_TRACE_TYPEDEF);
  // The first parameter is the tracepoint's private data, not an argument.
  const args = params === undefined ? undefined : params - 1;
  if (args === undefined || args < 2)
    throw new NetprobeError(
      'NP_ERR_NO_DROP_TRACEPOINT',
      `count drops: ${btfPath} has no ${KFREE_SKB_TRACE_TYPEDEF}${args === undefined ? '' : ` with the skb argument (${args} arguments)`}`,
    );
  // A newer kernel's extra arguments are not read: the 4-argument program fits it.
  const tracepointArgs = args >= 4 ? 4 : (args as 2 | 3);
  return { tracepointArgs, program: PROG_BY_ARGS[tracepointArgs], reasons: reasonNames(btf) };
}

/**
 * Loads (or adopts from the pin path) and attaches the drop meter. Throws a
 * NetprobeError naming what is missing: NP_ERR_NO_BTF, NP_ERR_NO_DROP_TRACEPOINT,
 * NP_ERR_NO_PERFMON (CAP_BPF held, CAP_PERFMON not), NP_ERR_NO_PRIVILEGE.
 */
export function openDropMeter(opts: DropMeterOptions = {}): Promise<DropMeter> {
  return new Promise((resolve) => resolve(DropMeter.open(opts)));
}

/** The kernel objects a meter holds: maps and the fds to let go of at close. */
interface Held {
  drops: BpfMap;
  slots: BpfMap;
  stats: BpfMap;
  carry?: CarryOverMap;
  progFd: number;
  programId: number;
  linkFd: number;
  /** Extra fds to close (pinned maps and programs opened by path). */
  fds: number[];
  object?: BpfObject;
}

export class DropMeter implements DropCounterSource {
  private closed = false;
  private readonly cpus: number;
  private lastCount = 0;
  private buffers: MapBatch | undefined;
  private readonly slots: OwnedSlots;

  private constructor(
    readonly kernel: DropKernel,
    readonly hostNetnsInode: number,
    private readonly held: Held,
    /** The pin directory, when pinned: close() then leaves the program attached. */
    readonly pinDir: string | undefined,
  ) {
    this.cpus = held.drops.cpus;
    this.slots = new OwnedSlots(held.slots, DM_SLOT_OWNER);
  }

  static open(opts: DropMeterOptions): DropMeter {
    const logger = opts.logger ?? silentLogger();
    const kernel = describeDropKernel(opts.btfPath);
    const caps = effectiveCapabilities();
    if (!hasTracingPrivileges(caps)) {
      if (hasBpfPrivileges(caps))
        throw new NetprobeError(
          'NP_ERR_NO_PERFMON',
          'count drops: loading a tracing program at skb:kfree_skb needs CAP_PERFMON, which this process lacks',
        );
      throw privilegeError('count drops: load the tracing program at skb:kfree_skb (needs CAP_BPF and CAP_PERFMON)', os.errno.EPERM);
    }
    const hostNetnsInode = statSync('/proc/self/ns/net').ino;
    const objectPath = opts.objectPath ?? DROP_METER_OBJECT_PATH;
    if (!kernel.reasons.reasonsKnown)
      logger.warn(
        { tracepointArgs: kernel.tracepointArgs },
        "this kernel names no drop reasons (no enum skb_drop_reason in its BTF, Linux < 5.17): every drop counts as reason 'not_specified'",
      );
    const describe = `${kernel.program}, kfree_skb with ${kernel.tracepointArgs} arguments`;
    if (opts.pinPath === undefined) {
      const held = loadFresh(objectPath, kernel, hostNetnsInode, logger, undefined);
      logger.info({ program: kernel.program }, `drop meter attached at skb:kfree_skb (${describe}; not pinned)`);
      return new DropMeter(kernel, hostNetnsInode, held, undefined);
    }
    ensurePinPath(opts.pinPath);
    const hash = objectHash(objectPath);
    const dir = dropMeterDirFor(opts.pinPath, hash);
    for (const entry of listDropMeterDirs(opts.pinPath)) {
      if (entry.path === dir) continue;
      if (entry.temp) {
        const left = removeDropMeterDir(entry.path);
        if (left.length > 0) logger.warn({ left }, `an interrupted start left ${entry.path}; kept what netprobe does not pin there`);
      } else
        logger.warn(
          { code: 'NP_ERR_PIN_UNKNOWN', path: entry.path },
          `another drop meter version's pins ${entry.path} are left alone (still attached and counting); remove them with --ebpf.cleanup`,
        );
    }
    if (existsSync(dir)) {
      // A directory of this very object: adopt it (a corrupt one is an error, never overwritten).
      const held = adopt(ComponentPins.open(DROP_METER_PINS, dir), kernel, hostNetnsInode, logger);
      logger.info({ dir, program: kernel.program }, `drop meter adopted from ${dir}`);
      return new DropMeter(kernel, hostNetnsInode, held, dir);
    }
    const held = loadFresh(objectPath, kernel, hostNetnsInode, logger, { pinPath: opts.pinPath, hash });
    logger.info({ dir, program: kernel.program }, `drop meter attached at skb:kfree_skb (${describe}), pinned in ${dir}`);
    return new DropMeter(kernel, hostNetnsInode, held, dir);
  }

  get reasonsKnown(): boolean {
    return this.kernel.reasons.reasonsKnown;
  }

  get carryOver(): CarryOverStore | undefined {
    return this.held.carry;
  }

  /** Kernel id of the attached program. */
  get programId(): number {
    return this.held.programId;
  }

  /**
   * Every key's count (its dm_drops entry + its slot). Gives each key with
   * drops in dm_drops whose slot is free that slot, so its next drops take
   * the fast path.
   */
  readDropCounters(): DropCounterRow[] {
    const drops = this.held.drops;
    // Sized from the last read, so one batch call is usually enough; lookupAll grows as needed.
    const batch = drops.lookupAll(Math.max(64, this.lastCount * 2), this.buffers);
    this.buffers = batch;
    this.lastCount = batch.count;
    const counted = new Map<string, { entry: Buffer; packets: bigint }>();
    for (let i = 0; i < batch.count; i++) {
      // A copy: the batch buffers are read into again next time.
      const entry = Buffer.from(batch.keys.subarray(i * DROP_KEY_SIZE, (i + 1) * DROP_KEY_SIZE));
      counted.set(entry.toString('latin1'), { entry, packets: sumPerCpuU64(batch.values, i * drops.valueBufferSize, this.cpus) });
    }
    this.slots.read((owner, values, at) => {
      const packets = sumU64Column(values, at, this.cpus, this.held.slots.valueStride);
      const c = counted.get(owner.toString('latin1'));
      if (c) c.packets += packets;
      else counted.set(owner.toString('latin1'), { entry: Buffer.from(owner), packets });
    });
    const rows: DropCounterRow[] = [];
    for (const { entry, packets } of counted.values()) {
      const key = decodeDropKey(entry);
      const overflow = isOverflowKey(entry);
      // The overflow entry exists from the start: it is a row once it counted something.
      if (overflow && packets === 0n) continue;
      if (!overflow && packets > 0n) this.slots.claim(slotIndexOfKey(entry), entry);
      const reason = overflow ? OVERFLOW_REASON : this.kernel.reasons.nameOf(key.reason);
      // Not a drop (e.g. SKB_CONSUMED): never reported.
      if (reason === undefined) continue;
      rows.push({
        netnsInode: key.netnsInode,
        ifindex: key.ifindex,
        interfaceName: key.ifindex === 0 ? '' : key.interfaceName,
        reason,
        socketCgroupId: key.cgroupId,
        packets,
        entry,
      });
    }
    return rows;
  }

  readSourceStats(): Record<string, bigint> {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(DM_STAT_MAP_FULL, 0);
    const v = this.held.stats.lookup(key);
    return {
      recursion_misses: programRunStats(this.held.progFd).recursionMisses,
      map_full: v ? sumPerCpuU64(v, 0, this.cpus) : 0n,
    };
  }

  forgetNamespaces(netnsInodes: readonly number[]): void {
    const gone = new Set(netnsInodes.filter((n) => n !== 0));
    if (gone.size === 0) return;
    // Slots first: a drop after a release lands in dm_drops, deleted below.
    for (const owner of this.slots.owned()) if (gone.has(owner.readUInt32LE(0))) this.slots.release(slotIndexOfKey(owner), owner);
    const map = this.held.drops;
    const batch = map.lookupAll(Math.max(64, this.lastCount * 2));
    for (let i = 0; i < batch.count; i++) {
      const at = i * DROP_KEY_SIZE;
      if (gone.has(batch.keys.readUInt32LE(at))) map.delete(Buffer.from(batch.keys.subarray(at, at + DROP_KEY_SIZE)));
    }
  }

  /** Each row's final: its slot's (read, then the slot released) plus its dm_drops entry's (taken after, so a drop between lands there). */
  takeEntries(rows: readonly DropCounterRow[]): Array<bigint | undefined> {
    const { drops, slots } = this.held;
    return rows.map((r) => {
      if (!r.entry || r.entry.length !== DROP_KEY_SIZE) return undefined;
      const key = Buffer.from(r.entry);
      const slot = this.slots.release(slotIndexOfKey(key), key);
      const value = drops.take(key);
      if (!slot && !value) return undefined;
      return (slot ? sumU64Column(slot, 0, this.cpus, slots.valueStride) : 0n) + (value ? sumPerCpuU64(value, 0, this.cpus) : 0n);
    });
  }

  /**
   * Without a pin path: detaches (closes the link) and unloads. With one:
   * lets go of the fds only; the pinned link keeps counting for the next start.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    const lib = libbpf();
    lib.close(this.held.linkFd);
    this.held.carry?.close();
    for (const fd of this.held.fds) lib.close(fd);
    this.held.object?.close();
    return Promise.resolve();
  }
}

/** Loads the chosen variant, creates the overflow entry and the config, attaches; with `pin`, pins everything. */
function loadFresh(
  objectPath: string,
  kernel: DropKernel,
  hostNetnsInode: number,
  logger: Logger,
  pin: { pinPath: string; hash: string } | undefined,
): Held {
  const object = BpfObject.open(objectPath, { logger });
  let linkFd = -1;
  let carry: CarryOverMap | undefined;
  try {
    // Only the variant that fits this kernel's tracepoint: the others would fail the verifier.
    for (const name of Object.values(PROG_BY_ARGS)) object.setAutoload(name, name === kernel.program);
    object.load();
    const drops = object.map(MAP_DROPS);
    const slots = object.map(MAP_SLOTS);
    const stats = object.map(MAP_STATS);
    const config = object.map(MAP_CONFIG);
    checkMaps([drops, slots, stats, config], objectPath);
    prepareMaps(drops, config, hostNetnsInode);
    const progFd = object.programFd(kernel.program);
    const id = programId(progFd);
    linkFd = attach(progFd);
    if (pin) {
      carry = CarryOverMap.create();
      const manifest: ComponentManifest = {
        netprobe: 1,
        component: DROP_METER_PINS.component,
        object: pin.hash,
        maps: { ...EXPECTED_MAPS, [MAP_CARRY]: { keySize: 4, valueSize: CARRY_VALUE_SIZE } },
      };
      ComponentPins.create(
        DROP_METER_PINS,
        pin.pinPath,
        manifest,
        [
          { name: MAP_DROPS, fd: drops.fd },
          { name: MAP_SLOTS, fd: slots.fd },
          { name: MAP_STATS, fd: stats.fd },
          { name: MAP_CONFIG, fd: config.fd },
          { name: MAP_CARRY, fd: carry.map.fd },
        ],
        [{ name: kernel.program, fd: progFd }],
        [{ name: DROP_LINK, fd: linkFd }],
      );
    }
    logger.debug({ programId: id }, 'drop meter loaded');
    return { drops, slots, stats, ...(carry ? { carry } : {}), progFd, programId: id, linkFd, fds: [], object };
  } catch (e) {
    if (linkFd >= 0) libbpf().close(linkFd);
    carry?.close();
    object.close();
    throw e;
  }
}

/** Opens a pin directory's maps, program and link; re-attaches when the link is gone (its pin re-made). */
function adopt(pins: ComponentPins, kernel: DropKernel, hostNetnsInode: number, logger: Logger): Held {
  const lib = libbpf();
  const fds: number[] = [];
  let linkFd = -1;
  let carry: CarryOverMap | undefined;
  try {
    const openMap = (name: string): BpfMap => {
      const fd = pins.get('maps', name);
      fds.push(fd);
      const map = mapFromFd(fd);
      if (!map) throw new PinCorruptError(pins.dir, `maps/${name} cannot be described by the kernel`);
      return map;
    };
    const drops = openMap(MAP_DROPS);
    // Its owners are read back with every read: nothing about them is kept apart from the map.
    const slots = openMap(MAP_SLOTS);
    const stats = openMap(MAP_STATS);
    const config = openMap(MAP_CONFIG);
    checkMaps([drops, slots, stats, config], pins.dir);
    const carryFd = pins.get('maps', MAP_CARRY);
    carry = CarryOverMap.fromFd(carryFd);
    if (!carry) {
      lib.close(carryFd);
      throw new PinCorruptError(pins.dir, `maps/${MAP_CARRY} is not netprobe's carry-over record`);
    }
    const pinned = pins.programNames();
    if (pinned.length !== 1 || pinned[0] !== kernel.program)
      throw new PinCorruptError(pins.dir, `progs/ holds ${pinned.join(', ') || 'nothing'}; this kernel needs ${kernel.program}`);
    prepareMaps(drops, config, hostNetnsInode);
    const progFd = pins.get('progs', kernel.program);
    fds.push(progFd);
    const id = programId(progFd);
    const fd = pins.openLink(DROP_LINK);
    if (fd !== undefined && linkInfo(fd)?.progId === id) linkFd = fd;
    else {
      if (fd !== undefined) lib.close(fd);
      logger.warn({ dir: pins.dir }, 'pinned drop meter link is gone: attaching it again at skb:kfree_skb');
      linkFd = attach(progFd);
      pins.pinLink(linkFd, DROP_LINK);
    }
    return { drops, slots, stats, carry, progFd, programId: id, linkFd, fds };
  } catch (e) {
    for (const fd of [...(linkFd >= 0 ? [linkFd] : []), ...fds]) lib.close(fd);
    carry?.close();
    throw e;
  }
}

/** The overflow entry must exist before the first drop needs it; the config tells the program the node's namespace. */
function prepareMaps(drops: BpfMap, config: BpfMap, hostNetnsInode: number): void {
  try {
    drops.update(encodeDropKey(OVERFLOW_KEY), Buffer.alloc(drops.valueBufferSize), BPF_NOEXIST);
  } catch (e) {
    if ((e as { errno?: number }).errno !== os.errno.EEXIST) throw e;
  }
  config.update(Buffer.alloc(4), encodeConfig(hostNetnsInode), BPF_ANY);
}

function checkMaps(maps: readonly BpfMap[], where: string): void {
  for (const m of maps) {
    const want = EXPECTED_MAPS[m.name];
    if (!want || want.keySize !== m.keySize || want.valueSize !== m.valueSize)
      throw new AbiMismatchError(
        `${where}: map ${m.name} has key ${m.keySize} and value ${m.valueSize} bytes; src/bpf/drop-meter/abi.ts expects ${want ? `${want.keySize} and ${want.valueSize}` : 'no such map'}`,
      );
  }
}

/** A tracing link of the tp_btf program at its tracepoint (the target comes from the program's BTF attach point). */
function attach(progFd: number): number {
  const fd = libbpf().rawTracepointOpen(null, progFd);
  if (fd < 0) throw callError('attach the drop meter at the tracepoint skb:kfree_skb', -fd);
  return fd;
}
