/**
 * Persistence (`--ebpf.pin-path`): counting never stops across restarts.
 * The real CLI runs in a test namespace with its own bpffs instance (mounted
 * at a fresh temporary directory, unmounted after; /sys/fs/bpf is never
 * touched) while paced UDP flows over a veth pair the whole time. It is
 * stopped with SIGTERM and started again twice, then SIGKILLed and started:
 * over the whole window, netprobe's counter deltas equal the kernel's own
 * interface statistics exactly (no packet missed while it was down, none
 * counted twice), and no scrape ever sees a counter go backwards.
 * `--ebpf.cleanup` then leaves no program, link, filter, qdisc or pin of
 * ours, while a foreign program (a clsact filter) and foreign pins beside
 * ours are untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { census, netprobeOn } from '../support/tc-attachments.js';
import { compileFixtureProgram } from '../support/bpf-compile.js';
import {
  kernelTotals,
  listTree,
  minus,
  notBelow,
  persistenceLab,
  scrapeTotals,
  startUdpStream,
  type Totals,
} from '../support/persistence-lab.js';

const run = promisify(execFile);

/** Waits for a collection (250 ms interval) to have picked up the counters as they are now. */
const COLLECTED_MS = 700;

for (const mode of ['tcx', 'tc'] as const) {
  test(
    `${mode}: counting continues through SIGTERM, SIGTERM and SIGKILL restarts; deltas equal the kernel's exactly; --ebpf.cleanup leaves nothing of ours`,
    {
      timeout: 150_000,
    },
    async (t) => {
      const lab = await persistenceLab(`nppin${mode}`);
      const { left, right, link, pinPath, bpffs } = lab;
      const started: NetprobeProcess[] = [];
      let stream: { stop(): Promise<void> } | undefined;
      t.after(async () => {
        await stream?.stop();
        for (const p of started) await p.stop('SIGKILL');
        await lab.cleanup();
      });
      const args = [
        `--ebpf.attach-mode=${mode}`,
        `--ebpf.include=${link.a}`,
        `--ebpf.pin-path=${pinPath}`,
        '--collector.interval=250ms',
        '--source=ebpf',
      ];
      const start = async (): Promise<NetprobeProcess> => {
        const p = await startNetprobe(left, args);
        started.push(p);
        return p;
      };

      let np = await start();
      await sleep(COLLECTED_MS);
      const kernel0 = await kernelTotals(left, link.a);
      const counted0 = await scrapeTotals(left, np.port, link.a);
      let last: Totals;

      stream = startUdpStream(right, link.addrA);
      for (const stopWith of ['SIGTERM', 'SIGTERM', 'SIGKILL'] as const) {
        await sleep(1_000);
        last = await scrapeTotals(left, np.port, link.a);
        const code = await np.stop(stopWith);
        if (stopWith === 'SIGTERM') assert.equal(code, 0, np.output());
        // Left attached, pinned and counting while netprobe is down.
        assert.ok(
          listTree(pinPath).some((p) => p.endsWith('maps/np_slots')),
          listTree(pinPath).join('\n'),
        );
        if (stopWith === 'SIGKILL') {
          const hooks = (await census(left))[link.a]!;
          assert.equal(netprobeOn(mode === 'tcx' ? hooks.tcxIngress : hooks.tcIngress), 1, JSON.stringify(hooks));
          assert.equal(netprobeOn(mode === 'tcx' ? hooks.tcxEgress : hooks.tcEgress), 1, JSON.stringify(hooks));
        } else await sleep(1_000);
        np = await start();
        assert.match(np.output(), /adopting the pinned eBPF state/);
        // Prometheus would see no reset: nothing is lower than before the stop.
        notBelow(await scrapeTotals(left, np.port, link.a), last, `after ${stopWith}`);
      }
      // Still exactly one of ours on each hook: adopted each time, never attached again.
      const after = (await census(left))[link.a]!;
      assert.equal(netprobeOn(mode === 'tcx' ? after.tcxIngress : after.tcIngress), 1, JSON.stringify(after));
      assert.equal(netprobeOn(mode === 'tcx' ? after.tcxEgress : after.tcEgress), 1, JSON.stringify(after));
      await sleep(1_000);
      await stream.stop();
      await sleep(200);
      const kernel1 = await kernelTotals(left, link.a);
      await sleep(COLLECTED_MS);
      const counted1 = await scrapeTotals(left, np.port, link.a);
      const kernelDelta = minus(kernel1, kernel0);
      assert.ok(kernelDelta.ingressPackets > 3_000n, `enough traffic flowed: ${kernelDelta.ingressPackets}`);
      // veth's statistics count what the TC hooks see, header included: exact equality.
      assert.deepEqual(minus(counted1, counted0), kernelDelta);
      assert.equal(await np.stop('SIGTERM'), 0, np.output());

      // Uninstall: a foreign program (clsact filter, pinned) and foreign pins beside ours stay.
      const objDir = mkdtempSync(join(tmpdir(), 'np-foreign-'));
      t.after(() => rmSync(objDir, { recursive: true, force: true }));
      const foreignObj = compileFixtureProgram('ebpf-second-counter.bpf.c', objDir);
      const foreignProg = join(bpffs, 'foreign_prog');
      await run('bpftool', ['prog', 'load', foreignObj, foreignProg, 'type', 'classifier']);
      await run('bpftool', [
        'map',
        'create',
        join(pinPath, 'foreign_map'),
        'type',
        'array',
        'key',
        '4',
        'value',
        '4',
        'entries',
        '1',
        'name',
        'foreign_map',
      ]);
      if (mode === 'tcx') await left.exec('tc', ['qdisc', 'add', 'dev', link.a, 'clsact']);
      await left.exec('tc', [
        'filter',
        'add',
        'dev',
        link.a,
        'ingress',
        'pref',
        '300',
        'handle',
        '7',
        'bpf',
        'da',
        'object-pinned',
        foreignProg,
      ]);

      const [node, nodeArgs] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup', '--log.format=json']);
      const { stdout, stderr } = await run('ip', ['netns', 'exec', left.name, node, ...nodeArgs], { timeout: 60_000 });
      // The TC counters' directory and the drop meter's (on by default with the ebpf source).
      assert.match(stdout + stderr, /cleanup: removed 2 netprobe pin directories/);
      assert.match(stdout + stderr, /"removed":\[[^\]]*netprobe-drop-meter-[0-9a-f]+"[^\]]*netprobe-bpf-[0-9a-f]+"\]/);
      assert.deepEqual(listTree(pinPath), ['foreign_map'], 'only the foreign pin is left under the pin path');
      assert.ok(existsSync(foreignProg), 'the foreign pinned program is untouched');
      const hooks = (await census(left))[link.a]!;
      assert.deepEqual(
        {
          tcx: [...hooks.tcxIngress, ...hooks.tcxEgress].length,
          netprobe: netprobeOn([...hooks.tcIngress, ...hooks.tcEgress]),
          foreign: hooks.tcIngress.map((e) => e.name),
          clsact: hooks.clsact.length > 0,
        },
        { tcx: 0, netprobe: 0, foreign: ['second_in'], clsact: true },
      );
      // In tc mode the qdisc was netprobe's until the foreign filter joined it: kept, since it is not empty.
    },
  );
}
