/**
 * The CounterSource contract (src/source/counter-source.ts), one set of cases
 * run against both sources, EbpfManager (TC programs) and NetdevSource (the
 * kernel's interface statistics), each used only through the contract by
 * test/fixtures/counter-source-agent.ts inside a test network namespace:
 * both directions of every interface, zero until traffic, equal to the
 * kernel's statistics of a veth under traffic, notified of an interface
 * added, renamed and removed, and close() idempotent (nothing left attached).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, row, type AgentInterface, type AgentRow } from '../support/ebpf-agent-driver.js';
import { settledSnapshot } from '../support/counter-snapshot.js';
import { twoHosts, uniqueTag, vethBetween, type Netns, type VethPair } from '../support/netns.js';
import { fixturePath } from '../support/repo-paths.js';
import { attachedInterfaces } from '../support/tc-attachments.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';

const SCRIPT = fixturePath('counter-source-agent.ts');
const has = (name: string) => (ifaces: AgentInterface[]) => ifaces.some((i) => i.name === name);

/** The kernel's list of interfaces in `ns`, by ifindex. */
async function kernelInterfaces(ns: Netns): Promise<AgentInterface[]> {
  const links = JSON.parse(await ns.ip(['-j', 'link', 'show'])) as Array<{ ifindex: number; ifname: string }>;
  return links.map((l) => ({ ifindex: l.ifindex, name: l.ifname })).sort((a, b) => a.ifindex - b.ifindex);
}

function rowsOf(rows: AgentRow[], ifindex: number): AgentRow[] {
  return rows.filter((r) => r.ifindex === ifindex);
}

for (const kind of ['ebpf', 'netdev'] as const) {
  describe(`CounterSource contract: ${kind}`, { timeout: 150_000 }, () => {
    let left: Netns;
    let right: Netns;
    let cleanup: () => Promise<void> = async () => undefined;
    let agent: Agent | undefined;
    /** A veth pair made after the source opened (its `a` end is in `left`). */
    let added: VethPair;
    let renamed: string;

    before(async () => {
      const hosts = await twoHosts(`npc${kind[0]}`);
      ({ left, right, cleanup } = hosts);
      // No IPv6 chatter on the interfaces made from here on: their only packets are the test's.
      await quietIpv6(left, right);
      agent = Agent.start(left, [`--source=${kind}`], { script: SCRIPT });
    });
    after(async () => {
      await agent?.stop();
      await cleanup();
    });

    test('names its kind and attach mode', async () => {
      const ready = await agent!.ready();
      assert.equal(ready.kind, kind);
      if (kind === 'ebpf') assert.ok(ready.attachMode === 'tcx' || ready.attachMode === 'tc', String(ready.attachMode));
      else assert.equal(ready.attachMode, null);
    });

    test("both directions of every interface the kernel lists, under the kernel's names; interfaceCount agrees", async () => {
      const read = await agent!.request('read', 'counters');
      const rows = read.rows as AgentRow[];
      const kernel = await kernelInterfaces(left);
      assert.deepEqual(read.interfaces, kernel);
      assert.equal(read.interfaceCount, kernel.length);
      for (const { ifindex, name } of kernel) {
        const mine = rowsOf(rows, ifindex);
        assert.deepEqual(mine.map((r) => r.direction).sort(), ['egress', 'ingress'], name);
        assert.ok(
          mine.every((r) => r.name === name),
          name,
        );
      }
    });

    test('an interface added: notified, both directions present, zero until traffic flows', async () => {
      const tag = uniqueTag();
      added = await vethBetween(left, right, { a: `npca${tag}`, b: `npcb${tag}` });
      await staticNeighbours(left, right, added);
      const ifaces = await agent!.untilInterfaces(has(added.a), 15_000);
      const ifindex = await left.ifindex(added.a);
      assert.equal(ifaces.find((i) => i.name === added.a)?.ifindex, ifindex);
      const snap = await settledSnapshot(agent!, left, added.a);
      assert.deepEqual(snap.kernel.rx.packets + snap.kernel.tx.packets, 0, 'the kernel saw no packet either');
      for (const r of rowsOf(snap.rows, ifindex)) assert.deepEqual([r.packets, r.bytes, r.segments], ['0', '0', '0'], r.direction);
    });

    test("under traffic: packets and bytes equal the veth's kernel statistics, in both directions", async () => {
      await sendUdp(left, added.addrB, 400, 300); // out of `a` (egress), ICMP port-unreachable back (ingress)
      await sendUdp(right, added.addrA, 100, 700); // into `a` (ingress), ICMP port-unreachable out
      const snap = await settledSnapshot(agent!, left, added.a);
      assert.ok(snap.kernel.tx.packets >= 400 && snap.kernel.rx.packets >= 100, JSON.stringify(snap.kernel));
      assert.deepEqual(row(snap.rows, added.a, 'ingress'), {
        packets: BigInt(snap.kernel.rx.packets),
        bytes: BigInt(snap.kernel.rx.bytes),
      });
      assert.deepEqual(row(snap.rows, added.a, 'egress'), { packets: BigInt(snap.kernel.tx.packets), bytes: BigInt(snap.kernel.tx.bytes) });
      // No GSO on this traffic: one segment per packet.
      for (const r of snap.rows.filter((x) => x.name === added.a)) assert.equal(r.segments, r.packets, r.direction);
    });

    test('an interface renamed: notified, same ifindex under the new name, counters kept', async () => {
      const ifindex = await left.ifindex(added.a);
      const before = await settledSnapshot(agent!, left, added.a);
      renamed = `npcr${uniqueTag()}`;
      await left.ip(['link', 'set', added.a, 'down']);
      await left.ip(['link', 'set', added.a, 'name', renamed]);
      await left.ip(['link', 'set', renamed, 'up']);
      const ifaces = await agent!.untilInterfaces(has(renamed), 15_000);
      assert.equal(ifaces.find((i) => i.name === renamed)?.ifindex, ifindex);
      const snap = await settledSnapshot(agent!, left, renamed);
      assert.ok(!snap.rows.some((r) => r.name === added.a), 'no row under the old name');
      assert.deepEqual(row(snap.rows, renamed, 'egress').packets, row(before.rows, added.a, 'egress').packets);
      assert.equal(row(snap.rows, renamed, 'egress').packets, BigInt(snap.kernel.tx.packets));
    });

    test('an interface removed: notified, its rows gone', async () => {
      const ifindex = await left.ifindex(renamed);
      await left.ip(['link', 'del', renamed]);
      // Notified; the read the notification made may still carry the final counts (once, eBPF).
      await agent!.untilInterfaces(() => true, 15_000);
      const read = await agent!.request('read', 'counters');
      assert.deepEqual(rowsOf(read.rows as AgentRow[], ifindex), []);
      assert.equal(read.interfaceCount, (await kernelInterfaces(left)).length);
    });

    test('close() twice resolves, the process exits cleanly, nothing is left attached', async () => {
      assert.equal(await agent!.close(), 0);
      assert.deepEqual(await attachedInterfaces(left), []);
    });
  });
}
