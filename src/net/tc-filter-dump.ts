/**
 * Lists the TC filters on one clsact hook (RTM_GETTFILTER dump), so the
 * loader can tell whether a clsact qdisc still carries someone else's filters
 * before it deletes the qdisc. Message building/parsing is pure.
 */
import { buildRequest, NLM_F_DUMP, NLM_F_REQUEST, type NetlinkMessage } from './netlink-message.js';
import type { NetlinkSocket } from './netlink-socket.js';

export const RTM_NEWTFILTER = 44;
export const RTM_GETTFILTER = 46;
/** TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS). */
export const CLSACT_INGRESS_PARENT = 0xfffffff2;
export const CLSACT_EGRESS_PARENT = 0xfffffff3;
const TCMSG_LEN = 20;

/** One filter on a hook: `priority` and `handle` as `tc filter show` prints them (pref, handle). */
export interface TcFilterEntry {
  priority: number;
  protocol: number;
  handle: number;
}

export function buildFilterDumpRequest(seq: number, ifindex: number, parent: number): Buffer {
  const tcmsg = Buffer.alloc(TCMSG_LEN);
  tcmsg.writeInt32LE(ifindex, 4);
  tcmsg.writeUInt32LE(parent >>> 0, 12);
  return buildRequest(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, seq, tcmsg);
}

/**
 * Filters in a dump reply. The kernel also reports each classifier instance
 * (handle 0, one per priority); those are not filters and are left out.
 */
export function parseFilterEntries(messages: NetlinkMessage[]): TcFilterEntry[] {
  const out: TcFilterEntry[] = [];
  for (const msg of messages) {
    if (msg.type !== RTM_NEWTFILTER || msg.payload.length < TCMSG_LEN) continue;
    const handle = msg.payload.readUInt32LE(8);
    const info = msg.payload.readUInt32LE(16);
    if (handle === 0) continue;
    out.push({ handle, priority: info >>> 16, protocol: ((info & 0xff) << 8) | ((info >>> 8) & 0xff) });
  }
  return out;
}

/** The filters on one clsact hook of `ifindex`. */
export function listFilters(sock: NetlinkSocket, ifindex: number, parent: number): TcFilterEntry[] {
  const what = `list TC filters of ifindex ${ifindex} (parent 0x${parent.toString(16)})`;
  return parseFilterEntries(sock.dump((seq) => buildFilterDumpRequest(seq, ifindex, parent), what));
}
