/**
 * Interface roles, pure: route messages (RTM_NEWROUTE: family, prefix length,
 * table, type, output device, multipath hops), the link attributes roles need
 * (IFLA_INFO_KIND, IFLA_MASTER, IFF_LOOPBACK), the role rules, and the info
 * family in the exposition.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitMessages } from '../../src/net/netlink-message.js';
import { parseLinkMessage, RTM_NEWLINK, type LinkInfo } from '../../src/net/link-message.js';
import {
  AF_INET,
  AF_INET6,
  buildRouteDumpRequest,
  isDefaultRoute,
  parseRouteMessage,
  routeEvents,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  type RouteInfo,
} from '../../src/net/route-message.js';
import { classifyInterfaces, currentRole, uplinkIndexes } from '../../src/net/interface-role.js';
import { compileInterfaceFilter } from '../../src/net/interface-filter.js';
import { expositionInput, renderToStrings, sample } from '../support/exposition-input.js';

// Hand-built messages in the kernel's layout (little-endian host order).
function attr(type: number, data: Buffer): Buffer {
  const len = 4 + data.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v, 0);
  return b;
};
const str = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
function message(type: number, body: Buffer, seq = 9): Buffer {
  const len = 16 + body.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt32LE(seq, 8);
  body.copy(out, 16);
  return out;
}
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
function rtmsg(o: { family: number; dstLen: number; table: number; type: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(o.family, 0);
  b.writeUInt8(o.dstLen, 1);
  b.writeUInt8(o.table > 255 ? 252 : o.table, 4); // RT_TABLE_COMPAT when the table does not fit
  b.writeUInt8(3, 5); // protocol: boot
  b.writeUInt8(0, 6); // scope: universe
  b.writeUInt8(o.type, 7);
  return b;
}
function nexthop(ifindex: number, ...attrs: Buffer[]): Buffer {
  const body = Buffer.concat(attrs);
  const b = Buffer.alloc(8);
  b.writeUInt16LE(8 + body.length, 0);
  b.writeInt32LE(ifindex, 4);
  return Buffer.concat([b, body]);
}
const route = (type: number, header: Parameters<typeof rtmsg>[0], ...attrs: Buffer[]): Buffer =>
  message(type, Buffer.concat([rtmsg(header), ...attrs]));

test('RTM_NEWROUTE: a default route with its table, type and output device; gateway and metric ignored', () => {
  const [msg] = splitMessages(
    route(
      RTM_NEWROUTE,
      { family: AF_INET, dstLen: 0, table: 254, type: 1 },
      attr(RTA_TABLE, u32(254)),
      attr(RTA_PRIORITY, u32(100)),
      attr(RTA_GATEWAY, Buffer.from([192, 0, 2, 1])),
      attr(RTA_OIF, u32(4)),
    ),
  );
  const r = parseRouteMessage(msg!);
  assert.deepEqual(r, { family: AF_INET, dstLen: 0, table: 254, type: 1, oifs: [4] });
  assert.equal(isDefaultRoute(r), true);
});

test('RTA_TABLE wins over rtm_table (tables above 255); IPv6; multipath hops are every output device', () => {
  const [msg] = splitMessages(
    route(
      RTM_NEWROUTE,
      { family: AF_INET6, dstLen: 0, table: 1000, type: 1 },
      attr(RTA_TABLE, u32(1000)),
      attr(RTA_MULTIPATH, Buffer.concat([nexthop(7, attr(RTA_GATEWAY, Buffer.alloc(16))), nexthop(8), nexthop(7)])),
    ),
  );
  assert.deepEqual(parseRouteMessage(msg!), { family: AF_INET6, dstLen: 0, table: 1000, type: 1, oifs: [7, 8] });
});

test('not default routes: a prefix, the local table, unreachable, other families', () => {
  const base: RouteInfo = { family: AF_INET, dstLen: 0, table: 254, type: 1, oifs: [2] };
  assert.equal(isDefaultRoute(base), true);
  assert.equal(isDefaultRoute({ ...base, dstLen: 24 }), false);
  assert.equal(isDefaultRoute({ ...base, table: 255 }), false, 'local table');
  assert.equal(isDefaultRoute({ ...base, type: 7 }), false, 'RTN_UNREACHABLE');
  assert.equal(isDefaultRoute({ ...base, family: 128 }), false, 'RTNL_FAMILY_IPMR');
  assert.equal(isDefaultRoute({ ...base, family: AF_INET6, table: 100 }), true, 'another table');
});

test('route events: RTM_DELROUTE too; link messages in the same datagram are skipped; truncation throws', () => {
  const dgram = Buffer.concat([
    route(RTM_DELROUTE, { family: AF_INET, dstLen: 0, table: 254, type: 1 }, attr(RTA_OIF, u32(3))),
    message(RTM_NEWLINK, Buffer.concat([Buffer.alloc(16), attr(3, str('x'))])),
    route(
      RTM_NEWROUTE,
      { family: AF_INET, dstLen: 32, table: 254, type: 1 },
      attr(RTA_DST, Buffer.from([10, 0, 0, 1])),
      attr(RTA_OIF, u32(9)),
    ),
  ]);
  assert.deepEqual(
    routeEvents(dgram).map((r) => [r.dstLen, r.oifs]),
    [
      [0, [3]],
      [32, [9]],
    ],
  );
  assert.throws(
    () => parseRouteMessage({ type: RTM_NEWROUTE, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(8) }),
    /shorter than struct rtmsg/,
  );
  const badHop = Buffer.alloc(8);
  badHop.writeUInt16LE(40, 0);
  assert.throws(
    () => routeEvents(route(RTM_NEWROUTE, { family: AF_INET, dstLen: 0, table: 254, type: 1 }, attr(RTA_MULTIPATH, badHop))),
    /nexthop length 40/,
  );
});

test('the dump request: RTM_GETROUTE, NLM_F_REQUEST|NLM_F_DUMP, the family in struct rtmsg', () => {
  const req = buildRouteDumpRequest(AF_INET6, 77);
  assert.equal(req.readUInt32LE(0), 16 + 12);
  assert.equal(req.readUInt16LE(4), RTM_GETROUTE);
  assert.equal(req.readUInt16LE(6), 0x301);
  assert.equal(req.readUInt32LE(8), 77);
  assert.equal(req.readUInt8(16), AF_INET6);
});

test('RTM_NEWLINK: IFLA_INFO_KIND from IFLA_LINKINFO, IFLA_MASTER, IFF_LOOPBACK', () => {
  const ifinfo = (ifindex: number, flags: number): Buffer => {
    const b = Buffer.alloc(16);
    b.writeInt32LE(ifindex, 4);
    b.writeUInt32LE(flags, 8);
    return b;
  };
  const IFLA_IFNAME = 3;
  const IFLA_MASTER = 10;
  const IFLA_LINKINFO = 18;
  const IFLA_INFO_KIND = 1;
  const IFLA_INFO_DATA = 2;
  const port = splitMessages(
    message(
      RTM_NEWLINK,
      Buffer.concat([
        ifinfo(12, 0x1),
        attr(IFLA_IFNAME, str('veth1')),
        attr(IFLA_MASTER, u32(5)),
        attr(IFLA_LINKINFO, Buffer.concat([attr(IFLA_INFO_KIND, str('veth')), attr(IFLA_INFO_DATA, Buffer.alloc(8))])),
      ]),
    ),
  )[0]!;
  const link = parseLinkMessage(port);
  assert.equal(link.linkKind, 'veth');
  assert.equal(link.master, 5);
  assert.equal(link.loopback, undefined);
  const lo = parseLinkMessage(splitMessages(message(RTM_NEWLINK, Buffer.concat([ifinfo(1, 0x1 | 0x8), attr(IFLA_IFNAME, str('lo'))])))[0]!);
  assert.deepEqual([lo.loopback, lo.linkKind, lo.master], [true, undefined, undefined]);
});

// A Kubernetes node in links: eth0 (NIC, default route), bond0 over eth1+eth2, cni0 bridge with a
// pod veth, a vxlan, lo, a veth with both ends here (cilium_host), a macvlan, a netkit in a pod.
const LINKS: LinkInfo[] = [
  { ifindex: 1, name: 'lo', up: true, loopback: true },
  { ifindex: 2, name: 'eth0', up: true },
  { ifindex: 3, name: 'eth1', up: true, master: 5 },
  { ifindex: 4, name: 'eth2', up: true, master: 5 },
  { ifindex: 5, name: 'bond0', up: true, linkKind: 'bond' },
  { ifindex: 6, name: 'cni0', up: true, linkKind: 'bridge' },
  { ifindex: 7, name: 'veth1a2b', up: true, linkKind: 'veth', linkNetnsid: 0, master: 6 },
  { ifindex: 8, name: 'flannel.1', up: true, linkKind: 'vxlan' },
  { ifindex: 9, name: 'cilium_host', up: true, linkKind: 'veth' },
  { ifindex: 10, name: 'mv0', up: true, linkKind: 'macvlan' },
  { ifindex: 11, name: 'nk0', up: true, linkKind: 'netkit', linkNetnsid: 3 },
  { ifindex: 12, name: 'wg0', up: true, linkKind: 'wireguard' },
];
const main = (oif: number, family = AF_INET): RouteInfo => ({ family, dstLen: 0, table: 254, type: 1, oifs: [oif] });
const roleNames = (roles: ReturnType<typeof classifyInterfaces>): Record<string, string> =>
  Object.fromEntries([...roles.values()].map((r) => [r.name, `${r.kind}/${r.role}`]));

test('roles: the default route device is the uplink; bridge, pod (veth and netkit with a peer elsewhere), tunnel, loopback, other', () => {
  assert.deepEqual(roleNames(classifyInterfaces(LINKS, [main(2), main(2, AF_INET6)])), {
    lo: 'device/loopback',
    eth0: 'device/uplink',
    eth1: 'device/other',
    eth2: 'device/other',
    bond0: 'bond/other',
    cni0: 'bridge/bridge',
    veth1a2b: 'veth/pod',
    'flannel.1': 'vxlan/tunnel',
    cilium_host: 'veth/other',
    mv0: 'macvlan/other',
    nk0: 'netkit/pod',
    wg0: 'wireguard/tunnel',
  });
});

test('uplinks: the route output device is the top of its stack (a bond, not its ports); IPv4 and IPv6 both count', () => {
  const roles = classifyInterfaces(LINKS, [main(5), main(2, AF_INET6)]);
  assert.equal(roles.get(5)!.role, 'uplink', 'bond0 carries the IPv4 default route');
  assert.equal(roles.get(2)!.role, 'uplink', 'eth0 carries the IPv6 one');
  assert.equal(roles.get(3)!.role, 'other', "a bond's port is not an uplink");
  assert.deepEqual([...uplinkIndexes(LINKS, [{ ...main(2), oifs: [2, 5] }])], [2, 5], 'every multipath hop');
  assert.deepEqual([...uplinkIndexes(LINKS, [])], [], 'no default route: no uplink');
  assert.deepEqual([...uplinkIndexes(LINKS, [main(99)])], [], 'a route via an unknown ifindex');
});

test('uplinks from other tables: a NIC counts (a secondary ENI), a veth, tunnel or lo does not (a proxy table)', () => {
  const table = (oif: number, t: number): RouteInfo => ({ family: AF_INET, dstLen: 0, table: t, type: 1, oifs: [oif] });
  assert.deepEqual([...uplinkIndexes(LINKS, [main(2), table(3, 2), table(9, 2005), table(12, 51820), table(1, 100)])], [2, 3]);
  // A kind node's uplink is a veth with its peer elsewhere: in the main table it is the uplink.
  assert.equal(classifyInterfaces(LINKS, [main(7)]).get(7)!.role, 'uplink');
});

test('--collector.uplinks names the uplinks and replaces the default routes', () => {
  const roles = classifyInterfaces(LINKS, [main(2)], { uplinks: compileInterfaceFilter(['veth*', 'mv0']) });
  assert.deepEqual(
    [...roles.values()].filter((r) => r.role === 'uplink').map((r) => r.name),
    ['veth1a2b', 'mv0'],
  );
  assert.equal(roles.get(2)!.role, 'other', 'the default route device is not an uplink when the flag names others');
});

test('currentRole: only for the same ifindex and name, never for a departed interface', () => {
  const roles = classifyInterfaces(LINKS, [main(2)]);
  assert.equal(currentRole(roles, { ifindex: 2, name: 'eth0' })?.role, 'uplink');
  assert.equal(currentRole(roles, { ifindex: 2, name: 'eth9' }), undefined);
  assert.equal(currentRole(roles, { ifindex: 2, name: 'eth0', departed: true }), undefined);
  assert.equal(currentRole(undefined, { ifindex: 2, name: 'eth0' }), undefined);
});

test('netprobe_interface_info: one series per exported interface with a known role, exactly these labels', () => {
  const roles = classifyInterfaces(LINKS, [main(2)]);
  const { text } = renderToStrings(
    expositionInput({ samples: [sample(1, 'lo'), sample(2, 'eth0'), sample(7, 'veth1a2b'), sample(40, 'gone0')], roles }),
  );
  const lines = text.split('\n').filter((l) => l.startsWith('netprobe_interface_info'));
  assert.deepEqual(lines, [
    'netprobe_interface_info{ifindex="1",interface="lo",kind="device",role="loopback"} 1',
    'netprobe_interface_info{ifindex="2",interface="eth0",kind="device",role="uplink"} 1',
    'netprobe_interface_info{ifindex="7",interface="veth1a2b",kind="veth",role="pod"} 1',
  ]);
  assert.ok(text.includes('# TYPE netprobe_interface_info gauge\n'));
  const without = renderToStrings(expositionInput()).text;
  assert.ok(without.includes('# TYPE netprobe_interface_info gauge\n') && !without.includes('netprobe_interface_info{'));
});
