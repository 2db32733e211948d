/**
 * EbpfManager: the eBPF TC counters as a CounterSource. A thin composer of
 * the TC counter unit (src/bpf/tc-counter/): takes the pin path's lock, opens
 * the counters (loaded, or adopted from pins), picks the attacher, and lets
 * CountedInterfaces follow interfaces as they come, go and get renamed
 * (netlink link events, no polling). Reads all counters in one batch per map,
 * and on `close()` leaves nothing behind (or, pinned, everything counting).
 */
import type { AttachMode, CarryOverStore, CounterRow, CounterSource, Direction } from '../source/counter-source.js';
import { NetprobeError } from '../errors/index.js';
import { silentLogger, type Logger } from '../log/logger.js';
import type { LinkFaults } from '../net/link-message.js';
import { LinkFaultsReader } from '../net/link-faults-reader.js';
import { LinkWatcher } from '../net/link-events.js';
import { NetlinkSocket } from '../net/netlink-socket.js';
import { compileInterfaceFilter, type InterfaceFilter } from '../net/interface-filter.js';
import { StateError } from './errors.js';
import { DEFAULT_PIN_LOCK_TIMEOUT_MS, lockPinPath, type PinLock } from './pin-lock.js';
import { ensurePinPath } from './pin-store.js';
import { removePinnedState } from './pin-cleanup.js';
import { ChangeListeners } from './tc-counter/change-listeners.js';
import { attacherFor, OUR_PROGRAMS, type Attacher } from './tc-counter/attacher.js';
import { DEFAULT_STATE_DIR } from './tc-counter/clsact-state.js';
import { CountedInterfaces } from './tc-counter/counted-interfaces.js';
import { finishAdoption } from './tc-counter/finish-adoption.js';
import { LinkEventQueue } from './tc-counter/link-event-queue.js';
import { DEFAULT_OBJECT_PATH, openCounters, type OpenedCounters } from './tc-counter/open-counters.js';
import { readPrecedingPrograms, type PrecedingProgram } from './tc-counter/preceding-programs.js';

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
  /**
   * How many interfaces the overflow hash holds (those whose slot, ifindex
   * mod 1024, another interface already owns). Default 8192.
   */
  overflowCapacity?: number;
}

/** Everything that exists only between a successful load and close(). */
interface Loaded extends OpenedCounters {
  readonly attacher: Attacher;
  readonly interfaces: CountedInterfaces;
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

  private lifecycle: Lifecycle = 'new';
  /** Set while loading once the attacher exists; cleared by close(). */
  private loaded: Loaded | undefined;
  private readonly events: LinkEventQueue;
  private readonly listeners: ChangeListeners;
  /** The last dump of the drop and error counters failed (its warning is logged once). */
  private faultsFailed = false;
  /** Reads every interface's drop and error counters (one RTM_GETSTATS dump per collection). */
  private readonly faultsReader = new LinkFaultsReader();

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
    this.events = new LinkEventQueue(this.logger);
    this.listeners = new ChangeListeners(this.logger);
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
    return this.loaded?.interfaces.size ?? 0;
  }

  /** The counted interfaces, with their current names, in ifindex order. */
  interfaces(): Array<{ ifindex: number; name: string }> {
    return this.loaded?.interfaces.list() ?? [];
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
    let counters: OpenedCounters | undefined;
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
      counters = openCounters(
        { objectPath: this.objectPath, requestedMode: this.requestedMode, overflowCapacity: this.overflowCapacity, logger: this.logger },
        this.pinPath ? { pinPath: this.pinPath, netnsCookie: cookie === undefined ? null : String(cookie) } : undefined,
      );
      const attacher = attacherFor({
        mode: counters.mode,
        programs: counters.programs,
        ...(counters.store ? { store: counters.store } : {}),
        tcSocket,
        netnsCookie: cookie,
        stateDir: this.stateDir,
        logger: this.logger,
      });
      tcSocket = undefined; // the attacher owns it now
      const interfaces = new CountedInterfaces({
        counters,
        attacher,
        accepts: this.accepts,
        logger: this.logger,
        onChange: () => this.listeners.notify(),
      });
      const loaded: Loaded = { ...counters, attacher, interfaces };
      this.loaded = loaded;

      const { watcher, links } = LinkWatcher.start({
        onLink: (link) =>
          this.events.enqueue(() =>
            link.kind === 'del' ? interfaces.linkGone(link.ifindex, link.stats?.faults) : interfaces.linkSeen(link),
          ),
        onResync: (all) => this.events.enqueue(() => interfaces.resync(all)),
        onError: (err) =>
          this.logger.error({ err }, 'interface events: netlink failed; new interfaces may not be attached until the next resync'),
      });
      loaded.watcher = watcher;
      attacher.start(links);
      interfaces.attachPresent(links);
      if (loaded.adoptFrom) await finishAdoption(loaded, interfaces, links, this.logger);
      this.lifecycle = 'loaded';
      this.logger.info(
        {
          attachMode: attacher.mode,
          interfaces: interfaces.size,
          uncounted: interfaces.uncountedCount,
          object: this.objectPath,
          pinned: loaded.store?.dir,
        },
        `eBPF counters attached (${attacher.mode}) to ${interfaces.size} interface(s)`,
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
    const rows = this.loaded.interfaces.read();
    const faults = this.readFaults();
    // Final rows of deleted interfaces carry the counters their RTM_DELLINK gave.
    for (const row of rows) {
      const f = faults?.get(row.ifindex);
      if (f && !row.faults) row.faults = f;
    }
    return rows;
  }

  /**
   * Every interface's drop and error counters by ifindex, or undefined when
   * the dump failed: the TC counters are still good, so the collection goes
   * on without them (logged once per failure streak).
   */
  private readFaults(): ReadonlyMap<number, LinkFaults> | undefined {
    try {
      const faults = this.faultsReader.read();
      this.faultsFailed = false;
      return faults;
    } catch (e) {
      if (!this.faultsFailed)
        this.logger.warn(
          { err: e instanceof Error ? e.message : String(e) },
          "cannot read the interfaces' drop and error counters (RTM_GETSTATS dump); their last values stay exported",
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
    const loaded = this.loaded;
    if (!loaded) return {};
    return {
      uncounted_packets: loaded.table.uncountedPackets(),
      interfaces_uncounted: BigInt(loaded.interfaces.uncountedCount),
      interfaces_overflow: BigInt(loaded.table.overflowCount),
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

  /** Per counted interface and hook, the TC programs that run before netprobe's (tcx chain, then clsact filters). */
  readPrecedingPrograms(): PrecedingProgram[] {
    return readPrecedingPrograms(
      this.interfaces().map((i) => i.ifindex),
      (name) => (OUR_PROGRAMS as readonly string[]).includes(name),
    );
  }

  /** Calls `listener` after interfaces were attached, detached or renamed. Returns the unsubscribe function. */
  onInterfacesChanged(listener: () => void): () => void {
    return this.listeners.add(listener);
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
    this.events.clear();
    this.listeners.clear();
    this.faultsReader.close();
    if (!loaded) {
      this.releasePinLock();
      return;
    }
    loaded.watcher?.close();
    loaded.interfaces.close();
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
}
