/**
 * The interfaces of the current network namespace, read synchronously with
 * one RTM_GETLINK dump (names, IFF_UP, and the kernel's IFLA_STATS64
 * counters). Used at start, after missed events, and by the netdev source.
 */
import { buildLinkDumpRequest, isLinkMessage, parseLinkMessage, type LinkInfo } from './link-message.js';
import { NetlinkSocket } from './netlink-socket.js';

export type { LinkFaults, LinkInfo, LinkStats } from './link-message.js';

/** How long a dump may take before it is abandoned (the kernel answers in well under a millisecond per link). */
const DUMP_TIMEOUT_MS = 5_000;

/**
 * Every interface of this network namespace, in ifindex order, with stats.
 * Throws NetlinkError when netlink fails.
 *
 * @example
 * for (const link of dumpLinks()) console.log(link.ifindex, link.name, link.stats?.rxBytes);
 */
export function dumpLinks(): LinkInfo[] {
  const sock = NetlinkSocket.open({ receiveTimeoutMs: DUMP_TIMEOUT_MS });
  try {
    return readLinks(sock);
  } finally {
    sock.close();
  }
}

/** A dump over an already open socket (reused by link watchers). */
export function readLinks(sock: NetlinkSocket): LinkInfo[] {
  const links: LinkInfo[] = [];
  for (const msg of sock.dump(buildLinkDumpRequest, 'dump network interfaces (RTM_GETLINK)')) {
    if (!isLinkMessage(msg)) continue;
    const { kind: _kind, family, ...link } = parseLinkMessage(msg);
    if (family === 0) links.push(link);
  }
  return links.sort((a, b) => a.ifindex - b.ifindex);
}
