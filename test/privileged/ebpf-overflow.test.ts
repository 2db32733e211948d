/**
 * The overflow hash full: an interface that finds neither a free slot nor
 * room in np_overflow is not counted — a warning names it, the source stats
 * count it — and everything else keeps counting exactly. When room frees up
 * (an overflowed interface is deleted), it is counted after all.
 * (The overflow map is shrunk to one interface with `overflowCapacity`.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twoHosts } from '../support/netns.js';
import { Agent, row, type AgentInterface } from '../support/ebpf-agent-driver.js';
import { iperf, quietIpv6 } from '../support/traffic.js';
import { deltas, settledSnapshot } from '../support/counter-snapshot.js';

test(
  'overflow map full: the interface is skipped with a warning and counted in stats; the rest counts on',
  { timeout: 90_000 },
  async (t) => {
    const hosts = await twoHosts('npo');
    t.after(() => hosts.cleanup());
    const { left, right, link } = hosts;
    await quietIpv6(left, right);
    const agent = Agent.start(left, ['--mode=tcx', '--overflow-capacity=1']);
    t.after(() => agent.stop());
    await agent.ready();

    // lo is ifindex 1: 1025 and 2049 want the same slot; the overflow map has room for one of them.
    const tag = String(process.pid % 10000);
    const add = async (name: string, index: number): Promise<void> => {
      await left.ip(['link', 'add', 'name', name, 'index', String(index), 'type', 'veth', 'peer', 'name', `${name}p`, 'netns', right.name]);
    };
    await add(`npf${tag}`, 1025);
    await agent.untilInterfaces((l) => l.some((i) => i.ifindex === 1025));
    await add(`npg${tag}`, 2049);
    // Not counted: no 'changed' for it; the warning names it.
    const deadline = Date.now() + 10_000;
    while (!/npg\d+ is not counted: the overflow map is full/.test(agent.log) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(agent.log, new RegExp(`"level":"warn".*npg${tag} is not counted: the overflow map is full`));
    const read = await agent.request('read', 'counters');
    assert.equal((read.stats as Record<string, string>).interfaces_uncounted, '1');
    assert.equal((read.stats as Record<string, string>).interfaces_overflow, '1');
    assert.ok(!(read.interfaces as AgentInterface[]).some((i) => i.ifindex === 2049));

    // Everything else still counts exactly.
    const before = await settledSnapshot(agent, left, link.a);
    await iperf(left, right, link.addrB, [
      { seconds: 1, udp: true },
      { seconds: 1, udp: true, reverse: true },
    ]);
    const after = await settledSnapshot(agent, left, link.a);
    const { ours, kernel } = deltas(link.a, before, after);
    assert.deepEqual(ours, kernel);

    // Room frees up: the skipped interface is counted now, from zero.
    await left.ip(['link', 'del', 'dev', `npf${tag}`]);
    await agent.untilInterfaces((l) => l.some((i) => i.ifindex === 2049) && !l.some((i) => i.ifindex === 1025));
    const now = await agent.request('read', 'counters');
    assert.equal((now.stats as Record<string, string>).interfaces_uncounted, '0');
    assert.deepEqual(row(now.rows as never, `npg${tag}`, 'egress'), { packets: 0n, bytes: 0n });
    const entries = await agent.request('entries', 'entries');
    assert.deepEqual(
      (entries.overflow as Array<{ ifindex: number }>).map((k) => k.ifindex),
      [2049, 2049],
    );
    assert.equal(await agent.close(), 0);
  },
);
