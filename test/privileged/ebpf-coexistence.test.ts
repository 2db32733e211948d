/**
 * Coexistence: another TC program attached after netprobe's on the same
 * hooks (a tcx link appended to the chain; a clsact filter at a later
 * priority) still sees every packet — netprobe returns TC_ACT_UNSPEC/TCX_NEXT
 * — and netprobe counts exactly the same. Closing netprobe leaves the other
 * program attached and, in tc mode, the clsact qdisc it needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { twoHosts, type Netns, type VethPair } from '../support/netns.js';
import { Agent, row, type AgentRow } from '../support/ebpf-agent-driver.js';
import { iperf, quietIpv6 } from '../support/traffic.js';
import { compileFixtureProgram, fixturePath } from '../support/bpf-compile.js';

interface Reading {
  kernel: { rx: bigint; tx: bigint };
  ours: { ingress: bigint; egress: bigint };
  second: { ingress: bigint; egress: bigint };
}

async function settledReading(ns: Netns, ifname: string, agent: Agent, second: Agent): Promise<Reading> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = await ns.linkStats(ifname);
    const rows = (await agent.request('read', 'counters')).rows as AgentRow[];
    const counts = await second.request('read', 'counts');
    const after = await ns.linkStats(ifname);
    if (before.rx.packets === after.rx.packets && before.tx.packets === after.tx.packets) {
      return {
        kernel: { rx: BigInt(after.rx.packets), tx: BigInt(after.tx.packets) },
        ours: { ingress: row(rows, ifname, 'ingress').packets, egress: row(rows, ifname, 'egress').packets },
        second: { ingress: BigInt(counts.ingress as string), egress: BigInt(counts.egress as string) },
      };
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('traffic never settled');
}

/** Two namespaces joined by a veth pair (IPv6 quiet), the other program compiled, a temp dir; all removed after. */
async function setUp(t: {
  after: (fn: () => unknown) => void;
}): Promise<{ dir: string; secondObject: string; left: Netns; right: Netns; link: VethPair }> {
  const dir = mkdtempSync(join(tmpdir(), 'np-second-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const secondObject = compileFixtureProgram('ebpf-second-counter.bpf.c', dir);
  const hosts = await twoHosts('npx');
  t.after(() => hosts.cleanup());
  await quietIpv6(hosts.left, hosts.right);
  return { dir, secondObject, ...hosts };
}

for (const mode of ['tcx', 'tc'] as const) {
  test(`${mode}: a program attached after netprobe's still sees every packet`, { timeout: 90_000 }, async (t) => {
    const { dir, secondObject, left, right, link } = await setUp(t);

    // Its own state dir: netprobe remembers the qdisc it leaves to the other program, and this namespace is temporary.
    const agent = Agent.start(left, [`--mode=${mode}`, `--include=${link.a}`, `--state-dir=${dir}`]);
    t.after(() => agent.stop());
    await agent.ready();
    const second = Agent.start(left, [secondObject, link.a, mode], { script: fixturePath('ebpf-second-program.ts') });
    t.after(() => second.stop());
    await second.ready();

    if (mode === 'tcx') {
      const hooks = (await agent.request('hooks', 'hooks')).hooks as Array<{ name: string; ingress: string[]; egress: string[] }>;
      const h = hooks.find((x) => x.name === link.a);
      assert.deepEqual(h?.ingress, ['netprobe_tc_in', 'second_in'], 'netprobe first, the other program after it');
      assert.deepEqual(h?.egress, ['netprobe_tc_eg', 'second_eg']);
    } else {
      const filters = await left.exec('tc', ['filter', 'show', 'dev', link.a, 'ingress']);
      assert.match(filters, /pref 1 bpf .*handle 0x4e50 netprobe_tc_in/);
      assert.match(filters, /pref 2 bpf .*handle 0x7 second_in/);
    }

    const before = await settledReading(left, link.a, agent, second);
    await iperf(left, right, link.addrB, [
      { seconds: 1 },
      { seconds: 1, reverse: true },
      { seconds: 1, udp: true },
      { seconds: 1, udp: true, reverse: true },
    ]);
    const after = await settledReading(left, link.a, agent, second);

    const kernelIn = after.kernel.rx - before.kernel.rx;
    const kernelOut = after.kernel.tx - before.kernel.tx;
    t.diagnostic(
      `${mode}: kernel rx ${kernelIn} tx ${kernelOut}; netprobe ${after.ours.ingress - before.ours.ingress}/${after.ours.egress - before.ours.egress}; second ${after.second.ingress - before.second.ingress}/${after.second.egress - before.second.egress}`,
    );
    assert.ok(kernelIn > 1000n && kernelOut > 1000n, 'traffic flowed both ways');
    assert.equal(after.second.ingress - before.second.ingress, kernelIn, 'the second program saw every received packet');
    assert.equal(after.second.egress - before.second.egress, kernelOut, 'the second program saw every sent packet');
    assert.equal(after.ours.ingress - before.ours.ingress, kernelIn);
    assert.equal(after.ours.egress - before.ours.egress, kernelOut);

    // netprobe leaves; the other program and (tc) the qdisc it sits on stay.
    assert.equal(await agent.close(), 0);
    if (mode === 'tc') {
      const filters = await left.exec('tc', ['filter', 'show', 'dev', link.a, 'ingress']);
      assert.doesNotMatch(filters, /netprobe_tc_in/);
      assert.match(filters, /second_in/);
      assert.match(await left.exec('tc', ['qdisc', 'show', 'dev', link.a]), /clsact/);
    }
    const counts = await second.request('read', 'counts');
    assert.ok(BigInt(counts.ingress as string) >= after.second.ingress);
    await second.request('close', 'closed');
  });
}

test(
  'tcx: netprobe goes before a program that was attached first (BPF_F_BEFORE), and both see every packet',
  { timeout: 90_000 },
  async (t) => {
    const { secondObject, left, right, link } = await setUp(t);

    const second = Agent.start(left, [secondObject, link.a, 'tcx'], { script: fixturePath('ebpf-second-program.ts') });
    t.after(() => second.stop());
    await second.ready();
    const agent = Agent.start(left, ['--mode=tcx', `--include=${link.a}`]);
    t.after(() => agent.stop());
    await agent.ready();
    const hooks = (await agent.request('hooks', 'hooks')).hooks as Array<{ name: string; ingress: string[]; egress: string[] }>;
    const h = hooks.find((x) => x.name === link.a);
    assert.deepEqual(
      [h?.ingress, h?.egress],
      [
        ['netprobe_tc_in', 'second_in'],
        ['netprobe_tc_eg', 'second_eg'],
      ],
    );

    const before = await settledReading(left, link.a, agent, second);
    await iperf(left, right, link.addrB, [
      { seconds: 1, udp: true },
      { seconds: 1, udp: true, reverse: true },
    ]);
    const after = await settledReading(left, link.a, agent, second);
    const kernelIn = after.kernel.rx - before.kernel.rx;
    const kernelOut = after.kernel.tx - before.kernel.tx;
    assert.ok(kernelIn > 100n && kernelOut > 100n);
    assert.deepEqual(
      [
        after.ours.ingress - before.ours.ingress,
        after.ours.egress - before.ours.egress,
        after.second.ingress - before.second.ingress,
        after.second.egress - before.second.egress,
      ],
      [kernelIn, kernelOut, kernelIn, kernelOut],
    );
    assert.equal(await agent.close(), 0);
    await second.request('close', 'closed');
  },
);

test(
  "tc: someone else's filter at netprobe's handle and priority is left alone; that interface is reported uncounted",
  { timeout: 60_000 },
  async (t) => {
    const { dir, secondObject, left, link } = await setUp(t);

    const squatter = Agent.start(left, [secondObject, link.a, 'tc', String(0x4e50), '1'], {
      script: fixturePath('ebpf-second-program.ts'),
    });
    t.after(() => squatter.stop());
    await squatter.ready();
    const agent = Agent.start(left, ['--mode=tc', `--state-dir=${dir}`]);
    t.after(() => agent.stop());
    const ready = await agent.ready();
    assert.ok(!(ready.interfaces as Array<{ name: string }>).some((i) => i.name === link.a), `${link.a} is not attached`);
    assert.ok(
      (ready.interfaces as Array<{ name: string }>).some((i) => i.name === 'lo'),
      'the others are',
    );
    assert.match(agent.log, /NP_ERR_TC_HANDLE_TAKEN|is held by another program \(second_in/);
    const stats = (await agent.request('read', 'counters')).stats as Record<string, string>;
    assert.equal(stats.interfaces_uncounted, '1');
    assert.equal(await agent.close(), 0);
    const filters = await left.exec('tc', ['filter', 'show', 'dev', link.a, 'ingress']);
    assert.match(filters, /handle 0x4e50 second_in/, 'the squatter is untouched');
    assert.match(await left.exec('tc', ['qdisc', 'show', 'dev', link.a]), /clsact/, 'and so is the qdisc it sits on');
  },
);
