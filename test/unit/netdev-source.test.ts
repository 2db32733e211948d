import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetdevSource } from '../../src/collector/netdev-source.js';
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
  const source = new NetdevSource({ dumpLinks: () => { throw new Error('netlink: ENOBUFS'); } });
  assert.throws(() => source.readCounters(), /ENOBUFS/);
});
