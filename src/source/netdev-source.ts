/**
 * The fallback source: the kernel's own per-interface counters (netlink
 * IFLA_STATS64, the numbers `ip -s link` shows), for when eBPF cannot be
 * used. They count what the driver saw, from the interface's creation:
 * rx = ingress, tx = egress. The kernel keeps no GSO segment count here, so
 * `segments` equals `packets`. The same dump carries the drop and error
 * counters (`faults`).
 *
 * Netlink goes through libc (src/sys/libc.ts), which loads without
 * libbpf.so.1; should a dump still report the FFI library missing
 * (NP_ERR_NO_LIBBPF), the source reads sysfs instead (and follows interfaces
 * by its interval only).
 */
import { NetprobeError } from '../errors/index.js';
import { LinkWatcher } from '../net/link-events.js';
import { dumpLinks as dumpLinksFromKernel, type LinkInfo } from '../net/link-dump.js';
import type { Logger } from '../log/logger.js';
import type { CounterRow, CounterSource } from './counter-source.js';
import { readSysfsLinks } from './sysfs-links.js';

/** The error code of a missing FFI library (src/sys/sys-errors.ts). */
const NO_LIBBPF = 'NP_ERR_NO_LIBBPF';

export interface NetdevSourceOptions {
  /** Reads the interfaces with their stats; the netlink dump by default. Injectable for tests. */
  dumpLinks?: () => LinkInfo[];
  /** Where sysfs is read when netlink needs the missing libbpf.so.1 (default `/sys/class/net`). */
  sysfsRoot?: string;
  /** Follows interface changes (default: netlink link events). Returns the function that stops following. Injectable for tests. */
  watchLinks?: (onChange: () => void) => () => void;
  /** Notes the switch to sysfs, link-event failures and interface-count changes. */
  logger?: Logger;
}

export class NetdevSource implements CounterSource {
  readonly kind = 'netdev' as const;
  readonly attachMode = undefined;
  private readonly dump: () => LinkInfo[];
  private readonly watch: (onChange: () => void) => () => void;
  private readonly logger: Logger | undefined;
  private readonly listeners = new Set<() => void>();
  private stopWatching: (() => void) | undefined;
  private readonly sysfsRoot: string | undefined;
  private viaSysfs = false;
  private count = 0;

  constructor(opts: NetdevSourceOptions = {}) {
    this.dump = opts.dumpLinks ?? dumpLinksFromKernel;
    this.sysfsRoot = opts.sysfsRoot;
    this.watch = opts.watchLinks ?? ((onChange) => this.watchLinkEvents(onChange));
    this.logger = opts.logger;
  }

  /** Interfaces seen by the last read. */
  get interfaceCount(): number {
    return this.count;
  }

  /** One netlink dump (or sysfs read): both directions of every interface. Throws when the read fails. */
  readCounters(): CounterRow[] {
    const links = this.readLinks();
    if (links.length !== this.count)
      this.logger?.debug({ interfaces: links.length, before: this.count }, 'netdev source: interface count changed');
    this.count = links.length;
    const rows: CounterRow[] = [];
    for (const link of links) {
      const s = link.stats;
      rows.push(
        {
          ifindex: link.ifindex,
          name: link.name,
          direction: 'ingress',
          packets: s?.rxPackets ?? 0n,
          bytes: s?.rxBytes ?? 0n,
          segments: s?.rxPackets ?? 0n,
          ...(s?.faults ? { faults: s.faults } : {}),
        },
        {
          ifindex: link.ifindex,
          name: link.name,
          direction: 'egress',
          packets: s?.txPackets ?? 0n,
          bytes: s?.txBytes ?? 0n,
          segments: s?.txPackets ?? 0n,
          ...(s?.faults ? { faults: s.faults } : {}),
        },
      );
    }
    return rows;
  }

  /**
   * Calls `listener` when an interface appears, disappears or changes, so a
   * hot-plugged interface is exported without waiting for the interval.
   * Without netlink (no libbpf.so.1) nothing is reported: the interval still
   * picks changes up.
   */
  onInterfacesChanged(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.stopWatching) {
      try {
        this.stopWatching = this.watch(() => {
          for (const l of this.listeners) l();
        });
      } catch (error) {
        this.logger?.info({ err: error }, 'netdev source: cannot follow link events; interfaces are picked up every collection interval');
        this.stopWatching = () => undefined;
      }
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopFollowing();
    };
  }

  /** Stops following link events (each read opens and closes its own netlink socket). */
  async close(): Promise<void> {
    this.listeners.clear();
    this.stopFollowing();
  }

  private stopFollowing(): void {
    this.stopWatching?.();
    this.stopWatching = undefined;
  }

  private watchLinkEvents(onChange: () => void): () => void {
    const { watcher } = LinkWatcher.start({
      onLink: onChange,
      onResync: onChange,
      // The periodic dump still sees every interface; a broken event socket only costs promptness.
      onError: (error) =>
        this.logger?.warn({ err: error }, 'netdev source: link events failed; interfaces are picked up every collection interval'),
    });
    return () => watcher.close();
  }

  private readLinks(): LinkInfo[] {
    if (this.viaSysfs) return readSysfsLinks(this.sysfsRoot);
    try {
      return this.dump();
    } catch (error) {
      if (!(error instanceof NetprobeError && error.code === NO_LIBBPF)) throw error;
      this.viaSysfs = true;
      this.logger?.warn(
        { reason: error.message },
        'netdev source: netlink needs libbpf.so.1 (same FFI library); reading /sys/class/net instead',
      );
      return readSysfsLinks(this.sysfsRoot);
    }
  }
}
