/**
 * The kernel's per-interface counters read from sysfs
 * (`/sys/class/net/<name>/{ifindex,flags,statistics/*}`). The netdev source
 * uses this when netlink is unavailable: the netlink socket calls go through
 * the same FFI library as libbpf, so a host without libbpf.so.1 — one of the
 * reasons to fall back at all — has no netlink dump either. Slower than one
 * netlink dump (twelve small file reads per interface) but needs nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinkFaults, LinkInfo, LinkStats } from '../net/link-dump.js';
import { parseCount64, sharedIfZero, type Count64 } from '../net/link-message.js';

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
    const ifindex = Number(read('ifindex'));
    const up = (parseInt(read('flags'), 16) & IFF_UP) !== 0;
    const stats: LinkStats = {
      rxPackets: BigInt(read('statistics/rx_packets')),
      rxBytes: BigInt(read('statistics/rx_bytes')),
      txPackets: BigInt(read('statistics/tx_packets')),
      txBytes: BigInt(read('statistics/tx_bytes')),
    };
    const faults = readFaults((file) => parseCount64(read(`statistics/${file}`)));
    if (faults) stats.faults = faults;
    return { ifindex, name, up, stats };
  } catch (error) {
    // Gone between the directory listing and the read, or not an interface (bonding_masters).
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV') return undefined;
    throw error;
  }
}

/** The loss counters, from the statistics files named like the struct's fields; undefined when the kernel has no such files. */
function readFaults(read: (file: string) => Count64): LinkFaults | undefined {
  try {
    return readAllFaults(read);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function readAllFaults(read: (file: string) => Count64): LinkFaults {
  return sharedIfZero({
    rxDropped: read('rx_dropped'),
    txDropped: read('tx_dropped'),
    rxErrors: read('rx_errors'),
    txErrors: read('tx_errors'),
    rxMissedErrors: read('rx_missed_errors'),
    rxFifoErrors: read('rx_fifo_errors'),
    rxOverErrors: read('rx_over_errors'),
    rxNohandler: read('rx_nohandler'),
  });
}
