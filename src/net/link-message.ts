/**
 * RTM_NEWLINK / RTM_DELLINK messages (struct ifinfomsg + IFLA_* attributes)
 * to plain objects, pure. Layouts: include/uapi/linux/rtnetlink.h,
 * if_link.h (struct rtnl_link_stats64).
 */
import {
  buildRequest,
  MalformedNetlinkError,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  parseAttributes,
  splitMessages,
  type NetlinkMessage,
} from './netlink-message.js';

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
/** Multicast group of link events (bind's nl_groups bit mask). */
export const RTMGRP_LINK = 0x1;

const IFINFOMSG_LEN = 16;
/** ifi_family of the interface itself; bridges also send AF_BRIDGE messages about their ports. */
const AF_UNSPEC = 0;
const IFLA_IFNAME = 3;
/** u32: ifindex of the device this one is enslaved to (a bond's or bridge's port). */
const IFLA_MASTER = 10;
/** Nested: IFLA_INFO_KIND (a string: veth, bridge, vxlan, ...), absent on physical NICs and lo. */
const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_STATS64 = 23;
/** s32: the namespace id (in this namespace's view) of the namespace holding the link's peer. */
const IFLA_LINK_NETNSID = 37;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const WANTED_ATTRIBUTES: ReadonlySet<number> = new Set([IFLA_IFNAME, IFLA_STATS64, IFLA_LINK_NETNSID, IFLA_MASTER, IFLA_LINKINFO]);
const KIND_ONLY: ReadonlySet<number> = new Set([IFLA_INFO_KIND]);
/** struct rtnl_link_stats64 starts rx_packets, tx_packets, rx_bytes, tx_bytes (u64 each). */
const STATS64_MIN_LEN = 32;
/**
 * Byte offsets of the loss counters in struct rtnl_link_stats64 (u64 each,
 * in the order of include/uapi/linux/if_link.h); rx_nohandler, the last one
 * read, arrived in Linux 4.6, so a shorter attribute carries no faults.
 */
const STATS64 = {
  rxErrors: 4 * 8,
  txErrors: 5 * 8,
  rxDropped: 6 * 8,
  txDropped: 7 * 8,
  rxOverErrors: 11 * 8,
  rxFifoErrors: 14 * 8,
  rxMissedErrors: 15 * 8,
  rxNohandler: 23 * 8,
} as const;
const STATS64_FAULTS_LEN = STATS64.rxNohandler + 8;

/** The kernel's own traffic counters of an interface (IFLA_STATS64). */
export interface LinkStats {
  rxPackets: bigint;
  rxBytes: bigint;
  txPackets: bigint;
  txBytes: bigint;
  /** Drops and errors; absent when the kernel's struct was too short to hold them (before Linux 4.6). */
  faults?: LinkFaults;
}

/**
 * A u64 counter the kernel keeps: a number while a double holds it exactly
 * (below 2^53), a bigint above. Drop and error counts stay far below 2^53;
 * as numbers they cost no heap object each (2,000 interfaces × 8 of them).
 */
export type Count64 = number | bigint;

/**
 * The kernel's drop and error counters of an interface, as `ip -s -s link`
 * shows them (struct rtnl_link_stats64 fields of the same names). Drivers
 * count them, from the interface's creation: a NIC's ring overflows land in
 * rxMissedErrors or rxFifoErrors, XDP drops in rxDropped (driver-dependent).
 * Each is a Count64; an interface whose counters are all zero gets the shared
 * NO_FAULTS (frozen).
 */
export interface LinkFaults {
  /** rx_dropped: received packets dropped by the kernel or driver (no buffer, XDP_DROP, ...). */
  rxDropped: Count64;
  /** tx_dropped: packets dropped on the way out (a veth whose peer is down, no queue, ...). */
  txDropped: Count64;
  /** rx_errors: bad packets received (the total of the driver's receive error kinds). */
  rxErrors: Count64;
  /** tx_errors: packets the device failed to send. */
  txErrors: Count64;
  /** rx_missed_errors: the NIC had no room for the packet (its ring or FIFO was full; the host never saw it). */
  rxMissedErrors: Count64;
  /** rx_fifo_errors: receive FIFO overruns. */
  rxFifoErrors: Count64;
  /** rx_over_errors: packets larger than the receive buffer (ring overflow on some drivers). */
  rxOverErrors: Count64;
  /** rx_nohandler: received, but no protocol handler took them (unknown ethertype, a bond's inactive port). */
  rxNohandler: Count64;
}

/** One interface as the kernel describes it. */
export interface LinkInfo {
  ifindex: number;
  name: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** From IFLA_STATS64, when the message carried it. */
  stats?: LinkStats;
  /**
   * IFLA_LINK_NETNSID: the id this namespace gives the namespace of the
   * link's peer (a veth whose other end lives in a pod); absent when the
   * peer is here or the link has none.
   */
  linkNetnsid?: number;
  /** IFLA_INFO_KIND (veth, bridge, vxlan, bond, ...); absent for physical NICs and lo, which have none. */
  linkKind?: string;
  /** IFLA_MASTER: the ifindex of the bond or bridge this interface is a port of. */
  master?: number;
  /** IFF_LOOPBACK is set (lo). */
  loopback?: true;
}

/** A link message: `new` (created or changed: renamed, up/down) or `del`. */
export interface LinkMessage extends LinkInfo {
  kind: 'new' | 'del';
  /** ifi_family: 0 for the interface itself; AF_BRIDGE (7) for bridge-port news. */
  family: number;
}

/** True for message types this module parses. */
export function isLinkMessage(msg: NetlinkMessage): boolean {
  return msg.type === RTM_NEWLINK || msg.type === RTM_DELLINK;
}

/** Parses an RTM_NEWLINK/RTM_DELLINK message. Throws MalformedNetlinkError on truncated input. */
export function parseLinkMessage(msg: NetlinkMessage): LinkMessage {
  if (!isLinkMessage(msg)) throw new MalformedNetlinkError(`type ${msg.type} is not a link message`);
  const p = msg.payload;
  if (p.length < IFINFOMSG_LEN) throw new MalformedNetlinkError(`link message of ${p.length} bytes, shorter than struct ifinfomsg`);
  const ifindex = p.readInt32LE(4);
  const flags = p.readUInt32LE(8);
  if (ifindex <= 0) throw new MalformedNetlinkError(`link message with ifindex ${ifindex}`);
  const attrs = parseAttributes(p, IFINFOMSG_LEN, WANTED_ATTRIBUTES);
  const nameAttr = attrs.get(IFLA_IFNAME);
  if (!nameAttr) throw new MalformedNetlinkError(`link message for ifindex ${ifindex} without IFLA_IFNAME`);
  const link: LinkMessage = {
    kind: msg.type === RTM_NEWLINK ? 'new' : 'del',
    family: p.readUInt8(0),
    ifindex,
    name: cString(nameAttr),
    up: (flags & IFF_UP) !== 0,
  };
  if ((flags & IFF_LOOPBACK) !== 0) link.loopback = true;
  const master = attrs.get(IFLA_MASTER);
  if (master && master.length >= 4 && master.readUInt32LE(0) > 0) link.master = master.readUInt32LE(0);
  const linkinfo = attrs.get(IFLA_LINKINFO);
  const kind = linkinfo ? parseAttributes(linkinfo, 0, KIND_ONLY).get(IFLA_INFO_KIND) : undefined;
  if (kind) link.linkKind = cString(kind);
  const netnsid = attrs.get(IFLA_LINK_NETNSID);
  if (netnsid && netnsid.length >= 4 && netnsid.readInt32LE(0) >= 0) link.linkNetnsid = netnsid.readInt32LE(0);
  const stats = attrs.get(IFLA_STATS64);
  if (stats && stats.length >= STATS64_MIN_LEN) {
    link.stats = {
      rxPackets: stats.readBigUInt64LE(0),
      txPackets: stats.readBigUInt64LE(8),
      rxBytes: stats.readBigUInt64LE(16),
      txBytes: stats.readBigUInt64LE(24),
    };
    const faults = faultsOfStats64(stats);
    if (faults) link.stats.faults = faults;
  }
  return link;
}

/** The counters of an interface that never dropped nor failed a packet (most of them): one object for all. */
export const NO_FAULTS: Readonly<LinkFaults> = Object.freeze({
  rxDropped: 0,
  txDropped: 0,
  rxErrors: 0,
  txErrors: 0,
  rxMissedErrors: 0,
  rxFifoErrors: 0,
  rxOverErrors: 0,
  rxNohandler: 0,
});

/** `faults`, or NO_FAULTS when every counter is zero. */
export function sharedIfZero(f: LinkFaults): LinkFaults {
  const zero =
    f.rxDropped === 0 &&
    f.txDropped === 0 &&
    f.rxErrors === 0 &&
    f.txErrors === 0 &&
    f.rxMissedErrors === 0 &&
    f.rxFifoErrors === 0 &&
    f.rxOverErrors === 0 &&
    f.rxNohandler === 0;
  return zero ? NO_FAULTS : f;
}

/** A decimal u64 (a sysfs statistics file) as a Count64. */
export function parseCount64(text: string): Count64 {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** A u64 at `at` (little-endian) as a Count64: a number below 2^53, a bigint from there. */
function readCount64(buf: Buffer, at: number): Count64 {
  const high = buf.readUInt32LE(at + 4);
  return high < 0x20_0000 ? high * 0x1_0000_0000 + buf.readUInt32LE(at) : buf.readBigUInt64LE(at);
}

/**
 * The loss counters of a struct rtnl_link_stats64 (IFLA_STATS64, or
 * RTM_NEWSTATS' IFLA_STATS_LINK_64); undefined when it is too short to hold
 * them (before Linux 4.6).
 */
export function faultsOfStats64(stats: Buffer): LinkFaults | undefined {
  if (stats.length < STATS64_FAULTS_LEN) return undefined;
  return sharedIfZero({
    rxDropped: readCount64(stats, STATS64.rxDropped),
    txDropped: readCount64(stats, STATS64.txDropped),
    rxErrors: readCount64(stats, STATS64.rxErrors),
    txErrors: readCount64(stats, STATS64.txErrors),
    rxMissedErrors: readCount64(stats, STATS64.rxMissedErrors),
    rxFifoErrors: readCount64(stats, STATS64.rxFifoErrors),
    rxOverErrors: readCount64(stats, STATS64.rxOverErrors),
    rxNohandler: readCount64(stats, STATS64.rxNohandler),
  });
}

/** A NUL-terminated string attribute. */
function cString(attr: Buffer): string {
  const nul = attr.indexOf(0);
  return attr.toString('utf8', 0, nul < 0 ? attr.length : nul);
}

/**
 * The interface events in one datagram from an RTMGRP_LINK socket. Only
 * messages about interfaces themselves count: a bridge reports a port
 * leaving it as an AF_BRIDGE RTM_DELLINK, yet the interface still exists.
 * Throws MalformedNetlinkError on input that cannot be parsed.
 */
export function linkEvents(datagram: Buffer): LinkMessage[] {
  return splitMessages(datagram)
    .filter(isLinkMessage)
    .map(parseLinkMessage)
    .filter((link) => link.family === AF_UNSPEC);
}

/** An RTM_GETLINK dump request for every interface of the namespace. */
export function buildLinkDumpRequest(seq: number): Buffer {
  return buildRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, Buffer.alloc(IFINFOMSG_LEN));
}
