/**
 * Missed interface events: while the loader's event loop is stalled, a burst
 * of interface creations overflows its netlink queue (ENOBUFS). It must then
 * resynchronise from a full dump: new interfaces attached, and an
 * ifindex that was deleted and re-created meanwhile (no event seen for
 * either) detected and attached afresh, from zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns } from '../support/netns.js';
import { Agent, row, type AgentInterface } from '../support/ebpf-agent-driver.js';
import { waitFor } from '../support/wait-for.js';

const PAIRS = 2000;

test(
  'tcx: ENOBUFS triggers a full resync: a burst of interfaces attached, a re-created ifindex starts afresh',
  { timeout: 240_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'np-resync-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const ns = await Netns.create('npy');
    t.after(() => ns.delete());
    await ns.ip(['link', 'add', 'old0', 'index', '9000', 'type', 'veth', 'peer', 'name', 'old1']);

    // Every link event reaches the loader whatever its filters; the filters only keep the test fast
    // (a tcx attach costs one RCU grace period, ~15 ms here) by attaching a few of the burst.
    const watched = ['old0', 'new0', `y${PAIRS - 1}`, `z${PAIRS - 1}`, 'y0'];
    const agent = Agent.start(ns, ['--mode=tcx', `--include=${watched.join(',')}`]);
    t.after(() => agent.stop());
    const ready = await agent.ready();
    assert.ok((ready.interfaces as AgentInterface[]).some((i) => i.ifindex === 9000 && i.name === 'old0'));

    // Stall the agent until the burst is done (however long it takes on a busy machine), then: many
    // new interfaces, and (last, so its events are among the lost ones) ifindex 9000 deleted and
    // re-created under another name.
    const burstDone = join(dir, 'burst-done');
    agent.child.stdin!.write(`block-until ${burstDone}\n`);
    await agent.next(['blocking'], 30_000);
    const batch = join(dir, 'burst.batch');
    const lines: string[] = [];
    for (let i = 0; i < PAIRS; i++) lines.push(`link add y${i} type veth peer name z${i}`);
    lines.push('link del old0', 'link add new0 index 9000 type veth peer name new1');
    writeFileSync(batch, lines.join('\n') + '\n');
    await ns.ip(['-batch', batch], 120_000);
    writeFileSync(burstDone, '');
    await agent.next(['unblocked'], 30_000);

    const expected = watched.length - 1; // old0 is gone
    let ifaces: AgentInterface[] = [];
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      ifaces = (await agent.request('read', 'counters')).interfaces as AgentInterface[];
      if (ifaces.length === expected && ifaces.some((i) => i.ifindex === 9000 && i.name === 'new0')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // The log line travels on stderr, apart from the replies on stdout: wait for it too.
    const log = await waitFor(
      () => agent.log,
      (l) => /interface events were missed/.test(l),
      { timeoutMs: 15_000 },
    );
    assert.match(
      log,
      /interface events were missed \(netlink ENOBUFS\): resynchronised/,
      'the queue overflowed and the loader resynchronised',
    );
    assert.deepEqual(
      ifaces.map((i) => i.name).sort(),
      watched.filter((n) => n !== 'old0').sort(),
      'every interface the filters accept is attached, including ones whose events were lost',
    );
    assert.ok(!ifaces.some((i) => i.name === 'old0'), 'no stale name');

    // ifindex 9000 is the new interface: its own tcx links, counters from zero.
    const hooks = (await agent.request('hooks', 'hooks')).hooks as Array<{ ifindex: number; ingress: string[]; egress: string[] }>;
    const reused = hooks.find((h) => h.ifindex === 9000);
    assert.deepEqual([reused?.ingress, reused?.egress], [['netprobe_tc_in'], ['netprobe_tc_eg']]);
    assert.deepEqual(row(await agent.counters(), 'new0', 'ingress'), { packets: 0n, bytes: 0n });
    assert.equal(await agent.close(), 0);
  },
);
