/**
 * RTM_GETNSID / RTM_NEWNSID, pure: "which id does this namespace give the
 * network namespace of process P?" Layouts: include/uapi/linux/net_namespace.h
 * (struct rtgenmsg, then NETNSA_* attributes). The kernel answers without
 * any capability; the pid is read in the caller's PID namespace.
 */
import { align4, MalformedNetlinkError, NLM_F_REQUEST, NLMSG_HDRLEN, parseAttributes, type NetlinkMessage } from './netlink-message.js';

export const RTM_NEWNSID = 88;
export const RTM_GETNSID = 90;
const NETNSA_NSID = 1;
const NETNSA_PID = 2;
/** struct rtgenmsg is one byte, padded to 4. */
const RTGENMSG_LEN = 4;
/** The kernel's NETNSA_NSID_NOT_ASSIGNED. */
export const NSID_NOT_ASSIGNED = -1;

/** An RTM_GETNSID request for the namespace of process `pid`. */
export function buildNetnsIdByPidRequest(seq: number, pid: number): Buffer {
  const attrLen = 8; // rtattr header + u32
  const len = NLMSG_HDRLEN + RTGENMSG_LEN + attrLen;
  const msg = Buffer.alloc(align4(len));
  msg.writeUInt32LE(len, 0);
  msg.writeUInt16LE(RTM_GETNSID, 4);
  msg.writeUInt16LE(NLM_F_REQUEST, 6);
  msg.writeUInt32LE(seq >>> 0, 8);
  msg.writeUInt32LE(0, 12);
  // rtgenmsg.rtgen_family = AF_UNSPEC (0), then NETNSA_PID
  msg.writeUInt16LE(attrLen, NLMSG_HDRLEN + RTGENMSG_LEN);
  msg.writeUInt16LE(NETNSA_PID, NLMSG_HDRLEN + RTGENMSG_LEN + 2);
  msg.writeUInt32LE(pid >>> 0, NLMSG_HDRLEN + RTGENMSG_LEN + 4);
  return msg;
}

/** The NETNSA_NSID of an RTM_NEWNSID reply: NSID_NOT_ASSIGNED when the namespace has no id here. */
export function parseNetnsIdReply(msg: NetlinkMessage): number {
  if (msg.type !== RTM_NEWNSID) throw new MalformedNetlinkError(`type ${msg.type} is not RTM_NEWNSID`);
  const attrs = parseAttributes(msg.payload, RTGENMSG_LEN);
  const nsid = attrs.get(NETNSA_NSID);
  if (!nsid || nsid.length < 4) throw new MalformedNetlinkError('RTM_NEWNSID without NETNSA_NSID');
  return nsid.readInt32LE(0);
}
