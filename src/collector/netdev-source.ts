/**
 * The fallback source: the kernel's own per-interface counters (netlink
 * IFLA_STATS64, the numbers `ip -s link` shows), for when eBPF cannot be
 * used. They count what the driver saw, from the interface's creation:
 * rx = ingress, tx = egress. The kernel keeps no GSO segment count here, so
 * `segments` equals `packets`.
 */
import { dumpLinks as dumpLinksFromKernel, type LinkInfo } from '../net/link-dump.js';
import type { Logger } from '../log/logger.js';
import type { CounterRow, CounterSource } from './counter-source.js';

export interface NetdevSourceOptions {
  /** Reads the interfaces with their stats; the netlink dump by default (injectable for tests). */
  dumpLinks?: () => LinkInfo[];
  /** Notes changes of the interface count at debug level. */
  logger?: Logger;
}

export class NetdevSource implements CounterSource {
  readonly kind = 'netdev' as const;
  readonly attachMode = undefined;
  private readonly dump: () => LinkInfo[];
  private readonly logger: Logger | undefined;
  private count = 0;

  constructor(opts: NetdevSourceOptions = {}) {
    this.dump = opts.dumpLinks ?? dumpLinksFromKernel;
    this.logger = opts.logger;
  }

  /** Interfaces seen by the last read. */
  get interfaceCount(): number {
    return this.count;
  }

  /** One netlink dump: both directions of every interface. Throws when netlink fails. */
  readCounters(): CounterRow[] {
    const links = this.dump();
    if (links.length !== this.count) this.logger?.debug({ interfaces: links.length, before: this.count }, 'netdev source: interface count changed');
    this.count = links.length;
    const rows: CounterRow[] = [];
    for (const link of links) {
      const s = link.stats;
      rows.push(
        { ifindex: link.ifindex, name: link.name, direction: 'ingress', packets: s?.rxPackets ?? 0n, bytes: s?.rxBytes ?? 0n, segments: s?.rxPackets ?? 0n },
        { ifindex: link.ifindex, name: link.name, direction: 'egress', packets: s?.txPackets ?? 0n, bytes: s?.txBytes ?? 0n, segments: s?.txPackets ?? 0n },
      );
    }
    return rows;
  }

  /** Nothing to release: each read opens and closes its own netlink socket. */
  async close(): Promise<void> {}
}
