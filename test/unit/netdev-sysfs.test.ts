import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSysfsLinks } from '../../src/source/sysfs-links.js';

/** A fake /sys/class/net with the files the reader uses. */
function fakeSysfs(
  t: { after: (fn: () => void) => void },
  links: Array<{
    name: string;
    ifindex: number;
    flags: string;
    rx: [string, string];
    tx: [string, string];
    faults?: Record<string, string>;
  }>,
): string {
  const root = mkdtempSync(join(tmpdir(), 'np-sysfs-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const l of links) {
    const dir = join(root, l.name);
    mkdirSync(join(dir, 'statistics'), { recursive: true });
    writeFileSync(join(dir, 'ifindex'), `${l.ifindex}\n`);
    writeFileSync(join(dir, 'flags'), `${l.flags}\n`);
    writeFileSync(join(dir, 'statistics', 'rx_packets'), `${l.rx[0]}\n`);
    writeFileSync(join(dir, 'statistics', 'rx_bytes'), `${l.rx[1]}\n`);
    writeFileSync(join(dir, 'statistics', 'tx_packets'), `${l.tx[0]}\n`);
    writeFileSync(join(dir, 'statistics', 'tx_bytes'), `${l.tx[1]}\n`);
    for (const [file, value] of Object.entries(l.faults ?? {})) writeFileSync(join(dir, 'statistics', file), `${value}\n`);
  }
  return root;
}

test('sysfs reader: counters as exact bigints, IFF_UP from flags, ifindex order; non-interfaces skipped', (t) => {
  const root = fakeSysfs(t, [
    { name: 'veth9', ifindex: 12, flags: '0x1002', rx: ['1', '2'], tx: ['3', '4'] },
    { name: 'lo', ifindex: 1, flags: '0x9', rx: ['18446744073709551615', '100'], tx: ['5', '6'] },
    { name: 'we"ird', ifindex: 7, flags: '0x1003', rx: ['0', '0'], tx: ['0', '0'] },
  ]);
  writeFileSync(join(root, 'bonding_masters'), 'bond0\n'); // a file, not an interface
  mkdirSync(join(root, 'half-gone')); // vanished while being read: no ifindex file
  assert.deepEqual(readSysfsLinks(root), [
    { ifindex: 1, name: 'lo', up: true, stats: { rxPackets: 18446744073709551615n, rxBytes: 100n, txPackets: 5n, txBytes: 6n } },
    { ifindex: 7, name: 'we"ird', up: true, stats: { rxPackets: 0n, rxBytes: 0n, txPackets: 0n, txBytes: 0n } },
    { ifindex: 12, name: 'veth9', up: false, stats: { rxPackets: 1n, rxBytes: 2n, txPackets: 3n, txBytes: 4n } },
  ]);
});

/** The eight loss-counter files, each with its own value so a swapped field shows. */
const FAULT_FILES = {
  rx_dropped: '1',
  tx_dropped: '2',
  rx_errors: '3',
  tx_errors: '4',
  rx_missed_errors: '5',
  rx_fifo_errors: '6',
  rx_over_errors: '7',
  rx_nohandler: '18446744073709551615',
};

test('sysfs reader: drop and error counters from the statistics files; absent (not zero) on a kernel without them', (t) => {
  const root = fakeSysfs(t, [
    { name: 'eth0', ifindex: 2, flags: '0x1003', rx: ['10', '1000'], tx: ['20', '2000'], faults: FAULT_FILES },
    { name: 'old0', ifindex: 3, flags: '0x1003', rx: ['1', '2'], tx: ['3', '4'] },
  ]);
  const [eth0, old0] = readSysfsLinks(root);
  assert.deepEqual(eth0?.stats?.faults, {
    rxDropped: 1,
    txDropped: 2,
    rxErrors: 3,
    txErrors: 4,
    rxMissedErrors: 5,
    rxFifoErrors: 6,
    rxOverErrors: 7,
    rxNohandler: 18446744073709551615n, // above 2^53: a bigint, exact
  });
  assert.equal(old0?.name, 'old0');
  assert.equal(old0?.stats?.faults, undefined);
});

test('sysfs reader: a malformed counter is an error, not a silent zero', (t) => {
  const root = fakeSysfs(t, [{ name: 'eth0', ifindex: 2, flags: '0x1003', rx: ['12x', '0'], tx: ['0', '0'] }]);
  assert.throws(() => readSysfsLinks(root), SyntaxError);
});

test('NetdevSource switches to sysfs for good when netlink reports libbpf.so.1 missing; other errors propagate', async (t) => {
  const { NetdevSource } = await import('../../src/source/netdev-source.js');
  const { NetprobeError } = await import('../../src/errors/index.js');
  const root = fakeSysfs(t, [{ name: 'eth0', ifindex: 2, flags: '0x1003', rx: ['10', '1000'], tx: ['20', '2000'], faults: FAULT_FILES }]);
  let netlinkCalls = 0;
  const source = new NetdevSource({
    sysfsRoot: root,
    dumpLinks: () => {
      netlinkCalls++;
      throw new NetprobeError('NP_ERR_NO_LIBBPF', 'load libbpf.so.1: not found');
    },
  });
  const rows = source.readCounters();
  assert.deepEqual(
    rows.map((r) => [r.name, r.direction, r.packets, r.bytes, r.faults?.rxDropped, r.faults?.txDropped]),
    [
      ['eth0', 'ingress', 10n, 1000n, 1, 2],
      ['eth0', 'egress', 20n, 2000n, 1, 2],
    ],
  );
  source.readCounters();
  assert.equal(netlinkCalls, 1, 'netlink not retried on every read');
  const broken = new NetdevSource({
    sysfsRoot: root,
    dumpLinks: () => {
      throw new NetprobeError('NP_ERR_NETLINK', 'recv: EBUSY');
    },
  });
  assert.throws(() => broken.readCounters(), /EBUSY/);
});
