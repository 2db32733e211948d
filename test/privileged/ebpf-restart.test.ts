/**
 * SIGKILL, then restart: exactly one netprobe attachment per hook (tcx
 * links die with the process; clsact filters survive it and are replaced,
 * never duplicated), counting still exact; after a clean stop no netprobe
 * filter and no qdisc netprobe created is left, while other people's
 * filters and qdiscs stay untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { twoHosts, type Netns } from '../support/netns.js';
import { Agent } from '../support/ebpf-agent-driver.js';
import { iperf, quietIpv6 } from '../support/traffic.js';
import { deltas, settledSnapshot } from '../support/counter-snapshot.js';
import { compileFixtureProgram, fixturePath } from '../support/bpf-compile.js';

const count = (text: string, re: RegExp): number => text.split('\n').filter((l) => re.test(l)).length;
const filters = (ns: Netns, dev: string, hook: 'ingress' | 'egress'): Promise<string> =>
  ns.exec('tc', ['filter', 'show', 'dev', dev, hook]);
const qdiscs = (ns: Netns, dev: string): Promise<string> => ns.exec('tc', ['qdisc', 'show', 'dev', dev]);

async function tcxHooks(agent: Agent, dev: string): Promise<{ ingress: string[]; egress: string[] }> {
  const hooks = (await agent.request('hooks', 'hooks')).hooks as Array<{ name: string; ingress: string[]; egress: string[] }>;
  const h = hooks.find((x) => x.name === dev);
  assert.ok(h, `hooks of ${dev}`);
  return { ingress: h.ingress, egress: h.egress };
}

test(
  'tc: SIGKILL leaves filters; the restart replaces them (one per hook), a clean stop removes them and only them',
  { timeout: 100_000 },
  async (t) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'np-state-'));
    t.after(() => rmSync(stateDir, { recursive: true, force: true }));
    const work = mkdtempSync(join(tmpdir(), 'np-second-'));
    t.after(() => rmSync(work, { recursive: true, force: true }));
    const hosts = await twoHosts('npk');
    t.after(() => hosts.cleanup());
    const { left, right, link } = hosts;
    await quietIpv6(left, right);
    const args = ['--mode=tc', `--state-dir=${stateDir}`];

    // Someone else's clsact qdisc, there before netprobe: never deleted.
    await left.exec('tc', ['qdisc', 'add', 'dev', 'lo', 'clsact']);

    const first = Agent.start(left, args);
    t.after(() => first.stop());
    await first.ready();
    // Someone else's filter on the qdisc netprobe created (a BPF program at another handle/priority).
    const secondObject = compileFixtureProgram('ebpf-second-counter.bpf.c', work);
    const other = Agent.start(left, [secondObject, link.a, 'tc'], { script: fixturePath('ebpf-second-program.ts') });
    t.after(() => other.stop());
    await other.ready();
    await other.kill(); // its filter stays, as tc filters do

    await first.kill();
    assert.equal(count(await filters(left, link.a, 'ingress'), /netprobe_tc_in/), 1, 'the killed netprobe left its filter');

    const restarted = Agent.start(left, args);
    t.after(() => restarted.stop());
    await restarted.ready();
    for (const dev of [link.a, 'lo']) {
      assert.equal(count(await filters(left, dev, 'ingress'), /netprobe_tc_in/), 1, `${dev}: exactly one netprobe ingress filter`);
      assert.equal(count(await filters(left, dev, 'egress'), /netprobe_tc_eg/), 1, `${dev}: exactly one netprobe egress filter`);
    }
    const before = await settledSnapshot(restarted, left, link.a);
    await iperf(left, right, link.addrB, [
      { seconds: 1, udp: true },
      { seconds: 1, udp: true, reverse: true },
    ]);
    const after = await settledSnapshot(restarted, left, link.a);
    const { ours, kernel } = deltas(link.a, before, after);
    assert.deepEqual(ours, kernel, 'the restarted netprobe counts exactly');

    assert.equal(await restarted.close(), 0);
    assert.doesNotMatch(await filters(left, link.a, 'ingress'), /netprobe/);
    assert.doesNotMatch(await filters(left, link.a, 'egress'), /netprobe/);
    assert.match(await filters(left, link.a, 'ingress'), /second_in/, 'the other filter is still there');
    assert.match(await qdiscs(left, link.a), /clsact/, "a qdisc with someone else's filter on it is kept");
    assert.match(await qdiscs(left, 'lo'), /clsact/, 'a qdisc netprobe did not create is kept');
    assert.doesNotMatch(await filters(left, 'lo', 'ingress'), /netprobe/);

    // Once the other filter is gone, the next netprobe to stop deletes the qdisc the first one created.
    await left.exec('tc', ['filter', 'del', 'dev', link.a, 'ingress', 'pref', '2']);
    await left.exec('tc', ['filter', 'del', 'dev', link.a, 'egress', 'pref', '2']);
    const last = Agent.start(left, args);
    t.after(() => last.stop());
    await last.ready();
    assert.equal(await last.close(), 0);
    assert.doesNotMatch(await qdiscs(left, link.a), /clsact/, 'no leftover qdisc after a clean stop');
    assert.match(await qdiscs(left, 'lo'), /clsact/, 'still not ours');
  },
);

test(
  'tcx: after SIGKILL nothing is left; the restart has exactly one link per hook and also removes a tc-mode leftover',
  { timeout: 100_000 },
  async (t) => {
    const stateDir = mkdtempSync(join(tmpdir(), 'np-state-'));
    t.after(() => rmSync(stateDir, { recursive: true, force: true }));
    const hosts = await twoHosts('npk');
    t.after(() => hosts.cleanup());
    const { left, right, link } = hosts;
    await quietIpv6(left, right);

    // A tc-mode netprobe killed: its filters and qdisc stay behind.
    const tcAgent = Agent.start(left, ['--mode=tc', `--state-dir=${stateDir}`]);
    t.after(() => tcAgent.stop());
    await tcAgent.ready();
    await tcAgent.kill();
    assert.match(await filters(left, link.a, 'ingress'), /netprobe_tc_in/);

    const first = Agent.start(left, ['--mode=tcx', `--state-dir=${stateDir}`]);
    t.after(() => first.stop());
    await first.ready();
    assert.deepEqual(await tcxHooks(first, link.a), { ingress: ['netprobe_tc_in'], egress: ['netprobe_tc_eg'] });
    assert.doesNotMatch(await filters(left, link.a, 'ingress'), /netprobe/, 'the tc-mode leftover was removed');
    assert.doesNotMatch(await qdiscs(left, link.a), /clsact/, 'with the qdisc the killed netprobe created');
    await first.kill();

    const restarted = Agent.start(left, ['--mode=tcx', `--state-dir=${stateDir}`]);
    t.after(() => restarted.stop());
    await restarted.ready();
    assert.deepEqual(
      await tcxHooks(restarted, link.a),
      { ingress: ['netprobe_tc_in'], egress: ['netprobe_tc_eg'] },
      'exactly one netprobe link per hook',
    );
    const before = await settledSnapshot(restarted, left, link.a);
    await iperf(left, right, link.addrB, [
      { seconds: 1, udp: true },
      { seconds: 1, udp: true, reverse: true },
    ]);
    const after = await settledSnapshot(restarted, left, link.a);
    const { ours, kernel } = deltas(link.a, before, after);
    assert.deepEqual(ours, kernel);
    assert.equal(await restarted.close(), 0);
  },
);
