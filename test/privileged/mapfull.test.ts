/**
 * Kernel-side limits, seen through the exporter: more interfaces than the
 * maps hold (eight interfaces wanting lo's slot, an overflow hash shrunk to
 * two). Nothing crashes; the uncounted interfaces are visible in a metric
 * and named in a warning each; the exposition stays promtool-clean; the
 * counted interfaces stay exact; freed room is used at once; and once the
 * colliders are gone nothing is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twoHosts } from '../support/netns.js';
import { fetchIn } from '../support/netns-http.js';
import { FAULTY_EXPORTER, procStats, startNetprobe } from '../support/netprobe-process.js';
import { labelSets, promtoolCheck, sampleValue } from '../support/exposition-parse.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';
import { waitFor } from '../support/wait-for.js';

const NP_SLOTS = 1024;
const OVERFLOW_CAPACITY = 2;
const COLLIDERS = 8;

test(
  'maps full: uncounted interfaces in a metric and the log, the rest exact, room reused, nothing left',
  { timeout: 110_000 },
  async (t) => {
    const hosts = await twoHosts('npfull');
    t.after(() => hosts.cleanup());
    const { left, right, link } = hosts;
    await quietIpv6(left);
    await quietIpv6(right);
    await staticNeighbours(left, right, link);
    // The pair predates netprobe (and IPv6 was on for a moment): compare deltas from here.
    const pairAtStart = await left.linkStats(link.a);
    const np = await startNetprobe(left, [`--overflow-capacity=${OVERFLOW_CAPACITY}`, '--interval=500'], { script: FAULTY_EXPORTER });
    t.after(() => np.stop('SIGKILL'));
    const fdsBefore = procStats(np.pid).fds;
    const metrics = async (): Promise<string> => (await fetchIn(left, np.port, '/metrics')).body;
    const uncountedMetric = (body: string): number | undefined => {
      const line = body.split('\n').find((l) => /^netprobe_\w*interfaces_uncounted /.test(l));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    const exportedNames = (body: string): Set<string> => new Set(labelSets(body, 'netprobe_tc_packets_total').map((l) => l['interface']!));

    // Colliders: ifindex k·1024 + 1 all want lo's slot; peers in the other namespace.
    const tag = String(process.pid % 1000);
    const names: string[] = [];
    for (let k = 1; k <= COLLIDERS; k++) {
      const name = `full${tag}x${k}`;
      names.push(name);
      await left.ip([
        'link',
        'add',
        'name',
        name,
        'index',
        String(k * NP_SLOTS + 1),
        'type',
        'veth',
        'peer',
        'name',
        `${name}p`,
        'netns',
        right.name,
      ]);
    }
    // The first collider carries traffic: counted in the overflow hash, it must be exact too.
    await left.ip(['addr', 'add', '10.214.7.1/30', 'dev', names[0]!]);
    await right.ip(['addr', 'add', '10.214.7.2/30', 'dev', `${names[0]}p`]);
    for (const n of names) await left.ip(['link', 'set', n, 'up']);
    await right.ip(['link', 'set', `${names[0]}p`, 'up']);
    await staticNeighbours(left, right, { a: names[0]!, b: `${names[0]}p`, addrA: '10.214.7.1', addrB: '10.214.7.2' });

    const uncounted = COLLIDERS - OVERFLOW_CAPACITY;
    let body = await waitFor(metrics, (b) => uncountedMetric(b) === uncounted);
    assert.equal(
      uncountedMetric(body),
      uncounted,
      `the uncounted interfaces are in a metric:\n${body
        .split('\n')
        .filter((l) => /uncounted|overflow/.test(l))
        .join('\n')}`,
    );
    assert.equal(sampleValue(body, 'netprobe_up'), 1);
    assert.equal((await fetchIn(left, np.port, '/health')).status, 200);
    assert.equal(await promtoolCheck(body), '', 'promtool check metrics');
    const exported = exportedNames(body);
    const counted = names.filter((n) => exported.has(n));
    assert.equal(counted.length, OVERFLOW_CAPACITY);
    for (const n of names.filter((x) => !exported.has(x))) {
      assert.match(np.output(), new RegExp(`"level":"warn"[^\\n]*${n}[^\\n]*overflow map is full`), `a warning names ${n}`);
    }

    // Counting goes on, exactly, for the veth pair and for the collider in the overflow hash.
    await sendUdp(right, link.addrA, 500);
    await sendUdp(right, '10.214.7.1', 300);
    // The exporter shows the traffic at its next collection: wait until it shows what the kernel counted.
    const exactIfs = [link.a, names[0]!];
    const readCounts = async (): Promise<{ body: string; seen: Array<number | undefined>; want: number[] }> => {
      const want: number[] = [];
      for (const ifname of exactIfs) {
        const k = await left.linkStats(ifname);
        const base = ifname === link.a ? pairAtStart : { rx: { packets: 0, bytes: 0 }, tx: { packets: 0, bytes: 0 } };
        want.push(k.rx.packets - base.rx.packets, k.tx.bytes - base.tx.bytes);
      }
      const b = await metrics();
      const seen = exactIfs.flatMap((ifname) => [
        sampleValue(b, 'netprobe_tc_packets_total', { interface: ifname, direction: 'ingress' }),
        sampleValue(b, 'netprobe_tc_bytes_total', { interface: ifname, direction: 'egress' }),
      ]);
      return { body: b, seen, want };
    };
    const counts = await waitFor(readCounts, (c) => c.seen.every((v, i) => v === c.want[i]));
    assert.deepEqual(counts.seen, counts.want, `[ingress packets, egress bytes] of ${exactIfs.join(', ')} equal the kernel's`);
    body = counts.body;

    // Room frees: a waiting interface is counted at once.
    const freed = counted.find((n) => n !== names[0])!;
    await left.ip(['link', 'del', freed]);
    // The departed interface may be exported once more with its final counts
    // (the CounterSource contract), beside its successor: wait until it is gone.
    const waiting = names.filter((n) => !exported.has(n));
    const successors = (b: string): string[] => waiting.filter((n) => exportedNames(b).has(n));
    body = await waitFor(
      metrics,
      (b) => uncountedMetric(b) === uncounted - 1 && !exportedNames(b).has(freed) && successors(b).length === 1,
    );
    assert.equal(uncountedMetric(body), uncounted - 1, 'one waiting interface took the freed room');
    assert.equal(exportedNames(body).has(freed), false, `${freed} is no longer exported`);
    assert.equal(successors(body).length, 1, `exactly one waiting interface is exported now: ${successors(body).join(', ')}`);
    assert.deepEqual(
      [...exportedNames(body)].sort(),
      [...[...exported].filter((n) => n !== freed), successors(body)[0]!].sort(),
      'one series set gone, one new',
    );

    // All colliders gone: nothing uncounted, no series, fds back.
    for (const n of names.filter((x) => x !== freed)) await left.ip(['link', 'del', n]);
    body = await waitFor(metrics, (b) => uncountedMetric(b) === 0 && !names.some((n) => exportedNames(b).has(n)));
    assert.equal(uncountedMetric(body), 0);
    assert.deepEqual(
      names.filter((n) => exportedNames(body).has(n)),
      [],
    );
    // A netlink dump socket may be open for a moment at either reading: no more than at the start.
    const fdsAfter = await waitFor(
      () => procStats(np.pid).fds,
      (n) => n <= fdsBefore,
    );
    assert.ok(fdsAfter <= fdsBefore, `file descriptors back to the start: ${fdsBefore} → ${fdsAfter}`);
    t.diagnostic(
      `${COLLIDERS} colliders, overflow room ${OVERFLOW_CAPACITY}: ${uncounted} reported uncounted (metric + one warning each), counted ones exact, freed room reused, fds ${fdsBefore} → ${fdsAfter}`,
    );
    assert.equal(await np.stop('SIGTERM'), 0);
  },
);
