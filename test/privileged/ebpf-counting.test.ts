/**
 * Exact counts: on a veth pair into a fresh namespace, with bounded iperf3
 * traffic both ways (TCP and small-packet UDP), netprobe's per-direction
 * packets and bytes equal the kernel's own interface statistics deltas
 * exactly (ingress = rx, egress = tx), in tcx and in tc (clsact) mode.
 * The EbpfManager runs inside the test namespace (fixture agent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twoHosts } from '../support/netns.js';
import { Agent } from '../support/ebpf-agent-driver.js';
import { iperf, quietIpv6 } from '../support/traffic.js';
import { deltas, settledSnapshot } from '../support/counter-snapshot.js';

for (const mode of ['tcx', 'tc'] as const) {
  test(`${mode}: packets and bytes equal the kernel's statistics under iperf3 TCP and UDP both ways`, { timeout: 90_000 }, async (t) => {
    const hosts = await twoHosts('npc');
    t.after(() => hosts.cleanup());
    const { left, right, link } = hosts;
    await quietIpv6(left, right);

    const agent = Agent.start(left, [`--mode=${mode}`]);
    t.after(() => agent.stop());
    const ready = await agent.ready();
    assert.equal(ready.attachMode, mode);
    assert.ok(
      (ready.interfaces as Array<{ name: string }>).some((i) => i.name === link.a),
      'the veth end is attached',
    );

    const before = await settledSnapshot(agent, left, link.a);
    await iperf(left, right, link.addrB, [
      { seconds: 2 },
      { seconds: 2, reverse: true },
      { seconds: 1, udp: true },
      { seconds: 1, udp: true, reverse: true },
    ]);
    const after = await settledSnapshot(agent, left, link.a);

    const { ours, kernel } = deltas(link.a, before, after);
    // Sanity: real traffic flowed both ways (UDP at 64 bytes alone is thousands of packets).
    assert.ok(
      kernel.ingress.packets > 1000n && kernel.egress.packets > 1000n,
      `traffic: ${JSON.stringify(kernel, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
    );
    t.diagnostic(
      `${mode}: ingress ${ours.ingress.packets} packets / ${ours.ingress.bytes} bytes, egress ${ours.egress.packets} / ${ours.egress.bytes}; kernel rx ${kernel.ingress.packets} / ${kernel.ingress.bytes}, tx ${kernel.egress.packets} / ${kernel.egress.bytes}`,
    );
    assert.deepEqual(ours.ingress, kernel.ingress, 'ingress = rx');
    assert.deepEqual(ours.egress, kernel.egress, 'egress = tx');

    assert.equal(await agent.close(), 0);
    // A clean stop leaves no filter and no qdisc it created.
    assert.doesNotMatch(await left.exec('tc', ['qdisc', 'show', 'dev', link.a]), /clsact/);
  });
}
