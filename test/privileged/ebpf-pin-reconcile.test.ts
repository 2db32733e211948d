/**
 * Persistence edge cases, with the real CLI in a test namespace and a
 * private bpffs: interfaces that came and went while netprobe was stopped
 * are reconciled at start (the new attached, the gone ones' pins and entries
 * removed, a reused ifindex starting from zero, never inheriting old counts);
 * pinned state that is corrupt, or netprobe-named but unreadable, is never
 * trusted and never deleted, and says what to do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { privateBpffs } from '../support/bpffs.js';
import { Netns } from '../support/netns.js';
import { cliCommand, startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { fetchIn } from '../support/netns-http.js';
import { listTree } from '../support/persistence-lab.js';

const run = promisify(execFile);

/** `netprobe_tc_packets_total` egress by interface name. */
async function egressPackets(ns: Netns, port: number): Promise<Map<string, bigint>> {
  const { body } = await fetchIn(ns, port, '/metrics');
  const out = new Map<string, bigint>();
  for (const m of body.matchAll(/^netprobe_tc_packets_total\{direction="egress",ifindex="\d+",interface="([^"]+)"[^}]*\} (\d+)$/gm))
    out.set(m[1]!, BigInt(m[2]!));
  return out;
}

/** Sends `count` UDP datagrams out of an interface (to an address routed through it). */
async function sendVia(ns: Netns, addr: string, count: number): Promise<void> {
  const script = `const s=require('node:dgram').createSocket('udp4');let n=${count};const f=()=>{if(n--<=0)return s.close();s.send(Buffer.alloc(64),9,${JSON.stringify(addr)},f)};f();`;
  await ns.exec(process.execPath, ['-e', script]);
}

test(
  'interfaces that came and went while stopped are reconciled; a reused ifindex starts at zero; corrupt pins are left alone',
  { timeout: 150_000 },
  async (t) => {
    const ns = await Netns.create('nprec');
    const bpffs = await privateBpffs();
    const pinPath = join(bpffs.dir, 'netprobe');
    const started: NetprobeProcess[] = [];
    t.after(async () => {
      for (const p of started) await p.stop('SIGKILL');
      await ns.delete();
      await bpffs.cleanup();
    });
    await ns.exec('sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    // A veth whose peer (not matched by the filter) stays here: packets sent out of `name` are counted.
    const dummy = async (name: string, subnet: number, index?: number): Promise<void> => {
      await ns.ip(['link', 'add', 'name', name, ...(index ? ['index', String(index)] : []), 'type', 'veth', 'peer', 'name', `pp${subnet}`]);
      await ns.ip(['link', 'set', `pp${subnet}`, 'up']);
      await ns.ip(['addr', 'add', `10.214.${subnet}.1/24`, 'dev', name]);
      await ns.ip(['link', 'set', name, 'up']);
      // No ARP: every datagram goes out at once.
      await ns.ip(['neigh', 'replace', `10.214.${subnet}.9`, 'lladdr', `02:00:00:00:00:0${subnet}`, 'dev', name, 'nud', 'permanent']);
    };
    await dummy('npdone', 1);
    await dummy('npdtwo', 2);
    const oldIndex = await ns.ifindex('npdone');
    const args = ['--ebpf.include=npd*', `--ebpf.pin-path=${pinPath}`, '--collector.interval=250ms', '--source=ebpf'];
    const start = async (): Promise<NetprobeProcess> => {
      const p = await startNetprobe(ns, args);
      started.push(p);
      return p;
    };

    let np = await start();
    await sendVia(ns, '10.214.1.9', 50);
    await sendVia(ns, '10.214.2.9', 20);
    await sleep(700);
    const before = await egressPackets(ns, np.port);
    assert.ok((before.get('npdone') ?? 0n) >= 50n, [...before].map(([k, v]) => `${k}=${v}`).join(' '));
    assert.equal(await np.stop('SIGTERM'), 0, np.output());

    // While stopped: one interface goes, one comes, and another takes the gone one's ifindex.
    await ns.ip(['link', 'del', 'npdone']);
    await dummy('npdnew', 3);
    await dummy('npdreuse', 4, oldIndex);
    np = await start();
    assert.match(np.output(), /adopting the pinned eBPF state/);
    await sleep(700);
    const after = await egressPackets(ns, np.port);
    assert.deepEqual([...after.keys()].sort(), ['npdnew', 'npdreuse', 'npdtwo']);
    assert.equal(after.get('npdreuse'), 0n, 'a reused ifindex does not inherit the old counts');
    assert.equal(after.get('npdnew'), 0n);
    assert.ok(after.get('npdtwo')! >= before.get('npdtwo')!, 'the adopted interface continues');
    const links = listTree(pinPath)
      // The TC counters' links only (the drop meter pins its own under netprobe-drop-meter-*).
      .filter((p) => /^netprobe-bpf-[0-9a-f]+\/links\//.test(p))
      .map((p) => p.replace(/^.*\/links\//, ''))
      .sort();
    const idx = async (name: string): Promise<number> => ns.ifindex(name);
    assert.deepEqual(
      links,
      [
        `${await idx('npdnew')}-egress`,
        `${await idx('npdnew')}-ingress`,
        `${oldIndex}-egress`,
        `${oldIndex}-ingress`,
        `${await idx('npdtwo')}-egress`,
        `${await idx('npdtwo')}-ingress`,
      ].sort(),
    );
    assert.equal(await np.stop('SIGTERM'), 0, np.output());

    // Corrupt: one map pin gone. Not trusted (exit 1, NP_ERR_PIN_CORRUPT), not deleted.
    const own = listTree(pinPath).find((p) => /^netprobe-bpf-[0-9a-f]+$/.test(p))!;
    unlinkSync(join(pinPath, own, 'maps', 'np_stats'));
    // And a directory named like netprobe's that holds nothing netprobe pins.
    mkdirSync(join(pinPath, 'netprobe-bpf-0000000000000000'));
    const tree = listTree(pinPath);
    const bad = await startNetprobe(ns, args).then(
      (p) => {
        started.push(p);
        return p.output();
      },
      (e: unknown) => String(e),
    );
    assert.match(bad, /NP_ERR_PIN_CORRUPT/);
    assert.match(bad, /maps\/np_stats cannot be opened/);
    assert.deepEqual(listTree(pinPath), tree, 'nothing was deleted');

    // Cleanup removes nothing it cannot vouch for, says so, and exits 1.
    const [node, nodeArgs] = cliCommand([`--ebpf.pin-path=${pinPath}`, '--ebpf.cleanup']);
    const cleanup = await run('ip', ['netns', 'exec', ns.name, node, ...nodeArgs]).then(
      () => ({ code: 0, out: '' }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    assert.equal(cleanup.code, 1, cleanup.out);
    assert.match(cleanup.out, /NP_ERR_PIN_CORRUPT/);
    assert.ok(listTree(pinPath).includes(own), 'the corrupt directory is still there');
    assert.ok(listTree(pinPath).includes('netprobe-bpf-0000000000000000'));
  },
);
