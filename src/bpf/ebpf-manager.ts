/**
 * EbpfManager: the eBPF TC counters as a CounterSource. Loads the shipped
 * BPF object, attaches it to both directions of every interface the filters
 * accept, follows interfaces as they come, go and get renamed (netlink link
 * events, no polling), reads all counters in one batch per map, and on
 * `close()` leaves nothing behind.
 */
import { fileURLToPath } from 'node:url';
import {
  DIRECTIONS,
  type AttachMode,
  type CarryOverStore,
  type CounterRow,
  type CounterSource,
  type Direction,
} from '../source/counter-source.js';
import { NetprobeError } from '../errors/index.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { LinkFaults, LinkInfo } from '../net/link-message.js';
import { dumpLinks } from '../net/link-dump.js';
import { LinkWatcher } from '../net/link-events.js';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { compileInterfaceFilter, type InterfaceFilter } from '../net/interface-filter.js';
import { EXPECTED_MAPS, MAP_OVERFLOW, MAP_SLOTS, MAP_STATS, NP_INGRESS, NP_EGRESS, PROG_EGRESS, PROG_INGRESS } from './abi.js';
import { existsSync } from 'node:fs';
import type { Attacher, DetachReason, InterfaceHooks, Predecessor, Programs } from './attacher.js';
import type { BpfMap } from './bpf-map.js';
import { removeFilterOf } from './clsact-attach.js';
import { removePinnedState } from './pin-cleanup.js';
import { ensurePinPath, objectHash, pinDirFor, PinStore } from './pin-store.js';
import { DEFAULT_PIN_LOCK_TIMEOUT_MS, lockPinPath, type PinLock } from './pin-lock.js';
import { CarryOverMap, MAP_CARRY } from './carry-over-map.js';
import { createOffsetMap, findOlderPins, manifestFor, MAP_OFFSETS, openPins, type OlderPins } from './pinned-counters.js';
import { libbpf } from '../sys/libbpf.js';
import { BpfObject } from './bpf-object.js';
import { ClsactAttacher } from './clsact-attacher.js';
import { OwnedQdiscs } from './clsact-qdiscs.js';
import { ClsactOwnership, DEFAULT_STATE_DIR } from './clsact-state.js';
import { CounterTable, MapFullError, type Placement } from './counter-table.js';
import { AbiMismatchError, BpfCallError, StateError, TcxUnsupportedError } from './errors.js';
import { isPermissionErrno } from '../sys/errno.js';
import { chooseAttachMode } from './feature-probe.js';
import { programId } from './prog-info.js';
import { readPrecedingPrograms, type PrecedingProgram } from './preceding-programs.js';
import { TcxAttacher } from './tcx-attacher.js';

/** Options of `new EbpfManager(opts)`; every field is optional. */
export interface EbpfManagerOptions {
  /** `auto` (default): tcx links where the kernel has them (6.6+), else clsact + cls_bpf. */
  attachMode?: 'auto' | 'tcx' | 'tc';
  /** Interface names or globs to count; empty (default) = all. `!pattern` excludes. */
  include?: string[];
  /** Interface names or globs never to count; wins over `include`. */
  exclude?: string[];
  /** Receives progress, warnings, and libbpf's messages (at debug). Default: silent. */
  logger?: Logger;
  /** The compiled BPF object. Default: the shipped `bpf/netprobe.bpf.o` of this package. */
  objectPath?: string;
  /** Where clsact qdisc ownership survives a SIGKILL. Default `/run/netprobe`. */
  stateDir?: string;
  /**
   * A directory on bpffs (e.g. `/sys/fs/bpf/netprobe`) where the maps and tcx
   * links are pinned: `close()` then leaves the programs attached and
   * counting, and the next start adopts them (no gap, no reset). Default:
   * none; `close()` detaches everything. `EbpfManager.removePinned()` undoes it.
   */
  pinPath?: string;
  /**
   * With a pin path: how long to wait for another netprobe holding it (its
   * exclusive lock, src/bpf/pin-lock.ts) before failing with NP_ERR_PIN_LOCKED.
   * Default 30 s.
   */
  pinLockTimeoutMs?: number;
  /** Ends a wait for the pin path's lock early (a stop signal). */
  signal?: AbortSignal;
  /** Reads the interfaces with their statistics for the drop and error counters; one netlink dump by default. Injectable for tests. */
  dumpLinks?: () => LinkInfo[];
  /**
   * How many interfaces the overflow hash holds (those whose slot, ifindex
   * mod 1024, another interface already owns). Default 8192.
   */
  overflowCapacity?: number;
}

/** The shipped object, found from this module's location (`src/bpf/` under tsx, `dist/bpf/` when built). */
export const DEFAULT_OBJECT_PATH = fileURLToPath(new URL('../../bpf/netprobe.bpf.o', import.meta.url));

/** How long an upgrade waits after swapping programs before reading the older program's final counts. */
const OLD_PROGRAM_DRAIN_MS = 50;

/** Program names that mark an attachment as netprobe's. */
const OUR_PROGRAMS = [PROG_INGRESS, PROG_EGRESS] as const;

interface AttachedInterface {
  ifindex: number;
  name: string;
  hooks: InterfaceHooks;
  placement: Placement;
}

/** The counter maps and programs, loaded fresh or adopted from pins. */
interface Counters {
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

/** Everything that exists only between a successful load and close(). */
interface Loaded extends Counters {
  readonly attacher: Attacher;
  watcher?: LinkWatcher;
}

type Lifecycle = 'new' | 'loading' | 'loaded' | 'closed';

/**
 * The eBPF TC counter source.
 *
 * @example
 * const ebpf = new EbpfManager({ attachMode: 'auto', exclude: ['lo'] });
 * await ebpf.loadNetworkMonitor();
 * for (const row of ebpf.readCounters()) console.log(row.name, row.direction, row.packets);
 * await ebpf.close();
 */
export class EbpfManager implements CounterSource {
  readonly kind = 'ebpf' as const;

  private readonly logger: Logger;
  private readonly requestedMode: 'auto' | 'tcx' | 'tc';
  private readonly accepts: InterfaceFilter;
  private readonly objectPath: string;
  private readonly stateDir: string;
  private readonly overflowCapacity: number | undefined;
  private readonly pinPath: string | undefined;
  private readonly pinLockTimeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  /** Held from before the pins are opened until close(): one netprobe per pin path. */
  private pinLock: PinLock | undefined;
  /** During the first pass over the interfaces: pinned attachments are adopted instead of attached. */
  private firstPass = false;
  /** Interfaces whose attachments were taken over from an older object (their old counts carry over). */
  private readonly takenOver = new Set<number>();

  private lifecycle: Lifecycle = 'new';
  /** Set while loading once the attacher exists; cleared by close(). */
  private loaded: Loaded | undefined;
  private readonly attached = new Map<number, AttachedInterface>();
  /** Interfaces the filters accept but that could not be counted (map full, attach failed). */
  private readonly uncounted = new Map<number, string>();
  /**
   * Final counts of interfaces deleted since the last read, by ifindex: read
   * just before their entries are cleared, and returned once more by the next
   * readCounters(), so the packets a vanishing pod sent after the last
   * collection still reach its series and its namespace's total.
   */
  private readonly finalRows = new Map<number, CounterRow[]>();
  /** The last dump of the drop and error counters failed (its warning is logged once). */
  private faultsFailed = false;
  /** Reads the namespace's interfaces with their statistics (one netlink dump). */
  private readonly dumpLinks: () => LinkInfo[];
  private readonly listeners = new Set<() => void>();
  private notifyPending = false;
  private readonly pendingEvents: Array<() => void> = [];

  /** Throws NetprobeError NP_ERR_BAD_GLOB for a bad include/exclude pattern. */
  constructor(opts: EbpfManagerOptions = {}) {
    this.logger = opts.logger ?? silentLogger();
    this.requestedMode = opts.attachMode ?? 'auto';
    this.accepts = compileInterfaceFilter(opts.include ?? [], opts.exclude ?? []);
    this.objectPath = opts.objectPath ?? DEFAULT_OBJECT_PATH;
    this.stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
    if (opts.overflowCapacity !== undefined && !(Number.isInteger(opts.overflowCapacity) && opts.overflowCapacity >= 1)) {
      throw new NetprobeError(
        'NP_ERR_BAD_OPTION',
        `EbpfManager option overflowCapacity: ${opts.overflowCapacity} is not a positive integer`,
      );
    }
    this.overflowCapacity = opts.overflowCapacity;
    this.pinPath = opts.pinPath === '' ? undefined : opts.pinPath;
    this.pinLockTimeoutMs = opts.pinLockTimeoutMs ?? DEFAULT_PIN_LOCK_TIMEOUT_MS;
    this.signal = opts.signal;
    this.dumpLinks = opts.dumpLinks ?? dumpLinks;
  }

  /**
   * `--ebpf.cleanup`: detaches and unpins everything netprobe pinned under
   * `pinPath` (any version, this network namespace) and deletes the clsact
   * qdiscs it created once empty. What is not netprobe's is left alone and
   * listed in `left`.
   */
  static async removePinned(opts: {
    pinPath: string;
    stateDir?: string;
    logger?: Logger;
    pinLockTimeoutMs?: number;
  }): Promise<{ removed: string[]; left: string[] }> {
    const logger = opts.logger ?? silentLogger();
    // Never under a running netprobe: wait for it like a start does.
    const lock = await lockPinPath(opts.pinPath, { timeoutMs: opts.pinLockTimeoutMs ?? DEFAULT_PIN_LOCK_TIMEOUT_MS, logger });
    try {
      return await removePinnedState({ pinPath: opts.pinPath, stateDir: opts.stateDir ?? DEFAULT_STATE_DIR, logger });
    } finally {
      lock?.release();
    }
  }

  /** How the programs are attached: 'tcx' or 'tc' once loaded, undefined before. */
  get attachMode(): AttachMode | undefined {
    return this.loaded?.attacher.mode;
  }

  /** With a pin path, once loaded: the record the exporter continues across restarts. */
  get carryOver(): CarryOverStore | undefined {
    return this.loaded?.carry;
  }

  /** Interfaces currently attached and counted. */
  get interfaceCount(): number {
    return this.attached.size;
  }

  /** The counted interfaces, with their current names, in ifindex order. */
  interfaces(): Array<{ ifindex: number; name: string }> {
    return [...this.attached.values()].map(({ ifindex, name }) => ({ ifindex, name })).sort((a, b) => a.ifindex - b.ifindex);
  }

  /**
   * Loads and verifies the BPF programs, picks the attach mode, and attaches
   * to both directions of every interface the filters accept; from then on
   * follows interfaces as they appear, vanish and get renamed. Call once.
   * Throws (and leaves nothing attached) when eBPF cannot be used: missing
   * privileges (NP_ERR_NO_PRIVILEGE), no libbpf (NP_ERR_NO_LIBBPF), no tcx
   * under `attachMode: 'tcx'` (NP_ERR_NO_TCX), verifier rejection (NP_ERR_BPF_LOAD).
   *
   * Following interfaces does not keep the process alive by itself (like an
   * unref'd timer): a server or another handle must. At 2,000 interfaces
   * this took 1.5 s (tcx) and 3.3 s (tc) on the quiet bench VM; with a pin path a
   * restart adopts what is pinned instead, in about 0.3 s (docs/benchmarks.md).
   */
  async loadNetworkMonitor(): Promise<void> {
    if (this.lifecycle !== 'new')
      throw new StateError(`loadNetworkMonitor: already ${this.lifecycle === 'closed' ? 'closed' : 'loaded'}; create a new EbpfManager`);
    this.lifecycle = 'loading';
    let counters: Counters | undefined;
    let tcSocket: NetlinkSocket | undefined;
    try {
      if (this.pinPath) {
        const pinPath = this.pinPath;
        this.pinLock = await lockPinPath(pinPath, {
          timeoutMs: this.pinLockTimeoutMs,
          logger: this.logger,
          prepare: () => ensurePinPath(pinPath),
          ...(this.signal ? { signal: this.signal } : {}),
        });
      }
      tcSocket = NetlinkSocket.open({ receiveTimeoutMs: 5_000 });
      const cookie = tcSocket.netnsCookie();
      counters = this.pinPath ? this.openWithPins(this.pinPath, cookie === undefined ? null : String(cookie)) : this.openFresh();
      const attacher = this.createAttacher(counters, tcSocket, cookie);
      tcSocket = undefined; // the attacher owns it now
      const loaded: Loaded = { ...counters, attacher };
      this.loaded = loaded;

      const { watcher, links } = LinkWatcher.start({
        onLink: (link) => this.enqueue(() => (link.kind === 'del' ? this.linkGone(link.ifindex, link.stats?.faults) : this.linkSeen(link))),
        onResync: (all) => this.enqueue(() => this.resync(all)),
        onError: (err) =>
          this.logger.error({ err }, 'interface events: netlink failed; new interfaces may not be attached until the next resync'),
      });
      loaded.watcher = watcher;
      attacher.start(links);
      this.firstPass = true;
      try {
        for (const link of links) this.linkSeen(link, { initial: true });
      } finally {
        this.firstPass = false;
      }
      if (loaded.adoptFrom) await this.finishAdoption(loaded, links);
      this.lifecycle = 'loaded';
      this.logger.info(
        {
          attachMode: attacher.mode,
          interfaces: this.attached.size,
          uncounted: this.uncounted.size,
          object: this.objectPath,
          pinned: loaded.store?.dir,
        },
        `eBPF counters attached (${attacher.mode}) to ${this.attached.size} interface(s)`,
      );
    } catch (e) {
      tcSocket?.close();
      await this.close();
      counters?.close();
      throw e;
    }
  }

  /**
   * Both directions of every counted interface (zero until traffic flows),
   * with current names: one batch read per map, per-CPU values summed; and
   * the kernel's drop and error counters of each (`faults`) from one
   * RTM_GETLINK dump of the namespace, whatever the number of interfaces.
   */
  readCounters(): CounterRow[] {
    if (this.lifecycle !== 'loaded' || !this.loaded)
      throw new StateError('readCounters: call loadNetworkMonitor() first (or the manager is closed)');
    const rows = this.loaded.table.read(this.interfaces());
    const faults = this.readFaults();
    for (const row of rows) {
      const f = faults?.get(row.ifindex);
      if (f) row.faults = f;
    }
    // A deleted interface's last counts, once; unless its ifindex already counts a new interface.
    for (const [ifindex, finals] of this.finalRows) if (!this.attached.has(ifindex)) rows.push(...finals);
    this.finalRows.clear();
    return rows;
  }

  /**
   * Every interface's drop and error counters by ifindex, or undefined when
   * the dump failed: the TC counters are still good, so the collection goes
   * on without them (logged once per failure streak).
   */
  private readFaults(): Map<number, LinkFaults> | undefined {
    try {
      const faults = new Map<number, LinkFaults>();
      for (const link of this.dumpLinks()) if (link.stats?.faults) faults.set(link.ifindex, link.stats.faults);
      this.faultsFailed = false;
      return faults;
    } catch (e) {
      if (!this.faultsFailed)
        this.logger.warn(
          { err: e instanceof Error ? e.message : String(e) },
          "cannot read the interfaces' drop and error counters (RTM_GETLINK dump); their last values stay exported",
        );
      this.faultsFailed = true;
      return undefined;
    }
  }

  /**
   * `uncounted_packets`: packets that hit an attached hook with no counter
   * entry (normally 0); `interfaces_uncounted`: interfaces the filters accept
   * that could not be counted (overflow map full, attach failed);
   * `interfaces_overflow`: interfaces counted in the overflow hash.
   */
  readSourceStats(): Record<string, bigint> {
    const table = this.loaded?.table;
    if (!table) return {};
    return {
      uncounted_packets: table.uncountedPackets(),
      interfaces_uncounted: BigInt(this.uncounted.size),
      interfaces_overflow: BigInt(table.overflowCount),
    };
  }

  /**
   * Diagnostics: the ifindexes that own a slot in np_slots and the keys in
   * np_overflow, as read from the kernel now (e.g. to prove a deleted
   * interface left nothing behind).
   */
  kernelEntries(): { slots: number[]; overflow: Array<{ ifindex: number; direction: Direction }> } {
    const table = this.loaded?.table;
    if (!table) throw new StateError('kernelEntries: call loadNetworkMonitor() first (or the manager is closed)');
    return {
      slots: table.slotEntries(),
      overflow: table.overflowEntries().map((k) => ({ ifindex: k.ifindex, direction: k.direction === 0 ? 'ingress' : 'egress' })),
    };
  }

  /** Calls `listener` after interfaces were attached, detached or renamed. Returns the unsubscribe function. */
  /** Per counted interface and hook, the TC programs that run before netprobe's (tcx chain, then clsact filters). */
  readPrecedingPrograms(): PrecedingProgram[] {
    return readPrecedingPrograms(
      this.interfaces().map((i) => i.ifindex),
      (name) => (OUR_PROGRAMS as readonly string[]).includes(name),
    );
  }

  onInterfacesChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Detaches everything this manager attached, deletes its map entries,
   * deletes the clsact qdiscs it created once empty, closes every fd and the
   * netlink sockets. Idempotent; never throws (problems are logged).
   */
  async close(): Promise<void> {
    if (this.lifecycle === 'closed') return;
    this.lifecycle = 'closed';
    const loaded = this.loaded;
    this.pendingEvents.length = 0;
    this.listeners.clear();
    if (!loaded) {
      this.releasePinLock();
      return;
    }
    loaded.watcher?.close();
    if (loaded.store) {
      // Pinned: the programs stay attached and counting for the next start to adopt.
      for (const entry of this.attached.values()) for (const hook of entry.hooks.hooks) hook.release();
      this.attached.clear();
      this.logger.info({ pinned: loaded.store.dir }, 'left the eBPF programs attached and counting (pinned)');
    } else {
      for (const ifindex of [...this.attached.keys()]) this.detach(ifindex, 'close');
    }
    this.uncounted.clear();
    this.finalRows.clear();
    loaded.attacher.close();
    loaded.close();
    this.loaded = undefined;
    this.releasePinLock();
  }

  /** After the pinned state is left as the next netprobe should find it. */
  private releasePinLock(): void {
    this.pinLock?.release();
    this.pinLock = undefined;
  }

  /** Opens and loads the object and checks its maps against src/bpf/abi.ts. */
  private loadObject(): BpfObject {
    const object = BpfObject.open(this.objectPath, { logger: this.logger });
    try {
      if (this.overflowCapacity !== undefined) object.setMaxEntries(MAP_OVERFLOW, 2 * this.overflowCapacity);
      object.load();
      for (const [name, expected] of Object.entries(EXPECTED_MAPS)) {
        const map = object.map(name);
        if (map.keySize !== expected.keySize || map.valueSize !== expected.valueSize) {
          throw new AbiMismatchError(
            `map ${name} of ${this.objectPath}: key/value ${map.keySize}/${map.valueSize} bytes, src/bpf/abi.ts expects ${expected.keySize}/${expected.valueSize}`,
          );
        }
      }
    } catch (e) {
      object.close();
      throw e;
    }
    return object;
  }

  private counterParts(object: BpfObject, offsets?: BpfMap): { table: CounterTable; programs: Programs } {
    const table = new CounterTable(object.map(MAP_SLOTS), object.map(MAP_OVERFLOW), object.map(MAP_STATS), offsets);
    const prog = (name: string): { fd: number; id: number } => {
      const fd = object.programFd(name);
      return { fd, id: programId(fd) };
    };
    return { table, programs: { ingress: prog(PROG_INGRESS), egress: prog(PROG_EGRESS) } };
  }

  /** Without a pin path: load the object; close() unloads it. */
  private openFresh(): Counters {
    const object = this.loadObject();
    try {
      const { table, programs } = this.counterParts(object);
      return { table, programs, mode: this.chooseMode(programs), close: () => object.close() };
    } catch (e) {
      object.close();
      throw e;
    }
  }

  /**
   * With a pin path: adopt this object's pins if a predecessor left them
   * (nothing loaded, nothing attached anew), else load, pin, and offer an
   * older object's pins for takeover.
   */
  private openWithPins(pinPath: string, netnsCookie: string | null): Counters {
    ensurePinPath(pinPath);
    const hash = objectHash(this.objectPath);
    const ownDir = pinDirFor(pinPath, hash);
    if (existsSync(ownDir)) {
      const opened = openPins(ownDir, netnsCookie);
      const mode = opened.store.manifest.attachMode;
      if (this.requestedMode !== 'auto' && this.requestedMode !== mode) this.warnPinnedMode(ownDir, mode);
      const programIds = { ingress: opened.programs.ingress.id, egress: opened.programs.egress.id };
      this.logger.info({ pinned: ownDir }, `adopting the pinned eBPF state in ${ownDir}`);
      return { ...opened, mode, adoptFrom: { store: opened.store, programIds } };
    }
    const older = findOlderPins(pinPath, hash, netnsCookie, this.logger);
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
      object = this.loadObject();
      offsets = createOffsetMap();
      carry = CarryOverMap.create();
      const handedOn = older?.carry.read();
      if (handedOn) carry.write(handedOn);
      const { table, programs } = this.counterParts(object, offsets);
      // The older attachments are taken over in place, so their mode is kept (as when adopting our own pins).
      const mode = older ? older.attachMode : this.chooseMode(programs);
      if (older && this.requestedMode !== 'auto' && this.requestedMode !== mode) this.warnPinnedMode(older.store.dir, mode);
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
        this.logger.info(
          { pinned: older.store.dir, attachMode: older.attachMode },
          `taking over the attachments and counts of an older netprobe pinned in ${older.store.dir}`,
        );
      return { table, programs, mode, store, carry, ...(older ? { adoptFrom: older, older } : {}), close };
    } catch (e) {
      close();
      throw e;
    }
  }

  private warnPinnedMode(dir: string, mode: AttachMode): void {
    this.logger.warn(
      { pinned: dir, attachMode: mode },
      `the pinned programs are attached in ${mode} mode; keeping it (run --ebpf.cleanup first to change the attach mode)`,
    );
  }

  private chooseMode(programs: Programs): AttachMode {
    const { mode, tcx } = chooseAttachMode(this.requestedMode, programs.ingress.fd, this.logger);
    if (mode === 'tcx' && !tcx.supported) throw new TcxUnsupportedError(tcx.reason);
    return mode;
  }

  /** The attach mode was picked once; from then on only the attacher knows it. */
  private createAttacher(counters: Counters, tcSocket: NetlinkSocket, netnsCookie: bigint | undefined): Attacher {
    const ownership = ClsactOwnership.forCurrentNetns(this.logger, netnsCookie, this.stateDir);
    const qdiscs = new OwnedQdiscs(tcSocket, ownership, this.logger);
    return counters.mode === 'tc'
      ? new ClsactAttacher(counters.programs, OUR_PROGRAMS, qdiscs, this.logger)
      : new TcxAttacher(counters.programs, OUR_PROGRAMS, qdiscs, this.logger, counters.store);
  }

  /**
   * After the first pass with pins: pins and counter entries of interfaces
   * gone while we were down are removed; after an upgrade, the older
   * object's final counts become offsets and its pins are removed.
   */
  private async finishAdoption(loaded: Loaded, links: readonly LinkInfo[]): Promise<void> {
    const from = loaded.adoptFrom;
    if (!from) return;
    // Ours (or the older object's) on interfaces not counted now (filtered out): detached.
    const ids = [from.programIds.ingress, from.programIds.egress];
    for (const link of links) {
      if (this.attached.has(link.ifindex)) continue;
      for (const direction of DIRECTIONS) removeFilterOf(link.ifindex, direction, ids);
    }
    for (const pin of from.store.linkPins()) if (!this.attached.has(pin.ifindex)) from.store.unpinLink(pin.ifindex, pin.direction);
    const older = loaded.older;
    if (!older) {
      for (const ifindex of loaded.table.entries()) if (!this.attached.has(ifindex)) loaded.table.release(ifindex);
      return;
    }
    // Packets already inside the older programs finish within microseconds; then their counts are final.
    await new Promise((resolve) => setTimeout(resolve, OLD_PROGRAM_DRAIN_MS));
    const carried = [...this.takenOver].map((ifindex) => ({ ifindex, name: this.attached.get(ifindex)?.name ?? '' }));
    for (const row of older.table.read(carried)) {
      loaded.table.addOffset(row.ifindex, row.direction === 'ingress' ? NP_INGRESS : NP_EGRESS, row);
    }
    loaded.table.addUncountedOffset(older.table.uncountedPackets());
    this.takenOver.clear();
    older.close();
    const left = older.store.remove();
    if (left.length > 0)
      this.logger.warn(
        { code: 'NP_ERR_PIN_UNKNOWN', left },
        `removed the older netprobe pins in ${older.store.dir} except what netprobe does not pin`,
      );
    else
      this.logger.info(
        { removed: older.store.dir, interfaces: carried.length },
        `took over ${carried.length} interface(s) from ${older.store.dir}`,
      );
  }

  /**
   * Link events are handled one per event-loop turn, in order: each attach
   * is a blocking system call that waits on the kernel (under load, tens of
   * milliseconds), and a burst of new pods must not stall a scrape for seconds.
   */
  private enqueue(work: () => void): void {
    this.pendingEvents.push(work);
    if (this.pendingEvents.length === 1) setImmediate(() => this.runPendingEvent());
  }

  private runPendingEvent(): void {
    const work = this.pendingEvents[0];
    if (!work) return;
    try {
      work();
    } catch (e) {
      this.logger.error({ err: e }, 'handling an interface event failed');
    }
    this.pendingEvents.shift();
    if (this.pendingEvents.length > 0) setImmediate(() => this.runPendingEvent());
  }

  /** A link exists (dump, RTM_NEWLINK, resync): attach, rename, or detach if the filters now refuse it. */
  private linkSeen(link: LinkInfo, opts: { initial?: boolean } = {}): void {
    if (this.lifecycle === 'closed') return;
    const known = this.attached.get(link.ifindex);
    if (known) {
      if (known.name === link.name) return;
      const oldName = known.name;
      if (!this.accepts(link.name)) {
        this.detach(link.ifindex, 'filtered');
        this.logger.info(
          { ifindex: link.ifindex, from: oldName, to: link.name },
          `interface ${oldName} renamed to ${link.name}, which the filters exclude: detached`,
        );
      } else {
        known.name = link.name;
        this.loaded?.attacher.renamed(link.ifindex, link.name);
        this.logger.info({ ifindex: link.ifindex, from: oldName, to: link.name }, `interface ${oldName} renamed to ${link.name}`);
      }
      this.notify();
      return;
    }
    if (!this.accepts(link.name)) {
      this.uncounted.delete(link.ifindex);
      return;
    }
    if (this.uncounted.get(link.ifindex) === link.name && !opts.initial) return; // already tried; a resync retries
    try {
      this.attach(link.ifindex, link.name);
      this.uncounted.delete(link.ifindex);
      this.notify();
    } catch (e) {
      // Without privileges nothing will ever attach: fail the load instead of logging per interface.
      if (opts.initial && e instanceof BpfCallError && isPermissionErrno(e.errno)) throw e;
      this.uncounted.set(link.ifindex, link.name);
      if (e instanceof MapFullError)
        this.logger.warn(
          { ifindex: link.ifindex, interface: link.name, err: e.message },
          `interface ${link.name} is not counted: the overflow map is full`,
        );
      else
        this.logger.warn(
          { ifindex: link.ifindex, interface: link.name, err: e instanceof Error ? e.message : String(e) },
          `interface ${link.name} could not be attached; skipped`,
        );
    }
  }

  /**
   * RTM_DELLINK: the interface is gone (its tcx links and clsact went with it).
   * `faults`: its final drop and error counters, which the message carries.
   */
  private linkGone(ifindex: number, faults?: LinkFaults): void {
    if (this.lifecycle === 'closed') return;
    this.uncounted.delete(ifindex);
    if (!this.attached.has(ifindex)) {
      this.loaded?.attacher.forget(ifindex);
      return;
    }
    this.detach(ifindex, 'deleted', faults);
    this.notify();
    this.retryUncounted();
  }

  /** Room may have freed up (an overflow entry deleted): try the interfaces left uncounted again. */
  private retryUncounted(): void {
    for (const [ifindex, name] of [...this.uncounted]) {
      this.uncounted.delete(ifindex);
      this.linkSeen({ ifindex, name, up: true });
    }
  }

  /** After missed events: reconcile with the complete list. */
  private resync(links: LinkInfo[]): void {
    if (this.lifecycle === 'closed') return;
    this.logger.warn(
      { interfaces: links.length },
      'interface events were missed (netlink ENOBUFS): resynchronised from a full interface list',
    );
    const present = new Map(links.map((l) => [l.ifindex, l]));
    for (const [ifindex, known] of [...this.attached]) {
      const now = present.get(ifindex);
      // Hooks gone while the ifindex exists again: the interface was re-created; start it from zero.
      if (!now || !known.hooks.hooks.every((h) => h.isAttached())) this.linkGone(ifindex);
    }
    for (const ifindex of [...this.uncounted.keys()]) if (!present.has(ifindex)) this.uncounted.delete(ifindex);
    for (const link of links) {
      if (this.uncounted.get(link.ifindex) === link.name) this.uncounted.delete(link.ifindex); // retry
      this.linkSeen(link);
    }
  }

  private attach(ifindex: number, name: string): void {
    const loaded = this.loaded;
    if (!loaded) throw new StateError('attach: the manager is not loaded');
    const from = this.firstPass ? loaded.adoptFrom : undefined;
    if (from) {
      const own = from.store === loaded.store;
      // Entries exist before the programs count into them (an upgrade swaps programs in at once).
      const placement = (own ? loaded.table.placement(ifindex) : undefined) ?? loaded.table.claim(ifindex);
      let adopted: InterfaceHooks | undefined;
      try {
        adopted = loaded.attacher.adopt(ifindex, name, from);
      } catch (e) {
        loaded.table.release(ifindex);
        throw e;
      }
      if (adopted) {
        if (!own) this.takenOver.add(ifindex);
        this.attached.set(ifindex, { ifindex, name, hooks: adopted, placement });
        this.logger.debug({ ifindex, interface: name, placement }, `adopted the pinned attachments of ${name}`);
        return;
      }
      // Nothing live to adopt (the interface is new, or its ifindex was reused): stale pins go, counting starts at zero.
      for (const direction of DIRECTIONS) from.store.unpinLink(ifindex, direction);
    }
    const placement = loaded.table.claim(ifindex);
    let hooks: InterfaceHooks;
    try {
      hooks = loaded.attacher.attach(ifindex, name);
    } catch (e) {
      loaded.table.release(ifindex);
      throw e;
    }
    this.attached.set(ifindex, { ifindex, name, hooks, placement });
    this.logger.debug({ ifindex, interface: name, attachMode: loaded.attacher.mode, placement }, `attached to ${name}`);
  }

  private detach(ifindex: number, reason: DetachReason, faults?: LinkFaults): void {
    const entry = this.attached.get(ifindex);
    const loaded = this.loaded;
    if (!entry || !loaded) return;
    this.attached.delete(ifindex);
    loaded.attacher.detach(ifindex, entry.name, entry.hooks, reason);
    if (reason === 'deleted') {
      try {
        const finals = loaded.table.readOne(ifindex, entry.name);
        if (faults) for (const row of finals) row.faults = faults;
        this.finalRows.set(ifindex, finals);
      } catch (e) {
        this.logger.warn({ ifindex, err: e instanceof Error ? e.message : String(e) }, `reading the final counts of ${entry.name} failed`);
      }
    }
    try {
      loaded.table.release(ifindex);
    } catch (e) {
      this.logger.warn({ ifindex, err: e instanceof Error ? e.message : String(e) }, `deleting the counters of ${entry.name} failed`);
    }
    this.logger.debug({ ifindex, interface: entry.name, reason }, `detached from ${entry.name}`);
  }

  /** Tells listeners once per burst of changes (a resync may change thousands of interfaces at once). */
  private notify(): void {
    if (this.notifyPending) return;
    this.notifyPending = true;
    queueMicrotask(() => {
      this.notifyPending = false;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch (e) {
          this.logger.error({ err: e }, 'an onInterfacesChanged listener threw');
        }
      }
    });
  }
}
