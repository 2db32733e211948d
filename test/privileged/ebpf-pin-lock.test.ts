/**
 * One netprobe per pin path (issue 18 item 6). The real CLI, in a test
 * namespace, with a private bpffs, while paced UDP flows over a veth pair:
 * (a) a second netprobe on the same pin path waits, then fails with
 *     NP_ERR_PIN_LOCKED naming the holder's PID, while the first keeps
 *     counting exactly what the kernel counts and its pins and programs stay;
 * (b) a second one started during a rollout takes over once the first exits
 *     within the wait, and the counts stay exact across the handover;
 * (c) after SIGKILL of the holder the lock is free at once (no stale lock);
 * (d) `--check` beside a running netprobe takes no lock and touches no pin.
 * --ebpf.cleanup waits for the lock too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { flockHolder } from '../../src/bpf/pin-lock.js';
import type { Netns } from '../support/netns.js';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { census, netprobeOn } from '../support/tc-attachments.js';
import {
  kernelTotals,
  listTree,
  minus,
  persistenceLab,
  scrapeTotals,
  startUdpStream,
  type PersistenceLab,
  type Totals,
} from '../support/persistence-lab.js';

const STATE_DEADLINE_MS = 60_000;

interface Run {
  /** Resolves with the exit code (or signal) and everything written. */
  done: Promise<{ code: number | string; out: string }>;
  output(): string;
  kill(): void;
}

/** Runs the CLI in `ns` without waiting for it to listen (it may never). SIGKILLed after `boundMs`. */
function runCli(ns: Netns, args: string[], boundMs: number): Run {
  const [node, nodeArgs] = cliCommand(['--web.listen-address=127.0.0.1:0', '--log.format=json', ...args]);
  const proc = ns.spawn(node, nodeArgs);
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), boundMs);
  const done = new Promise<{ code: number | string; out: string }>((resolve) =>
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, out });
    }),
  );
  return {
    done,
    output: () => out,
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STATE_DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

/** Waits until netprobe's counts since `base` equal the kernel's since then (the link is quiet once the stream stops). */
async function assertExact(lab: PersistenceLab, port: number, base: { kernel: Totals; counted: Totals }): Promise<Totals> {
  const kernelDelta = minus(await kernelTotals(lab.left, lab.link.a), base.kernel);
  let countedDelta = minus(await scrapeTotals(lab.left, port, lab.link.a), base.counted);
  const deadline = Date.now() + STATE_DEADLINE_MS;
  while (
    JSON.stringify(countedDelta, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) !==
    JSON.stringify(kernelDelta, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
  ) {
    if (Date.now() > deadline) break;
    await sleep(200);
    countedDelta = minus(await scrapeTotals(lab.left, port, lab.link.a), base.counted);
  }
  assert.ok(kernelDelta.ingressPackets > 500n, `enough traffic flowed: ${kernelDelta.ingressPackets}`);
  assert.deepEqual(countedDelta, kernelDelta);
  return kernelDelta;
}

async function setUp(t: { after(fn: () => Promise<void>): void }, prefix: string) {
  const lab = await persistenceLab(prefix);
  const started: NetprobeProcess[] = [];
  const runs: Run[] = [];
  let stream: { stop(): Promise<void> } | undefined;
  t.after(async () => {
    await stream?.stop();
    for (const r of runs) r.kill();
    await Promise.all(runs.map((r) => r.done));
    for (const p of started) await p.stop('SIGKILL');
    await lab.cleanup();
  });
  const args = [`--ebpf.include=${lab.link.a}`, `--ebpf.pin-path=${lab.pinPath}`, '--collector.interval=250ms', '--source=ebpf'];
  return {
    lab,
    args,
    start: async (extra: string[] = []): Promise<NetprobeProcess> => {
      const p = await startNetprobe(lab.left, [...args, ...extra]);
      started.push(p);
      return p;
    },
    run: (extra: string[], boundMs: number): Run => {
      const r = runCli(lab.left, [...args, ...extra], boundMs);
      runs.push(r);
      return r;
    },
    /**
     * A first netprobe, the quiet link's counts as it and the kernel see them
     * (the baseline), then a UDP stream; and what must stay as it is under it.
     */
    firstCounting: async () => {
      const first = await startNetprobe(lab.left, args);
      started.push(first);
      const base = { kernel: await kernelTotals(lab.left, lab.link.a), counted: await scrapeTotals(lab.left, first.port, lab.link.a) };
      const flow = startUdpStream(lab.right, lab.link.addrA);
      stream = flow;
      return { first, base, stream: flow, pinsBefore: listTree(lab.pinPath), programsBefore: await ourPrograms(lab) };
    },
  };
}

async function ourPrograms(lab: PersistenceLab): Promise<string> {
  const hooks = (await census(lab.left))[lab.link.a]!;
  return JSON.stringify({ ingress: hooks.tcxIngress, egress: hooks.tcxEgress, tcIngress: hooks.tcIngress, tcEgress: hooks.tcEgress });
}

test(
  '(a) a second netprobe on the same pin path waits, then fails naming the holder; the first keeps counting exactly',
  { timeout: 180_000 },
  async (t) => {
    const s = await setUp(t, 'nplocka');
    const { first, base, stream, pinsBefore, programsBefore } = await s.firstCounting();

    const second = s.run(['--ebpf.pin-lock-timeout=3s'], 120_000);
    const { code, out } = await second.done;
    assert.equal(code, 1, out);
    assert.match(out, /"code":"NP_ERR_PIN_LOCKED"/, out);
    assert.match(out, new RegExp(`is locked by another netprobe \\(PID ${first.pid}: `), out);
    assert.match(out, /waiting up to 3 s/, out);
    assert.doesNotMatch(out, /exporter listening/, out);

    // The first one was not disturbed: same pins, same programs on the hooks, exact counts.
    assert.deepEqual(listTree(s.lab.pinPath), pinsBefore);
    assert.equal(await ourPrograms(s.lab), programsBefore);
    await stream.stop();
    await assertExact(s.lab, first.port, base);
    assert.equal(await first.stop('SIGTERM'), 0, first.output());
  },
);

test(
  '(b) rollout: a second netprobe started before the first exits takes over once it does; counts stay exact',
  { timeout: 180_000 },
  async (t) => {
    const s = await setUp(t, 'nplockb');
    const { first, base, stream } = await s.firstCounting();

    const second = s.run(['--ebpf.pin-lock-timeout=60s'], 150_000);
    await waitFor('the second netprobe to wait for the lock', () => /is locked by another netprobe/.test(second.output()));
    assert.equal(await first.stop('SIGTERM'), 0, first.output());
    await waitFor('the second netprobe to listen', () => /"msg":"exporter listening"/.test(second.output()));
    assert.match(second.output(), /adopting the pinned eBPF state/);
    const port = Number(/"port":(\d+)[^\n]*"msg":"exporter listening"/.exec(second.output())![1]);
    const hooks = (await census(s.lab.left))[s.lab.link.a]!;
    assert.equal(netprobeOn(hooks.tcxIngress) + netprobeOn(hooks.tcIngress), 1, JSON.stringify(hooks));
    await stream.stop();
    // The pinned counters carried on: the second one's counts since the first one's baseline equal the kernel's.
    await assertExact(s.lab, port, base);
    second.kill();
    await second.done;
  },
);

test('(c) after SIGKILL of the holder a new netprobe takes the lock at once', { timeout: 120_000 }, async (t) => {
  const s = await setUp(t, 'nplockc');
  const first = await s.start();
  await first.stop('SIGKILL');
  // --ebpf.pin-lock-timeout=0s: one attempt, no waiting. A stale lock would fail it.
  const next = await s.start(['--ebpf.pin-lock-timeout=0s']);
  assert.match(next.output(), /adopting the pinned eBPF state/);
  assert.doesNotMatch(next.output(), /locked by another netprobe/);
  assert.equal(await next.stop('SIGTERM'), 0, next.output());
});

test('(d) --check beside a running netprobe takes no lock and leaves its pins and counts alone', { timeout: 180_000 }, async (t) => {
  const s = await setUp(t, 'nplockd');
  const { first, base, stream, pinsBefore, programsBefore } = await s.firstCounting();

  // With a lock timeout of 0 any attempt to take the pins would fail at once.
  const check = s.run(['--check', '--ebpf.pin-lock-timeout=0s'], 120_000);
  const { code, out } = await check.done;
  assert.equal(code, 0, out);
  assert.match(out, /netprobe_tc_packets_total/, out);
  assert.doesNotMatch(out, /locked by another netprobe|adopting the pinned/, out);
  // The lock is still the first one's.
  const dir = statSync(s.lab.pinPath, { bigint: true });
  assert.equal(flockHolder(readFileSync('/proc/locks', 'utf8'), dir.dev, dir.ino), first.pid);

  assert.deepEqual(listTree(s.lab.pinPath), pinsBefore);
  assert.equal(await ourPrograms(s.lab), programsBefore);
  await stream.stop();
  await assertExact(s.lab, first.port, base);
  assert.equal(await first.stop('SIGTERM'), 0, first.output());
});

test('--ebpf.cleanup waits for a running netprobe and removes nothing under it', { timeout: 120_000 }, async (t) => {
  const s = await setUp(t, 'nplocke');
  const first = await s.start();
  const pinsBefore = listTree(s.lab.pinPath);
  const cleanup = s.run(['--ebpf.cleanup', '--ebpf.pin-lock-timeout=2s'], 60_000);
  const { code, out } = await cleanup.done;
  assert.equal(code, 1, out);
  assert.match(out, /"code":"NP_ERR_PIN_LOCKED"/, out);
  assert.deepEqual(listTree(s.lab.pinPath), pinsBefore);
  assert.equal(await first.stop('SIGTERM'), 0, first.output());
  // Once it is gone, cleanup proceeds.
  const again = s.run(['--ebpf.cleanup', '--ebpf.pin-lock-timeout=0s'], 60_000);
  assert.equal((await again.done).code, 0, again.output());
  assert.equal(existsSync(s.lab.pinPath), false, listTree(s.lab.bpffs).join('\n'));
});
