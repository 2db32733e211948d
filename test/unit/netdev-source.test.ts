import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetdevSource } from '../../src/source/netdev-source.js';
import type { LinkInfo } from '../../src/net/link-dump.js';

test('NetdevSource: rx → ingress, tx → egress, segments = packets, both directions for every link', () => {
  const links: LinkInfo[] = [
    { ifindex: 1, name: 'lo', up: true, stats: { rxPackets: 10n, rxBytes: 1000n, txPackets: 11n, txBytes: 1100n } },
    { ifindex: 5, name: 'veth0', up: false },
  ];
  const source = new NetdevSource({ dumpLinks: () => links });
  assert.equal(source.kind, 'netdev');
  assert.equal(source.attachMode, undefined);
  assert.deepEqual(source.readCounters(), [
    { ifindex: 1, name: 'lo', direction: 'ingress', packets: 10n, bytes: 1000n, segments: 10n },
    { ifindex: 1, name: 'lo', direction: 'egress', packets: 11n, bytes: 1100n, segments: 11n },
    { ifindex: 5, name: 'veth0', direction: 'ingress', packets: 0n, bytes: 0n, segments: 0n },
    { ifindex: 5, name: 'veth0', direction: 'egress', packets: 0n, bytes: 0n, segments: 0n },
  ]);
  assert.equal(source.interfaceCount, 2);
});

test('NetdevSource: a netlink failure propagates to the collector', () => {
  const source = new NetdevSource({
    dumpLinks: () => {
      throw new Error('netlink: ENOBUFS');
    },
  });
  assert.throws(() => source.readCounters(), /ENOBUFS/);
});

test('NetdevSource follows link events while someone listens, and stops with the last listener or close()', async () => {
  let fire: (() => void) | undefined;
  let watching = 0;
  const source = new NetdevSource({
    dumpLinks: () => [],
    watchLinks: (onChange) => {
      watching++;
      fire = onChange;
      return () => {
        watching--;
        fire = undefined;
      };
    },
  });
  const seen: string[] = [];
  const offA = source.onInterfacesChanged(() => seen.push('a'));
  const offB = source.onInterfacesChanged(() => seen.push('b'));
  assert.equal(watching, 1, 'one watcher for all listeners');
  fire!();
  assert.deepEqual(seen, ['a', 'b']);
  offA();
  assert.equal(watching, 1);
  offB();
  assert.equal(watching, 0);
  source.onInterfacesChanged(() => undefined);
  assert.equal(watching, 1);
  await source.close();
  assert.equal(watching, 0);
});

test('NetdevSource: a watcher that cannot start (no netlink) leaves the periodic reads working', () => {
  const source = new NetdevSource({
    dumpLinks: () => [],
    watchLinks: () => {
      throw new Error('no libbpf.so.1');
    },
  });
  const off = source.onInterfacesChanged(() => undefined);
  off();
  assert.deepEqual(source.readCounters(), []);
});
