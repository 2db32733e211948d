/**
 * Crash and restart, the hard way: 82 interfaces (one of them carrying
 * somebody else's tcx and clsact programs), and netprobe SIGKILLed six times
 * at random moments — before, during or after attaching — alternating tc and
 * tcx mode. After every kill no hook ever holds two netprobe programs; every
 * restart ends with exactly one per hook in its mode and none in the other;
 * counting resumes exactly; the final SIGTERM leaves no netprobe program and
 * no clsact qdisc it created, while the foreign programs and their qdisc stay
 * and saw every packet. Replay with NP_CRASH_SEED.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ip } from '../support/netns.js';
import { fetchIn } from '../support/netns-http.js';
import { startNetprobe, cliCommand, type NetprobeProcess } from '../support/netprobe-process.js';
import { sampleValue } from '../support/exposition-parse.js';
import { sendUdp } from '../support/traffic.js';
import { census, netprobeOn, type Census } from '../support/tc-attachments.js';
import { ForeignPrograms, foreignTestbed } from '../support/foreign-programs-driver.js';

const PAIRS = 40;
const KILLS = 6;
const seed = Number(process.env['NP_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

function hooksOf(c: Census): Array<{ ifname: string; hook: string; count: number }> {
  return Object.entries(c).flatMap(([ifname, h]) =>
    (['tcxIngress', 'tcxEgress', 'tcIngress', 'tcEgress'] as const).map((hook) => ({ ifname, hook, count: netprobeOn(h[hook]) })),
  );
}

test(
  'six SIGKILLs at random moments, alternating tc and tcx, 82 interfaces: never a duplicate, clean final stop, foreign programs untouched',
  { timeout: 170_000 },
  async (t) => {
    t.diagnostic(`seed ${seed} (NP_CRASH_SEED to replay)`);
    let s = seed;
    const random = (): number => {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      return s / 2 ** 31;
    };
    const { dir, object, left, right, link } = await foreignTestbed(t, 'npcr');
    await writeFile(
      join(dir, 'batch'),
      Array.from(
        { length: PAIRS },
        (_, i) => `link add cr${i}a type veth peer name cr${i}b\nlink set cr${i}a up\nlink set cr${i}b up`,
      ).join('\n') + '\n',
    );
    await ip(['-n', left.name, '-batch', join(dir, 'batch')]);
    const foreign = await ForeignPrograms.start(left, object, link.a, ['tcx-first', 'tc-first']);
    t.after(() => foreign.close());
    const s0 = await left.linkStats(link.a);
    const c0 = await foreign.counts();

    const kills: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const mode = k % 2 === 0 ? 'tc' : 'tcx';
      const [node, args] = cliCommand(['--web.listen-address=127.0.0.1:0', `--ebpf.attach-mode=${mode}`, '--collector.interval=500ms']);
      const proc = left.spawn(node, args);
      const exited = new Promise((r) => proc.once('exit', r));
      const delay = Math.floor(300 + random() * 2700);
      const traffic = sendUdp(right, link.addrA, 1000);
      await new Promise((r) => setTimeout(r, delay));
      proc.kill('SIGKILL');
      await exited;
      await traffic;
      const c = await census(left);
      const worst = Math.max(...hooksOf(c).map((h) => h.count));
      const tcLeft = hooksOf(c).filter((h) => h.hook.startsWith('tc') && !h.hook.startsWith('tcx') && h.count > 0).length;
      kills.push(`${mode} killed after ${delay} ms: ${tcLeft} tc hooks with a leftover`);
      assert.ok(worst <= 1, `after kill ${k} (${mode}, ${delay} ms) a hook holds ${worst} netprobe programs`);
      assert.equal(hooksOf(c).filter((h) => h.hook.startsWith('tcx') && h.count > 0).length, 0, 'tcx links die with the process');
    }
    for (const line of kills) t.diagnostic(line);

    // The final run (tc mode, after a tcx kill that followed tc kills): exactly one per tc hook, none on tcx.
    let np: NetprobeProcess | undefined;
    t.after(() => np?.stop('SIGKILL'));
    const since = await left.linkStats(link.a);
    np = await startNetprobe(left, ['--ebpf.attach-mode=tc', '--collector.interval=500ms']);
    const running = await census(left);
    for (const h of hooksOf(running)) {
      assert.equal(h.count, h.hook.startsWith('tcx') ? 0 : 1, `${h.ifname} ${h.hook}: ${h.count} netprobe programs`);
    }
    await sendUdp(right, link.addrA, 500);
    await new Promise((r) => setTimeout(r, 1200));
    const body = (await fetchIn(left, np.port, '/metrics')).body;
    const now = await left.linkStats(link.a);
    assert.equal(
      sampleValue(body, 'netprobe_tc_packets_total', { interface: link.a, direction: 'ingress' }),
      now.rx.packets - since.rx.packets,
      'counting resumed exactly',
    );
    assert.equal(await np.stop('SIGTERM'), 0);

    const end = await census(left);
    for (const h of hooksOf(end)) assert.equal(h.count, 0, `${h.ifname} ${h.hook} still has netprobe after the final stop`);
    const withQdisc = Object.entries(end)
      .filter(([, h]) => h.clsact.length > 0)
      .map(([name]) => name);
    assert.ok(withQdisc.includes(link.a), 'the foreign clsact qdisc remains');
    // The loader records its intent before creating a qdisc, so no SIGKILL moment can orphan one.
    assert.deepEqual(withQdisc, [link.a], `empty clsact qdiscs left on ${withQdisc.filter((n) => n !== link.a).join(', ')}`);
    assert.deepEqual(
      end[link.a]!.tcIngress.map((e) => e.handle),
      ['0x77'],
    );
    assert.deepEqual(
      end[link.a]!.tcxIngress.map((e) => e.name),
      ['foreign_in'],
    );
    const s1 = await left.linkStats(link.a);
    const c1 = await foreign.counts();
    for (const p of ['tcx-first', 'tc-first'] as const) {
      assert.equal(c1[p].ingress - c0[p].ingress, s1.rx.packets - s0.rx.packets, `${p} saw every packet through ${KILLS} kills`);
      assert.equal(c1[p].egress - c0[p].egress, s1.tx.packets - s0.tx.packets, `${p} egress`);
    }
  },
);
