import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { CONTRACT_FAMILIES } from '../../src/exposition/metric-families.js';
import { escapeLabelValue, formatValue } from '../../src/exposition/exposition-writer.js';
import { readProcessMetrics } from '../../src/exposition/process-metrics.js';
import { expositionInput, renderToStrings, sample } from '../support/exposition-input.js';

/** Runs the real promtool (Debian's prometheus package) on an exposition; returns its output. */
function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix));
}

test('every interface gets both directions of the four per-direction families, with exact values', () => {
  const big = 18_446_744_073_709_551_615n; // u64 max: beyond any JS number
  const { text } = renderToStrings(
    expositionInput({
      samples: [
        sample(2, 'eth0', {
          ingress: { packets: big, bytes: big - 1n, segments: big, packetsPerSecond: 1.5, bytesPerSecond: 1e21 },
          egress: { packets: 0n, bytes: 0n, segments: 0n, packetsPerSecond: 0, bytesPerSecond: 0 },
        }),
      ],
    }),
  );
  assert.deepEqual(lines(text, 'netprobe_tc_packets_total'), [
    'netprobe_tc_packets_total{direction="ingress",ifindex="2",interface="eth0"} 18446744073709551615',
    'netprobe_tc_packets_total{direction="egress",ifindex="2",interface="eth0"} 0',
  ]);
  assert.deepEqual(lines(text, 'netprobe_tc_bytes_total'), [
    'netprobe_tc_bytes_total{direction="ingress",ifindex="2",interface="eth0"} 18446744073709551614',
    'netprobe_tc_bytes_total{direction="egress",ifindex="2",interface="eth0"} 0',
  ]);
  assert.deepEqual(lines(text, 'netprobe_tc_packets_per_second{direction="ingress"'), [
    'netprobe_tc_packets_per_second{direction="ingress",ifindex="2",interface="eth0"} 1.5',
  ]);
  assert.deepEqual(lines(text, 'netprobe_tc_bytes_per_second{direction="ingress"'), [
    'netprobe_tc_bytes_per_second{direction="ingress",ifindex="2",interface="eth0"} 1e+21',
  ]);
  assert.deepEqual(lines(text, 'netprobe_interface_active'), ['netprobe_interface_active{ifindex="2",interface="eth0"} 1']);
  assert.deepEqual(lines(text, 'netprobe_tc_segments_total{direction="ingress"'), [
    'netprobe_tc_segments_total{direction="ingress",ifindex="2",interface="eth0"} 18446744073709551615',
  ]);
});

test('the eight contract families carry HELP and TYPE, and no sample carries a timestamp', () => {
  const { text, samples: series } = renderToStrings(expositionInput());
  for (const f of CONTRACT_FAMILIES) {
    assert.ok(text.includes(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`), f.name);
  }
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.equal(samples.length, series);
  for (const l of samples) assert.match(l, /^[a-z_:]+(\{.*\})? \S+$/, `one value, no timestamp: ${l}`);
  assert.deepEqual(lines(text, 'netprobe_up '), ['netprobe_up 1']);
  assert.deepEqual(lines(text, 'netprobe_collection_total '), ['netprobe_collection_total 3']);
  assert.deepEqual(lines(text, 'netprobe_last_collection_timestamp_seconds '), [
    'netprobe_last_collection_timestamp_seconds 1700000000.25',
  ]);
  assert.deepEqual(lines(text, 'netprobe_source_info'), ['netprobe_source_info{attach_mode="tcx",source="ebpf"} 1']);
  assert.deepEqual(lines(text, 'netprobe_uncounted_packets_total'), ['netprobe_uncounted_packets_total 0']);
});

test('after a failed collection: all eight families present, no interface samples, netprobe_up 0', () => {
  const { text } = renderToStrings(
    expositionInput({ samples: [], up: false, collectionErrors: 1, sourceStats: {}, attachMode: undefined, source: 'netdev' }),
  );
  for (const f of CONTRACT_FAMILIES) assert.ok(text.includes(`# TYPE ${f.name} ${f.type}\n`), f.name);
  assert.deepEqual(lines(text, 'netprobe_tc_'), []);
  assert.deepEqual(lines(text, 'netprobe_up '), ['netprobe_up 0']);
  assert.deepEqual(lines(text, 'netprobe_collection_errors_total '), ['netprobe_collection_errors_total 1']);
  assert.deepEqual(lines(text, 'netprobe_source_info'), ['netprobe_source_info{attach_mode="none",source="netdev"} 1']);
  assert.equal(promtoolCheck(text).output, '');
});

test('label values escape backslash, double quote and line feed', () => {
  assert.equal(escapeLabelValue('plain-eth0'), 'plain-eth0');
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const { text } = renderToStrings(expositionInput({ samples: [sample(7, 'x"y\\z')] }));
  assert.ok(text.includes('netprobe_interface_active{ifindex="7",interface="x\\"y\\\\z"} 1\n'));
});

test('values: exact bigints, Go-style specials', () => {
  assert.equal(formatValue(123456789012345678901234567890n), '123456789012345678901234567890');
  assert.equal(formatValue(Infinity), '+Inf');
  assert.equal(formatValue(-Infinity), '-Inf');
  assert.equal(formatValue(NaN), 'NaN');
  assert.equal(formatValue(0.25), '0.25');
});

test('promtool check metrics passes with no warnings on the real output, process metrics included', async () => {
  execFileSync('promtool', ['--version'], { stdio: 'ignore' });
  const input = expositionInput({ processFamilies: await readProcessMetrics() });
  const { text } = renderToStrings(input);
  assert.ok(text.includes('# TYPE process_cpu_user_seconds_total counter'));
  assert.ok(text.includes('process_resident_memory_bytes '));
  const r = promtoolCheck(text);
  assert.equal(r.output, '', r.output);
  assert.equal(r.status, 0);
});

test('promtool passes for hostile interface names: quotes, backslashes, Unicode, 15 bytes, globs', () => {
  const names = [
    'a"b',
    'c\\d',
    '"\\"\\',
    'ünï©ødé',
    '€€€€€',
    'eth0.100@eth0',
    'x{y}=z,w',
    '#comment',
    'abcdefghijklmno',
    'lo:1',
    ' sp ace',
  ];
  const { text } = renderToStrings(expositionInput({ samples: names.map((n, i) => sample(10 + i, n)) }));
  const r = promtoolCheck(text);
  assert.equal(r.output, '', r.output);
  assert.equal(r.status, 0);
  for (const n of names) assert.ok(text.includes(`interface="${escapeLabelValue(n)}"`), n);
});

test('a label cache reused across collections renders the same bytes and drops renamed interfaces', async () => {
  const { InterfaceLabelCache } = await import('../../src/exposition/interface-labels.js');
  const { renderExposition } = await import('../../src/exposition/exposition.js');
  const cache = new InterfaceLabelCache();
  const first = expositionInput({ samples: [sample(2, 'eth0'), sample(3, 'ünï"\\')] });
  assert.deepEqual(renderExposition(first, cache).text, renderExposition(first).text);
  assert.deepEqual(renderExposition(first, cache).text, renderExposition(first).text, 'second use: from the cache');
  const renamed = expositionInput({ samples: [sample(2, 'wan0'), sample(3, 'ünï"\\')] });
  const text = renderExposition(renamed, cache).text.toString();
  assert.ok(!text.includes('eth0'));
  assert.equal(text, renderExposition(renamed).text.toString());
});

test('the writer grows past its size hint without losing bytes (multi-byte UTF-8 included)', async () => {
  const { renderExposition } = await import('../../src/exposition/exposition.js');
  const { InterfaceLabelCache } = await import('../../src/exposition/interface-labels.js');
  const input = expositionInput({ samples: Array.from({ length: 500 }, (_, i) => sample(i + 1, `€${i}ü`)) });
  const small = new InterfaceLabelCache();
  small.lastTextBytes = 10; // far too small a hint
  const grown = renderExposition(input, small);
  const reference = renderToStrings(input);
  assert.equal(grown.text.toString(), reference.text);
  assert.equal(Buffer.concat(grown.openMetrics).toString(), reference.openMetrics);
  assert.equal(grown.text.length, Buffer.byteLength(reference.text));
});

test('source statistics: known keys with their own type and HELP, unknown ones as gauges', () => {
  const { text } = renderToStrings(
    expositionInput({ sourceStats: { uncounted_packets: 5n, interfaces_uncounted: 1n, interfaces_overflow: 2n, 'new-thing': 9n } }),
  );
  assert.ok(text.includes('# TYPE netprobe_uncounted_packets_total counter\nnetprobe_uncounted_packets_total 5\n'));
  assert.ok(text.includes('# TYPE netprobe_interfaces_uncounted gauge\nnetprobe_interfaces_uncounted 1\n'));
  assert.ok(text.includes('# TYPE netprobe_interfaces_overflow gauge\nnetprobe_interfaces_overflow 2\n'));
  assert.ok(text.includes('# TYPE netprobe_source_new_thing gauge\nnetprobe_source_new_thing 9\n'));
  assert.equal(promtoolCheck(text).output, '');
});

test('integers are written digit by digit exactly as String() would; other values through formatValue', async () => {
  const { ExpositionWriter } = await import('../../src/exposition/exposition-writer.js');
  const values: Array<number | bigint> = [
    0,
    -0,
    7,
    -7,
    10,
    99,
    100,
    1234567890,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 53,
    1e21,
    0.5,
    -2.25,
    1 / 3,
    0n,
    9n,
    10n,
    9007199254740991n,
    9007199254740992n,
    18446744073709551615n,
    -5n,
    Infinity,
    NaN,
  ];
  const w = new ExpositionWriter(16);
  w.family('v', 'gauge', 'values');
  for (const v of values) w.sample('v', '', v);
  const lines = w.finish().text.toString().split('\n').slice(2, -1);
  assert.deepEqual(
    lines,
    values.map((v) => `v ${formatValue(v)}`),
  );
});

test('the OpenMetrics chunks share the large sample blocks with the text output and gzip to the same bytes', async () => {
  const { gunzipSync } = await import('node:zlib');
  const { buildExpositionSnapshot } = await import('../../src/exposition/exposition-snapshot.js');
  const input = expositionInput({ samples: Array.from({ length: 300 }, (_, i) => sample(i + 1, `veth${i}`)) });
  const snapshot = await buildExpositionSnapshot(input);
  const om = snapshot.openMetrics.identity;
  assert.ok(
    om.some((c) => c.buffer === snapshot.text.identity[0]!.buffer),
    'a block shared, not copied',
  );
  assert.equal(gunzipSync(snapshot.openMetrics.gzip).toString(), Buffer.concat(om).toString());
  assert.equal(gunzipSync(snapshot.text.gzip).toString(), snapshot.text.identity[0]!.toString());
  assert.equal(snapshot.openMetrics.identityLength, Buffer.concat(om).length);
});
