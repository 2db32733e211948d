import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorCode,
  MalformedNetlinkError,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseAttributes,
  splitMessages,
} from '../../src/net/netlink-message.js';
import {
  buildLinkDumpRequest,
  linkEvents,
  NO_FAULTS,
  parseCount64,
  parseLinkMessage,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
} from '../../src/net/link-message.js';
import { buildLinkStatsDumpRequest, parseLinkStatsMessage, RTM_GETSTATS, RTM_NEWSTATS } from '../../src/net/link-stats-message.js';
import {
  buildFilterDumpRequest,
  CLSACT_INGRESS_PARENT,
  parseFilterEntries,
  RTM_GETTFILTER,
  RTM_NEWTFILTER,
} from '../../src/net/tc-filter-dump.js';

// Hand-built messages in the kernel's layout (little-endian host order).
function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_STATS64 = 23;
const name = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
function stats64(rxPackets: bigint, txPackets: bigint, rxBytes: bigint, txBytes: bigint, length = 25 * 8): Buffer {
  const b = Buffer.alloc(length); // struct rtnl_link_stats64 of Linux 6.x: 25 u64s
  b.writeBigUInt64LE(rxPackets, 0);
  b.writeBigUInt64LE(txPackets, 8);
  b.writeBigUInt64LE(rxBytes, 16);
  b.writeBigUInt64LE(txBytes, 24);
  return b;
}
function ifinfo(ifindex: number, flags: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt32LE(flags, 8);
  return b;
}
function message(type: number, body: Buffer, seq = 7): Buffer {
  const len = 16 + body.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(0, 6);
  out.writeUInt32LE(seq, 8);
  body.copy(out, 16);
  return out;
}
const linkMsg = (type: number, ifindex: number, flags: number, ...attrs: Buffer[]): Buffer =>
  message(type, Buffer.concat([ifinfo(ifindex, flags), ...attrs]));

test('RTM_NEWLINK: ifindex, name, IFF_UP and IFLA_STATS64', () => {
  const dgram = linkMsg(
    RTM_NEWLINK,
    42,
    0x1 | 0x40,
    attr(IFLA_IFNAME, name('veth0')),
    attr(IFLA_MTU, Buffer.alloc(4)),
    attr(IFLA_STATS64, stats64(11n, 22n, 3333n, 4444n)),
  );
  const [msg, ...rest] = splitMessages(dgram);
  assert.equal(rest.length, 0);
  assert.ok(msg);
  const link = parseLinkMessage(msg);
  assert.deepEqual(link, {
    kind: 'new',
    family: 0,
    ifindex: 42,
    name: 'veth0',
    up: true,
    stats: {
      rxPackets: 11n,
      txPackets: 22n,
      rxBytes: 3333n,
      txBytes: 4444n,
      faults: {
        rxDropped: 0,
        txDropped: 0,
        rxErrors: 0,
        txErrors: 0,
        rxMissedErrors: 0,
        rxFifoErrors: 0,
        rxOverErrors: 0,
        rxNohandler: 0,
      },
    },
  });
  // All zero: the one shared (frozen) object, not one per interface.
  assert.equal(link.stats?.faults, NO_FAULTS);
  assert.ok(Object.isFrozen(NO_FAULTS));
});

test('Count64: a number below 2^53, a bigint from there, exact either way', () => {
  assert.equal(parseCount64('0'), 0);
  assert.equal(parseCount64('9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.equal(parseCount64('9007199254740992'), 2n ** 53n);
  assert.equal(parseCount64('18446744073709551615'), 2n ** 64n - 1n);
});

test('RTM_NEWLINK of a down interface, without stats', () => {
  const [msg] = splitMessages(linkMsg(RTM_NEWLINK, 3, 0, attr(IFLA_IFNAME, name('eth1'))));
  const link = parseLinkMessage(msg!);
  assert.equal(link.up, false);
  assert.equal(link.stats, undefined);
});

test('RTM_DELLINK is a deletion', () => {
  const [msg] = splitMessages(linkMsg(RTM_DELLINK, 9, 0x1, attr(IFLA_IFNAME, name('gone0'))));
  assert.equal(parseLinkMessage(msg!).kind, 'del');
});

test('a rename is an RTM_NEWLINK with the same ifindex and the new name', () => {
  const dgram = Buffer.concat([
    linkMsg(RTM_NEWLINK, 5, 1, attr(IFLA_IFNAME, name('old'))),
    linkMsg(RTM_NEWLINK, 5, 1, attr(IFLA_IFNAME, name('new-name'))),
  ]);
  const links = splitMessages(dgram).map(parseLinkMessage);
  assert.deepEqual(
    links.map((l) => [l.ifindex, l.name]),
    [
      [5, 'old'],
      [5, 'new-name'],
    ],
  );
});

test('link events: a bridge port leaving its bridge (AF_BRIDGE RTM_DELLINK) is not an interface deletion', () => {
  const bridgeNews = linkMsg(RTM_DELLINK, 6, 1, attr(IFLA_IFNAME, name('veth6')));
  bridgeNews.writeUInt8(7, 16); // ifi_family = AF_BRIDGE
  const dgram = Buffer.concat([
    bridgeNews,
    linkMsg(RTM_NEWLINK, 8, 1, attr(IFLA_IFNAME, name('veth8'))),
    linkMsg(RTM_DELLINK, 9, 0, attr(IFLA_IFNAME, name('veth9'))),
  ]);
  assert.deepEqual(
    linkEvents(dgram).map((l) => [l.kind, l.ifindex]),
    [
      ['new', 8],
      ['del', 9],
    ],
  );
});

test('several messages and NLMSG_DONE in one datagram', () => {
  const done = message(NLMSG_DONE, Buffer.alloc(4));
  const msgs = splitMessages(
    Buffer.concat([
      linkMsg(RTM_NEWLINK, 1, 1, attr(IFLA_IFNAME, name('lo'))),
      linkMsg(RTM_NEWLINK, 2, 1, attr(IFLA_IFNAME, name('eth0'))),
      done,
    ]),
  );
  assert.deepEqual(
    msgs.map((m) => m.type),
    [RTM_NEWLINK, RTM_NEWLINK, NLMSG_DONE],
  );
  assert.deepEqual(
    msgs.map((m) => m.seq),
    [7, 7, 7],
  );
});

test('NLMSG_ERROR carries a negative errno', () => {
  const body = Buffer.alloc(20);
  body.writeInt32LE(-19, 0);
  const [msg] = splitMessages(message(NLMSG_ERROR, body));
  assert.equal(errorCode(msg!), -19);
});

test('truncated and malformed input is rejected, not misread', () => {
  const good = linkMsg(RTM_NEWLINK, 4, 1, attr(IFLA_IFNAME, name('eth0')));
  // header claims more bytes than the datagram has
  assert.throws(() => splitMessages(good.subarray(0, good.length - 4)), MalformedNetlinkError);
  // header length shorter than a header
  const tiny = Buffer.from(good);
  tiny.writeUInt32LE(8, 0);
  assert.throws(() => splitMessages(tiny), MalformedNetlinkError);
  // ifinfomsg cut short
  assert.throws(() => parseLinkMessage({ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(8) }), MalformedNetlinkError);
  // attribute running past the end
  const badAttr = Buffer.concat([ifinfo(4, 1), Buffer.from([40, 0, IFLA_IFNAME, 0, 0x65, 0x74, 0x68, 0x30])]);
  assert.throws(() => parseLinkMessage({ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: badAttr }), MalformedNetlinkError);
  // attribute length below its own header
  assert.throws(() => parseAttributes(Buffer.from([2, 0, 3, 0]), 0), MalformedNetlinkError);
  // no name
  assert.throws(() => parseLinkMessage({ type: RTM_NEWLINK, flags: 0, seq: 0, pid: 0, payload: ifinfo(4, 1) }), MalformedNetlinkError);
  // not a link message
  assert.throws(() => parseLinkMessage({ type: RTM_GETLINK, flags: 0, seq: 0, pid: 0, payload: ifinfo(4, 1) }), MalformedNetlinkError);
});

test('IFLA_STATS64: the drop and error counters at their offsets in struct rtnl_link_stats64', () => {
  // Every u64 of the struct holds its own index + 1000, so a field read at the wrong offset shows.
  const b = stats64(1n, 2n, 3n, 4n);
  for (let i = 4; i < 25; i++) b.writeBigUInt64LE(BigInt(1000 + i), i * 8);
  b.writeBigUInt64LE(2n ** 64n - 1n, 23 * 8); // rx_nohandler at the top of the range
  // Exact either way: numbers below 2^53, bigints from there.
  b.writeBigUInt64LE(2n ** 53n - 1n, 6 * 8);
  b.writeBigUInt64LE(2n ** 53n, 7 * 8);
  b.writeBigUInt64LE(2n ** 32n + 5n, 15 * 8);
  const [msg] = splitMessages(linkMsg(RTM_NEWLINK, 4, 1, attr(IFLA_IFNAME, name('eth0')), attr(IFLA_STATS64, b)));
  assert.deepEqual(parseLinkMessage(msg!).stats?.faults, {
    rxErrors: 1004, // rx_errors: 5th field
    txErrors: 1005,
    rxDropped: Number.MAX_SAFE_INTEGER,
    txDropped: 2n ** 53n,
    rxOverErrors: 1011, // after multicast, collisions, rx_length_errors
    rxFifoErrors: 1014, // after rx_crc_errors, rx_frame_errors
    rxMissedErrors: 2 ** 32 + 5,
    rxNohandler: 2n ** 64n - 1n, // after the tx error kinds and the compressed counts
  });
  // A kernel before 4.6 (no rx_nohandler): traffic counters only, no faults made up as zero.
  const [old] = splitMessages(
    linkMsg(RTM_NEWLINK, 4, 1, attr(IFLA_IFNAME, name('eth0')), attr(IFLA_STATS64, stats64(1n, 2n, 3n, 4n, 23 * 8))),
  );
  assert.deepEqual(parseLinkMessage(old!).stats, { rxPackets: 1n, txPackets: 2n, rxBytes: 3n, txBytes: 4n });
});

test('RTM_GETSTATS asks for struct rtnl_link_stats64 alone; RTM_NEWSTATS gives the ifindex and its loss counters', () => {
  const req = buildLinkStatsDumpRequest(9);
  assert.equal(req.readUInt32LE(0), 16 + 12); // header + struct if_stats_msg
  assert.equal(req.readUInt16LE(4), RTM_GETSTATS);
  assert.equal(req.readUInt16LE(6), 0x1 | 0x300); // NLM_F_REQUEST | NLM_F_DUMP
  assert.equal(req.readUInt32LE(8), 9);
  assert.equal(req.readInt32LE(16 + 4), 0); // every interface
  assert.equal(req.readUInt32LE(16 + 8), 1); // IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64)

  // Every u64 of the struct holds its own index + 1000, so a field read at the wrong offset shows.
  const b = stats64(1n, 2n, 3n, 4n);
  for (let i = 4; i < 25; i++) b.writeBigUInt64LE(BigInt(1000 + i), i * 8);
  const ifStatsMsg = (ifindex: number): Buffer => {
    const h = Buffer.alloc(12);
    h.writeInt32LE(ifindex, 4);
    h.writeUInt32LE(1, 8);
    return h;
  };
  const IFLA_STATS_LINK_64 = 1;
  const IFLA_STATS_LINK_XSTATS = 2;
  const [msg] = splitMessages(
    message(RTM_NEWSTATS, Buffer.concat([ifStatsMsg(2113), attr(IFLA_STATS_LINK_XSTATS, Buffer.alloc(8)), attr(IFLA_STATS_LINK_64, b)])),
  );
  assert.deepEqual(parseLinkStatsMessage(msg!), {
    ifindex: 2113,
    faults: {
      rxErrors: 1004,
      txErrors: 1005,
      rxDropped: 1006,
      txDropped: 1007,
      rxOverErrors: 1011,
      rxFifoErrors: 1014,
      rxMissedErrors: 1015,
      rxNohandler: 1023,
    },
  });
  // All zero: the shared frozen object. Too short (before 4.6), absent, or another type: nothing.
  const [zero] = splitMessages(message(RTM_NEWSTATS, Buffer.concat([ifStatsMsg(3), attr(IFLA_STATS_LINK_64, stats64(5n, 6n, 7n, 8n))])));
  assert.equal(parseLinkStatsMessage(zero!)?.faults, NO_FAULTS);
  const [short] = splitMessages(
    message(RTM_NEWSTATS, Buffer.concat([ifStatsMsg(3), attr(IFLA_STATS_LINK_64, stats64(5n, 6n, 7n, 8n, 23 * 8))])),
  );
  assert.equal(parseLinkStatsMessage(short!), undefined);
  const [none] = splitMessages(message(RTM_NEWSTATS, ifStatsMsg(3)));
  assert.equal(parseLinkStatsMessage(none!), undefined);
  const [other] = splitMessages(message(RTM_NEWLINK, Buffer.concat([ifStatsMsg(3), attr(IFLA_STATS_LINK_64, b)])));
  assert.equal(parseLinkStatsMessage(other!), undefined);
});

test('a short IFLA_STATS64 is ignored rather than misread', () => {
  const [msg] = splitMessages(linkMsg(RTM_NEWLINK, 4, 1, attr(IFLA_IFNAME, name('eth0')), attr(IFLA_STATS64, Buffer.alloc(16))));
  assert.equal(parseLinkMessage(msg!).stats, undefined);
});

test('the dump request is RTM_GETLINK with NLM_F_REQUEST|NLM_F_DUMP and an ifinfomsg', () => {
  const req = buildLinkDumpRequest(99);
  assert.equal(req.length, 32);
  assert.equal(req.readUInt32LE(0), 32);
  assert.equal(req.readUInt16LE(4), RTM_GETLINK);
  assert.equal(req.readUInt16LE(6), 0x1 | 0x300);
  assert.equal(req.readUInt32LE(8), 99);
});

test('TC filter dump: request layout, and classifier instances (handle 0) are not filters', () => {
  const req = buildFilterDumpRequest(5, 12, CLSACT_INGRESS_PARENT);
  assert.equal(req.readUInt16LE(4), RTM_GETTFILTER);
  assert.equal(req.readInt32LE(16 + 4), 12);
  assert.equal(req.readUInt32LE(16 + 12), CLSACT_INGRESS_PARENT);
  const tcmsg = (handle: number, prio: number): Buffer => {
    const b = Buffer.alloc(20);
    b.writeUInt32LE(handle, 8);
    b.writeUInt32LE(((prio << 16) | 0x0300) >>> 0, 16); // ETH_P_ALL (0x0003) in network order
    return b;
  };
  const msgs = splitMessages(
    Buffer.concat([
      message(RTM_NEWTFILTER, tcmsg(0, 1)),
      message(RTM_NEWTFILTER, tcmsg(0x4e50, 1)),
      message(RTM_NEWTFILTER, tcmsg(1, 49152)),
    ]),
  );
  assert.deepEqual(parseFilterEntries(msgs), [
    { handle: 0x4e50, priority: 1, protocol: 3 },
    { handle: 1, priority: 49152, protocol: 3 },
  ]);
});
