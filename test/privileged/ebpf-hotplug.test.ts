/**
 * Following interfaces at runtime (netlink events, no polling): an interface
 * created after start is attached and counted exactly; leaving a bridge does
 * not look like a deletion; a rename shows the new
 * name and keeps the counts; a deleted interface leaves no map entry and no
 * error, and its final counts are read once after the deletion; an ifindex reused by a new interface starts from zero; an interface
 * whose slot is taken is counted exactly in the overflow map.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twoHosts, vethBetween, type Netns } from '../support/netns.js';
import { Agent, row } from '../support/ebpf-agent-driver.js';
import { iperf, quietIpv6, sendUdp } from '../support/traffic.js';
import { deltas, settledSnapshot } from '../support/counter-snapshot.js';

async function entries(agent: Agent): Promise<{ slots: number[]; overflow: Array<{ ifindex: number; direction: string }> }> {
  return (await agent.request('entries', 'entries')) as unknown as {
    slots: number[];
    overflow: Array<{ ifindex: number; direction: string }>;
  };
}

/** The kernel's statistics of `ifname` once two reads 300 ms apart agree. */
async function settledLinkStats(ns: Netns, ifname: string): Promise<Awaited<ReturnType<Netns['linkStats']>>> {
  let before = await ns.linkStats(ifname);
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await ns.linkStats(ifname);
    if (now.rx.packets === before.rx.packets && now.tx.packets === before.tx.packets) return now;
    before = now;
  }
  throw new Error(`${ifname}: traffic never settled`);
}

async function expectExactCounts(agent: Agent, left: Netns, right: Netns, ifname: string, serverAddr: string): Promise<void> {
  const before = await settledSnapshot(agent, left, ifname);
  await iperf(left, right, serverAddr, [
    { seconds: 1, udp: true },
    { seconds: 1, udp: true, reverse: true },
  ]);
  const after = await settledSnapshot(agent, left, ifname);
  const { ours, kernel } = deltas(ifname, before, after);
  assert.ok(kernel.ingress.packets > 100n && kernel.egress.packets > 100n, `traffic flowed on ${ifname}`);
  assert.deepEqual(ours, kernel, `${ifname}: counts equal the kernel's`);
}

for (const mode of ['tcx', 'tc'] as const) {
  test(`${mode}: hot-plug, rename, delete, reused ifindex, overflow slot`, { timeout: 100_000 }, async (t) => {
    const hosts = await twoHosts('nph');
    t.after(() => hosts.cleanup());
    const { left, right } = hosts;
    await quietIpv6(left, right);
    const agent = Agent.start(left, [`--mode=${mode}`]);
    t.after(() => agent.stop());
    await agent.ready();

    // Created after start: attached without any request from us, counted exactly.
    const plugged = await vethBetween(left, right, { subnet: 251 });
    const ifaces = await agent.untilInterfaces((list) => list.some((i) => i.name === plugged.a));
    const pluggedIndex = ifaces.find((i) => i.name === plugged.a)!.ifindex;
    await expectExactCounts(agent, left, right, plugged.a, plugged.addrB);

    // Joining and leaving a bridge (the bridge reports the port's departure as an AF_BRIDGE
    // RTM_DELLINK) neither detaches nor resets the interface.
    const beforeBridge = row(await agent.counters(), plugged.a, 'egress');
    assert.ok(beforeBridge.packets > 0n);
    await left.ip(['link', 'add', 'npbr0', 'type', 'bridge']);
    await left.ip(['link', 'set', plugged.a, 'master', 'npbr0']);
    await left.ip(['link', 'set', plugged.a, 'nomaster']);
    await left.ip(['link', 'del', 'npbr0']);
    await agent.untilInterfaces((list) => !list.some((i) => i.name === 'npbr0'));
    assert.ok(row(await agent.counters(), plugged.a, 'egress').packets >= beforeBridge.packets, 'still attached, counters not reset');
    assert.ok((await entries(agent)).slots.includes(pluggedIndex), 'its counters are still there');

    // Renamed: the new name, the same counters.
    const countsBefore = row(await agent.counters(), plugged.a, 'ingress');
    const renamed = `${plugged.a.slice(0, 10)}-rn`;
    await left.ip(['link', 'set', 'dev', plugged.a, 'name', renamed]);
    await agent.untilInterfaces((list) => list.some((i) => i.name === renamed) && !list.some((i) => i.name === plugged.a));
    const rows = await agent.counters();
    assert.ok(!rows.some((r) => r.name === plugged.a), 'no row carries the old name');
    assert.ok(row(rows, renamed, 'ingress').packets >= countsBefore.packets, 'counters survive a rename');

    // Deleted: detached, entries gone, no error; what it carried after the last read is not lost:
    // the next read returns its final counts once, then it has no row.
    assert.ok((await entries(agent)).slots.includes(pluggedIndex));
    const lastRead = await settledSnapshot(agent, left, renamed);
    await sendUdp(left, plugged.addrB, 40);
    const finalKernel = await settledLinkStats(left, renamed);
    await left.ip(['link', 'del', 'dev', renamed]);
    await agent.untilInterfaces((list) => !list.some((i) => i.ifindex === pluggedIndex));
    const after = await entries(agent);
    assert.ok(!after.slots.includes(pluggedIndex), 'no slot left for the deleted interface');
    assert.ok(!after.overflow.some((k) => k.ifindex === pluggedIndex), 'no overflow entry left');
    const finalRows = await agent.counters();
    const { ours, kernel } = deltas(renamed, lastRead, { kernel: finalKernel, rows: finalRows });
    assert.ok(kernel.egress.packets >= 40n, 'traffic flowed after the last read');
    assert.deepEqual(ours, kernel, 'the final counts, read once after the deletion, equal the last kernel statistics');
    assert.ok(!(await agent.counters()).some((r) => r.ifindex === pluggedIndex), 'then no row for the deleted interface');

    // The same ifindex, reused by a new interface, starts from zero.
    const reused = `npr${pluggedIndex}`;
    await left.ip([
      'link',
      'add',
      'name',
      reused,
      'index',
      String(pluggedIndex),
      'type',
      'veth',
      'peer',
      'name',
      `${reused}p`,
      'netns',
      right.name,
    ]);
    await agent.untilInterfaces((list) => list.some((i) => i.name === reused && i.ifindex === pluggedIndex));
    assert.deepEqual(row(await agent.counters(), reused, 'ingress'), { packets: 0n, bytes: 0n });
    await left.ip(['link', 'del', 'dev', reused]);
    await agent.untilInterfaces((list) => !list.some((i) => i.ifindex === pluggedIndex));

    // An ifindex whose slot is taken (lo is ifindex 1; 1 + 1024 shares its slot) goes to the overflow map.
    const over = `npo${process.pid % 10000}`;
    const overIndex = 1 + 1024;
    await left.ip([
      'link',
      'add',
      'name',
      over,
      'index',
      String(overIndex),
      'type',
      'veth',
      'peer',
      'name',
      `${over}p`,
      'netns',
      right.name,
    ]);
    await left.ip(['addr', 'add', '10.213.252.1/30', 'dev', over]);
    await right.ip(['addr', 'add', '10.213.252.2/30', 'dev', `${over}p`]);
    await left.ip(['link', 'set', over, 'up']);
    await right.ip(['link', 'set', `${over}p`, 'up']);
    await agent.untilInterfaces((list) => list.some((i) => i.name === over));
    const overflowEntries = (await entries(agent)).overflow
      .filter((k) => k.ifindex === overIndex)
      .map((k) => k.direction)
      .sort();
    assert.deepEqual(overflowEntries, ['egress', 'ingress']);
    await expectExactCounts(agent, left, right, over, '10.213.252.2');
    await left.ip(['link', 'del', 'dev', over]);
    await agent.untilInterfaces((list) => !list.some((i) => i.ifindex === overIndex));
    assert.ok(!(await entries(agent)).overflow.some((k) => k.ifindex === overIndex), 'overflow entries deleted with the interface');

    const stats = (await agent.request('read', 'counters')).stats as Record<string, string>;
    assert.equal(stats.uncounted_packets, '0', 'every packet on an attached hook had a counter');
    assert.equal(await agent.close(), 0);
    assert.doesNotMatch(agent.log, /"level":"(warn|error)"/, `no warning or error logged: ${agent.log}`);
  });
}
