/**
 * RTM_NEWROUTE / RTM_DELROUTE messages (struct rtmsg + RTA_* attributes) to
 * plain objects, pure: only what finding the default routes needs. Layouts:
 * include/uapi/linux/rtnetlink.h.
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

export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;
/** Multicast groups of IPv4 and IPv6 route changes (bind's nl_groups bit mask). */
export const RTMGRP_IPV4_ROUTE = 0x40;
export const RTMGRP_IPV6_ROUTE = 0x400;

export const AF_INET = 2;
export const AF_INET6 = 10;
/** rtm_table / RTA_TABLE: the main table (`ip route` without `table`) and the local one (the node's own addresses). */
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;
/** rtm_type of a route that forwards (not blackhole, unreachable, local, ...). */
export const RTN_UNICAST = 1;

const RTMSG_LEN = 12;
const RTA_OIF = 4;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const WANTED_ATTRIBUTES: ReadonlySet<number> = new Set([RTA_OIF, RTA_MULTIPATH, RTA_TABLE]);
/** struct rtnexthop: u16 len, u8 flags, u8 hops, s32 ifindex, then attributes. */
const RTNEXTHOP_LEN = 8;

/** One route, reduced to what decides whether it is a default route and where it leaves. */
export interface RouteInfo {
  family: number;
  /** Prefix length of the destination: 0 for a default route. */
  dstLen: number;
  /** Routing table (RTA_TABLE when present, else rtm_table). */
  table: number;
  /** rtm_type (RTN_UNICAST for a route that forwards). */
  type: number;
  /** Output interfaces: RTA_OIF, or every hop of RTA_MULTIPATH (ECMP). Empty for a route by nexthop id only. */
  oifs: number[];
}

export function isRouteMessage(msg: NetlinkMessage): boolean {
  return msg.type === RTM_NEWROUTE || msg.type === RTM_DELROUTE;
}

/** Parses an RTM_NEWROUTE/RTM_DELROUTE message. Throws MalformedNetlinkError on truncated input. */
export function parseRouteMessage(msg: NetlinkMessage): RouteInfo {
  if (!isRouteMessage(msg)) throw new MalformedNetlinkError(`type ${msg.type} is not a route message`);
  const p = msg.payload;
  if (p.length < RTMSG_LEN) throw new MalformedNetlinkError(`route message of ${p.length} bytes, shorter than struct rtmsg`);
  const attrs = parseAttributes(p, RTMSG_LEN, WANTED_ATTRIBUTES);
  const table = attrs.get(RTA_TABLE);
  const route: RouteInfo = {
    family: p.readUInt8(0),
    dstLen: p.readUInt8(1),
    table: table && table.length >= 4 ? table.readUInt32LE(0) : p.readUInt8(4),
    type: p.readUInt8(7),
    oifs: [],
  };
  const oif = attrs.get(RTA_OIF);
  if (oif && oif.length >= 4 && oif.readInt32LE(0) > 0) route.oifs.push(oif.readInt32LE(0));
  const multipath = attrs.get(RTA_MULTIPATH);
  if (multipath) {
    for (let at = 0; at + RTNEXTHOP_LEN <= multipath.length;) {
      const len = multipath.readUInt16LE(at);
      if (len < RTNEXTHOP_LEN || at + len > multipath.length) throw new MalformedNetlinkError(`nexthop length ${len} at offset ${at}`);
      const ifindex = multipath.readInt32LE(at + 4);
      if (ifindex > 0 && !route.oifs.includes(ifindex)) route.oifs.push(ifindex);
      at += (len + 3) & ~3;
    }
  }
  return route;
}

/** A default route that forwards: to 0.0.0.0/0 or ::/0, unicast, outside the local table. */
export function isDefaultRoute(route: RouteInfo): boolean {
  return (
    (route.family === AF_INET || route.family === AF_INET6) &&
    route.dstLen === 0 &&
    route.type === RTN_UNICAST &&
    route.table !== RT_TABLE_LOCAL
  );
}

/** The route messages in one datagram of a route-event socket. Throws MalformedNetlinkError. */
export function routeEvents(datagram: Buffer): RouteInfo[] {
  return splitMessages(datagram).filter(isRouteMessage).map(parseRouteMessage);
}

/** An RTM_GETROUTE dump request for every route of one address family. */
export function buildRouteDumpRequest(family: number, seq: number): Buffer {
  const rtmsg = Buffer.alloc(RTMSG_LEN);
  rtmsg.writeUInt8(family, 0);
  return buildRequest(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, rtmsg);
}
