/**
 * The kernel's per-interface counters read from sysfs
 * (`/sys/class/net/<name>/{ifindex,flags,statistics/*}`). The netdev source
 * uses this when netlink is unavailable: the netlink socket calls go through
 * the same FFI library as libbpf, so a host without libbpf.so.1 — one of the
 * reasons to fall back at all — has no netlink dump either. Slower than one
 * netlink dump (four small file reads per interface) but needs nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkInfo } from '../net/link-dump.js';

const IFF_UP = 0x1;

/** Every interface under `root` (default: this network namespace's sysfs), in ifindex order. */
export function readSysfsLinks(root = '/sys/class/net'): LinkInfo[] {
  const links: LinkInfo[] = [];
  for (const name of readdirSync(root)) {
    const link = readLink(join(root, name), name);
    if (link) links.push(link);
  }
  return links.sort((a, b) => a.ifindex - b.ifindex);
}

function readLink(dir: string, name: string): LinkInfo | undefined {
  const read = (file: string): string => readFileSync(join(dir, file), 'latin1').trim();
  try {
    return {
      ifindex: Number(read('ifindex')),
      name,
      up: (parseInt(read('flags'), 16) & IFF_UP) !== 0,
      stats: {
        rxPackets: BigInt(read('statistics/rx_packets')),
        rxBytes: BigInt(read('statistics/rx_bytes')),
        txPackets: BigInt(read('statistics/tx_packets')),
        txBytes: BigInt(read('statistics/tx_bytes')),
      },
    };
  } catch (error) {
    // Gone between the directory listing and the read, or not an interface (bonding_masters).
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV') return undefined;
    throw error;
  }
}
