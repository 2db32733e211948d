/**
 * Privileges: without CAP_BPF and CAP_NET_ADMIN (no capabilities, or only
 * one of them) loading fails with NP_ERR_NO_PRIVILEGE naming both
 * capabilities (not libbpf's misleading RLIMIT_MEMLOCK advice), the process
 * exits non-zero, and nothing is attached. With exactly those two, as an
 * unprivileged user, everything works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netns } from '../support/netns.js';
import { Agent } from '../support/ebpf-agent-driver.js';

const asNobody = (caps: string[]): string[] => {
  const list = ['-all', ...caps.map((c) => `+${c}`)].join(',');
  return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${list}`, `--ambient-caps=${list}`];
};

for (const caps of [[], ['bpf'], ['net_admin']]) {
  test(
    `as an unprivileged user with capabilities [${caps.join(', ')}]: a clear error, exit 1, nothing attached`,
    { timeout: 60_000 },
    async (t) => {
      const ns = await Netns.create('npp');
      t.after(() => ns.delete());
      await ns.ip(['link', 'add', 'npp0', 'type', 'veth', 'peer', 'name', 'npp1']);
      await ns.ip(['link', 'set', 'npp0', 'up']);

      const agent = Agent.start(ns, ['--mode=tc'], { wrapper: asNobody(caps) });
      t.after(() => agent.stop());
      const e = await agent.next(['ready']);
      assert.equal(e.event, 'error');
      assert.equal(e.code, 'NP_ERR_NO_PRIVILEGE');
      assert.match(String(e.message), /CAP_BPF/);
      assert.match(String(e.message), /CAP_NET_ADMIN/);
      assert.match(String(e.message), /^load BPF object /, 'says what was being done');
      assert.equal(await agent.exited, 1);

      for (const dev of ['lo', 'npp0']) {
        assert.doesNotMatch(await ns.exec('tc', ['qdisc', 'show', 'dev', dev]), /clsact/, `${dev}: no qdisc`);
        assert.equal((await ns.exec('tc', ['filter', 'show', 'dev', dev, 'ingress'])).trim(), '', `${dev}: no filter`);
      }
      // tcx links cannot outlive their process, but check: a root netprobe here sees only its own.
      const root = Agent.start(ns, ['--mode=tcx']);
      t.after(() => root.stop());
      await root.ready();
      const hooks = (await root.request('hooks', 'hooks')).hooks as Array<{ ingress: string[]; egress: string[] }>;
      for (const h of hooks) assert.deepEqual([h.ingress, h.egress], [['netprobe_tc_in'], ['netprobe_tc_eg']]);
      assert.equal(await root.close(), 0);
    },
  );
}

test('as an unprivileged user with exactly CAP_BPF and CAP_NET_ADMIN: loads, attaches, cleans up', { timeout: 60_000 }, async (t) => {
  const ns = await Netns.create('npp');
  t.after(() => ns.delete());
  for (const mode of ['tcx', 'tc'] as const) {
    const agent = Agent.start(ns, [`--mode=${mode}`, '--state-dir=/nonexistent/not-writable'], { wrapper: asNobody(['bpf', 'net_admin']) });
    t.after(() => agent.stop());
    const ready = await agent.ready();
    assert.equal(ready.attachMode, mode);
    assert.deepEqual(
      (ready.interfaces as Array<{ name: string }>).map((i) => i.name),
      ['lo'],
    );
    assert.equal(await agent.close(), 0);
    assert.doesNotMatch(await ns.exec('tc', ['qdisc', 'show', 'dev', 'lo']), /clsact/);
  }
});
