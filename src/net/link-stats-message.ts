/**
 * RTM_GETSTATS / RTM_NEWSTATS (struct if_stats_msg + IFLA_STATS_* attributes),
 * pure. A stats dump filtered to IFLA_STATS_LINK_64 carries only each
 * interface's struct rtnl_link_stats64: ~230 bytes a link against ~1,500 for
 * an RTM_GETLINK dump, which is what the drop and error counters need every
 * collection. Layouts: include/uapi/linux/if_link.h, rtnetlink.h (Linux 4.7+).
 */
import { buildRequest, NLM_F_DUMP, NLM_F_REQUEST, parseAttributes, type NetlinkMessage } from './netlink-message.js';
import { faultsOfStats64, type LinkFaults } from './link-message.js';

export const RTM_NEWSTATS = 92;
export const RTM_GETSTATS = 94;
/** struct if_stats_msg: family u8, pad u8, pad u16, ifindex u32, filter_mask u32. */
const IF_STATS_MSG_LEN = 12;
const IFLA_STATS_LINK_64 = 1;
/** IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64). */
const FILTER_LINK_64 = 1 << (IFLA_STATS_LINK_64 - 1);
const LINK_64_ONLY: ReadonlySet<number> = new Set([IFLA_STATS_LINK_64]);

/** A dump request for every interface's struct rtnl_link_stats64, and nothing else. */
export function buildLinkStatsDumpRequest(seq: number): Buffer {
  const body = Buffer.alloc(IF_STATS_MSG_LEN);
  body.writeUInt32LE(FILTER_LINK_64, 8);
  return buildRequest(RTM_GETSTATS, NLM_F_REQUEST | NLM_F_DUMP, seq, body);
}

/**
 * The interface and loss counters of one RTM_NEWSTATS message; undefined for
 * another message type or a message without a long enough IFLA_STATS_LINK_64.
 * Throws MalformedNetlinkError on input that cannot be parsed.
 */
export function parseLinkStatsMessage(msg: NetlinkMessage): { ifindex: number; faults: LinkFaults } | undefined {
  if (msg.type !== RTM_NEWSTATS || msg.payload.length < IF_STATS_MSG_LEN) return undefined;
  const stats = parseAttributes(msg.payload, IF_STATS_MSG_LEN, LINK_64_ONLY).get(IFLA_STATS_LINK_64);
  const faults = stats && faultsOfStats64(stats);
  return faults && { ifindex: msg.payload.readInt32LE(4), faults };
}
