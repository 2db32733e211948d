/**
 * Coexistence, the hard way: four programs of somebody else's on the same
 * interface — tcx first and last in the chain, clsact filters at netprobe's
 * priority (added before it) and after it — while netprobe starts, counts,
 * stops with SIGTERM, starts again WHILE traffic flows, is SIGKILLed while
 * traffic flows, and restarts over its own leftovers. Every foreign program
 * must have seen every packet throughout (its counts equal the kernel's own
 * statistics), netprobe's counts are exact whenever it runs, and at the end
 * only netprobe's attachments are gone: the foreign filters, links and the
 * clsact qdisc netprobe did not create all remain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchIn } from '../support/netns-http.js';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { sampleValue } from '../support/exposition-parse.js';
import { sendUdp } from '../support/traffic.js';
import { census, netprobeOn } from '../support/tc-attachments.js';
import { ForeignPrograms, foreignTestbed, type Position } from '../support/foreign-programs-driver.js';

const POSITIONS: Position[] = ['tcx-first', 'tcx-last', 'tc-first', 'tc-last'];

for (const mode of ['tcx', 'tc'] as const) {
  test(
    `${mode}: foreign tcx and clsact programs before and after netprobe see every packet across start, stop, kill and restart under traffic`,
    { timeout: 110_000 },
    async (t) => {
      const { object, left, right, link } = await foreignTestbed(t, 'npco');
      const foreign = await ForeignPrograms.start(left, object, link.a, POSITIONS);
      t.after(() => foreign.close());
      const s0 = await left.linkStats(link.a);
      const c0 = await foreign.counts();

      const exactSince = async (np: NetprobeProcess, since: Awaited<ReturnType<typeof left.linkStats>>): Promise<void> => {
        await new Promise((r) => setTimeout(r, 1200));
        const body = (await fetchIn(left, np.port, '/metrics')).body;
        const now = await left.linkStats(link.a);
        assert.equal(
          sampleValue(body, 'netprobe_tc_packets_total', { interface: link.a, direction: 'ingress' }),
          now.rx.packets - since.rx.packets,
          'netprobe ingress exact',
        );
        assert.equal(
          sampleValue(body, 'netprobe_tc_packets_total', { interface: link.a, direction: 'egress' }),
          now.tx.packets - since.tx.packets,
          'netprobe egress exact',
        );
      };
      const args = [`--ebpf.attach-mode=${mode}`, '--collector.interval=500ms', `--ebpf.include=${link.a}`];

      // 1. quiet start, exact counts, SIGTERM while traffic flows.
      let since = await left.linkStats(link.a);
      let np = await startNetprobe(left, args);
      t.after(() => np.stop('SIGKILL'));
      await sendUdp(right, link.addrA, 300);
      await exactSince(np, since);
      let traffic = sendUdp(right, link.addrA, 3000);
      assert.equal(await np.stop('SIGTERM'), 0);
      await traffic;

      // 2. start while traffic flows, SIGKILL while traffic flows.
      traffic = sendUdp(right, link.addrA, 3000);
      np = await startNetprobe(left, args);
      await np.stop('SIGKILL');
      await traffic;
      const afterKill = await census(left);
      assert.ok(
        netprobeOn(afterKill[link.a]!.tcIngress) <= 1 && netprobeOn(afterKill[link.a]!.tcxIngress) === 0,
        JSON.stringify(afterKill[link.a]),
      );

      // 3. restart over the leftovers: one netprobe program per hook, exact again.
      since = await left.linkStats(link.a);
      np = await startNetprobe(left, args);
      const running = (await census(left))[link.a]!;
      const ours = mode === 'tcx' ? [running.tcxIngress, running.tcxEgress] : [running.tcIngress, running.tcEgress];
      for (const hook of ours) assert.equal(netprobeOn(hook), 1, `exactly one netprobe program per hook: ${JSON.stringify(running)}`);
      await sendUdp(right, link.addrA, 300);
      await exactSince(np, since);
      assert.equal(await np.stop('SIGTERM'), 0);

      // Every foreign program saw every packet, whatever netprobe was doing.
      const s1 = await left.linkStats(link.a);
      const c1 = await foreign.counts();
      for (const p of POSITIONS) {
        assert.equal(c1[p].ingress - c0[p].ingress, s1.rx.packets - s0.rx.packets, `${p} ingress saw every packet`);
        assert.equal(c1[p].egress - c0[p].egress, s1.tx.packets - s0.tx.packets, `${p} egress saw every packet`);
      }
      assert.ok(s1.rx.packets - s0.rx.packets >= 6600, 'the traffic arrived');
      // Only netprobe's attachments are gone.
      const end = (await census(left))[link.a]!;
      for (const hook of [end.tcxIngress, end.tcxEgress, end.tcIngress, end.tcEgress])
        assert.equal(netprobeOn(hook), 0, JSON.stringify(end));
      assert.deepEqual(
        end.tcxIngress.map((e) => e.name),
        ['foreign_in', 'foreign_in'],
      );
      assert.deepEqual(
        end.tcxEgress.map((e) => e.name),
        ['foreign_eg', 'foreign_eg'],
      );
      assert.deepEqual(end.tcIngress.map((e) => e.handle).sort(), ['0x77', '0x78']);
      assert.deepEqual(end.tcEgress.map((e) => e.handle).sort(), ['0x77', '0x78']);
      assert.equal(end.clsact.length, 1, 'the clsact qdisc netprobe did not create is still there');
      t.diagnostic(
        `${mode}: ${s1.rx.packets - s0.rx.packets} packets in, ${s1.tx.packets - s0.tx.packets} out across 3 netprobe runs (SIGTERM, SIGKILL under traffic, restart); all 4 foreign programs saw every one`,
      );
    },
  );
}
