/**
 * Netlink framing, pure: splitting a datagram into messages, reading route
 * attributes, building requests. No sockets here (see netlink-socket.ts).
 * Layouts: include/uapi/linux/netlink.h (host byte order: little-endian on
 * the platforms netprobe supports).
 */

export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the 16-byte header (a view into the datagram). */
  payload: Buffer;
}

/** Raised for input that is not valid netlink; the caller decides whether to resync. */
export class MalformedNetlinkError extends Error {
  constructor(message: string) {
    super(`malformed netlink message: ${message}`);
    this.name = 'MalformedNetlinkError';
  }
}

/** Netlink aligns messages and attributes to 4 bytes. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Splits one datagram into its messages. Throws MalformedNetlinkError on a truncated or inconsistent header. */
export function splitMessages(datagram: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= datagram.length) {
    const len = datagram.readUInt32LE(at);
    if (len < NLMSG_HDRLEN) throw new MalformedNetlinkError(`length ${len} at offset ${at} is shorter than the header`);
    if (at + len > datagram.length)
      throw new MalformedNetlinkError(`length ${len} at offset ${at} runs past the datagram (${datagram.length} bytes)`);
    out.push({
      type: datagram.readUInt16LE(at + 4),
      flags: datagram.readUInt16LE(at + 6),
      seq: datagram.readUInt32LE(at + 8),
      pid: datagram.readUInt32LE(at + 12),
      payload: datagram.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += align4(len);
  }
  if (at < datagram.length && datagram.length - at >= 4) {
    throw new MalformedNetlinkError(`${datagram.length - at} trailing bytes after the last message`);
  }
  return out;
}

/** The negative errno of an NLMSG_ERROR message (0 = an ACK). */
export function errorCode(msg: NetlinkMessage): number {
  if (msg.payload.length < 4) throw new MalformedNetlinkError('NLMSG_ERROR without an error code');
  return msg.payload.readInt32LE(0);
}

/** NLA_F_NESTED and NLA_F_NET_BYTEORDER live in the top bits of the attribute type. */
const NLA_TYPE_MASK = 0x3fff;

/**
 * Reads route attributes (struct rtattr: u16 len, u16 type, data) from
 * `buf` starting at `offset`, all of them or `only` those types. Later
 * duplicates win. A truncated attribute throws MalformedNetlinkError.
 */
export function parseAttributes(buf: Buffer, offset: number, only?: ReadonlySet<number>): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let at = offset;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    const type = buf.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (len < 4) throw new MalformedNetlinkError(`attribute length ${len} at offset ${at}`);
    if (at + len > buf.length) throw new MalformedNetlinkError(`attribute ${type} (length ${len}) at offset ${at} runs past the message`);
    // `only`: every header is still checked, but only wanted attributes are sliced (dumps of
    // thousands of links carry ~50 attributes each, and slicing them all dominated parsing).
    if (!only || only.has(type)) attrs.set(type, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return attrs;
}

/** A request: header + fixed payload (+ nothing else: our requests carry no attributes). */
export function buildRequest(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const msg = Buffer.alloc(NLMSG_HDRLEN + align4(body.length));
  msg.writeUInt32LE(NLMSG_HDRLEN + body.length, 0);
  msg.writeUInt16LE(type, 4);
  msg.writeUInt16LE(flags, 6);
  msg.writeUInt32LE(seq >>> 0, 8);
  msg.writeUInt32LE(0, 12);
  body.copy(msg, NLMSG_HDRLEN);
  return msg;
}
