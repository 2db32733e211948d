/**
 * Drops and errors provoked for real on interfaces of a test's own
 * namespaces, and the kernel's own counts of them read from sysfs (a path
 * independent of the netlink dump netprobe reads). python3 sends what Node
 * cannot: raw Ethernet frames (AF_PACKET) and UDP with the ECN bits set.
 */
import type { Netns } from './netns.js';

/** The kernel's loss counters of one interface, as /sys/class/net/<if>/statistics has them. */
export interface SysfsFaults {
  rx_dropped: number;
  tx_dropped: number;
  rx_errors: number;
  tx_errors: number;
  rx_missed_errors: number;
  rx_fifo_errors: number;
  rx_over_errors: number;
  rx_nohandler: number;
}

const FILES = [
  'rx_dropped',
  'tx_dropped',
  'rx_errors',
  'tx_errors',
  'rx_missed_errors',
  'rx_fifo_errors',
  'rx_over_errors',
  'rx_nohandler',
] as const satisfies ReadonlyArray<keyof SysfsFaults>;

/** One read of all eight files (`ip netns exec` mounts the namespace's own sysfs). */
export async function readSysfsFaults(ns: Netns, ifname: string): Promise<SysfsFaults> {
  const dir = `/sys/class/net/${ifname}/statistics`;
  const out = await ns.exec(
    'cat',
    FILES.map((f) => `${dir}/${f}`),
  );
  const values = out.trim().split('\n').map(Number);
  if (values.length !== FILES.length || values.some((v) => !Number.isInteger(v)))
    throw new Error(`${ifname}: unreadable statistics: ${out}`);
  return Object.fromEntries(FILES.map((f, i) => [f, values[i]!])) as unknown as SysfsFaults;
}

/** The kernel's own count of UDP datagrams to no socket in the network namespace /run/netns/`netns` (nstat). */
export async function udpNoPorts(netns: string): Promise<number> {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync('nsenter', [`--net=/run/netns/${netns}`, 'nstat', '-asz', 'UdpNoPorts'], { encoding: 'utf8' });
  const m = /^UdpNoPorts\s+(\d+)/m.exec(out);
  if (!m) throw new Error(`nstat printed no UdpNoPorts:\n${out}`);
  return Number(m[1]);
}

const RAW_FRAMES = `
import socket, sys
ifname, count, ethertype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 16)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: sends only, receives nothing
s.bind((ifname, 0))
frame = b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x01' + ethertype.to_bytes(2, 'big') + b'x' * 46
for _ in range(count): s.send(frame)
`;

/**
 * Sends `count` broadcast Ethernet frames of `ethertype` (hex) out of
 * `ifname`, from a packet socket: nothing answers them and no route is
 * involved. An ethertype no protocol handles (0x88b5, IEEE local
 * experimental) is dropped by the receiving interface (rx_dropped); frames
 * sent to a veth whose peer is down are dropped by the veth (tx_dropped).
 */
export async function sendRawFrames(ns: Netns, ifname: string, count: number, ethertype = '88b5'): Promise<void> {
  await ns.exec('python3', ['-c', RAW_FRAMES, ifname, String(count), ethertype], 30_000);
}

const VXLAN_CE = `
import socket, struct, sys
dst, port, vni, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 3)  # outer ECN: CE
vxlan = struct.pack('!II', 0x08000000, vni << 8)
eth = b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x02' + b'\\x08\\x00'
inner = bytes([0x45, 0x00]) + struct.pack('!H', 48) + bytes(4) + bytes([64, 17, 0, 0]) + bytes([10, 0, 0, 2, 10, 0, 0, 1]) + b'y' * 28
for _ in range(count): s.sendto(vxlan + eth + inner, (dst, port))
`;

/**
 * Sends `count` VXLAN packets to `dst`:`port` whose outer IP header says
 * congestion experienced (CE) while the inner packet is not ECN-capable: the
 * receiving VXLAN device cannot pass the mark on and drops each one as a
 * receive error (rx_errors, rx_frame_errors; drivers/net/vxlan, ECN decapsulation).
 */
export async function sendVxlanCongestionMarked(ns: Netns, dst: string, port: number, vni: number, count: number): Promise<void> {
  await ns.exec('python3', ['-c', VXLAN_CE, dst, String(port), String(vni), String(count)], 30_000);
}
