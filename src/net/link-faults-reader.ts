/**
 * Every interface's drop and error counters of the current network
 * namespace, read every collection with one RTM_GETSTATS dump over a socket
 * kept open: the messages are parsed in the socket's own buffer and only the
 * counters are kept (an RTM_GETLINK dump copied ~3 MB a second at 2,000
 * interfaces; docs/benchmarks.md, part 5b).
 */
import type { LinkFaults } from './link-message.js';
import { buildLinkStatsDumpRequest, parseLinkStatsMessage } from './link-stats-message.js';
import { NetlinkSocket } from './netlink-socket.js';

/** How long a dump may take before it is abandoned (the kernel answers in well under a millisecond per link). */
const DUMP_TIMEOUT_MS = 5_000;

export class LinkFaultsReader {
  private sock: NetlinkSocket | undefined;
  private readonly faults = new Map<number, LinkFaults>();

  /**
   * ifindex → its counters, in a map this reader reuses (valid until the next
   * read). Throws NetlinkError when netlink fails; the next read opens a new socket.
   */
  read(): ReadonlyMap<number, LinkFaults> {
    this.sock ??= NetlinkSocket.open({ receiveTimeoutMs: DUMP_TIMEOUT_MS });
    this.faults.clear();
    try {
      this.sock.dumpEach(buildLinkStatsDumpRequest, 'dump interface statistics (RTM_GETSTATS)', (msg) => {
        const link = parseLinkStatsMessage(msg);
        if (link) this.faults.set(link.ifindex, link.faults);
      });
    } catch (e) {
      // A failed dump may leave replies queued: start over on a fresh socket.
      this.close();
      throw e;
    }
    return this.faults;
  }

  close(): void {
    this.sock?.close();
    this.sock = undefined;
  }
}
