import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpositionWriter } from '../../src/exposition/exposition-writer.js';
import { readProcessMetrics } from '../../src/exposition/process-metrics.js';
import { expositionInput, renderToStrings, sample } from '../support/exposition-input.js';

test('OpenMetrics: counter families are named without _total, their samples with it', () => {
  const { openMetrics: text } = renderToStrings(expositionInput());
  assert.ok(text.includes('# HELP netprobe_tc_packets Total number of packets processed by TC\n# TYPE netprobe_tc_packets counter\n'));
  assert.ok(text.includes('# TYPE netprobe_collection counter\nnetprobe_collection_total 3\n'));
  assert.ok(text.includes('netprobe_tc_bytes_total{direction="egress",ifindex="2",interface="eth0"} 400\n'));
  assert.ok(!/^# (HELP|TYPE) \S+_total /m.test(text), 'no family name ends in _total');
  assert.ok(text.includes('# TYPE netprobe_up gauge\nnetprobe_up 1\n'));
});

test('OpenMetrics: ends with exactly one # EOF, has no blank lines, declares every family once', async () => {
  const { openMetrics: text } = renderToStrings(expositionInput({ processFamilies: await readProcessMetrics() }));
  assert.ok(text.endsWith('\n# EOF\n'));
  assert.equal(text.split('# EOF').length, 2);
  const body = text.slice(0, -1).split('\n');
  assert.ok(
    body.every((l) => l.length > 0),
    'no blank lines',
  );
  const declared = body.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(declared).size, declared.length, 'each family declared once');
  // Samples of a family follow its TYPE line without interleaving (the families are contiguous).
  let current = '';
  const seen = new Set<string>();
  for (const l of body) {
    if (l.startsWith('# TYPE ')) {
      current = l.split(' ')[2]!;
      seen.add(current);
    } else if (!l.startsWith('#')) {
      const name = l.split(/[{ ]/)[0]!;
      assert.ok(name === current || name.startsWith(`${current}_`), `${name} belongs to ${current}`);
    }
  }
});

test('OpenMetrics HELP escapes double quotes too; 0.0.4 does not need to', () => {
  const w = new ExpositionWriter();
  w.family('x_total', 'counter', 'say "hi"\\ \nnow');
  const { text, openMetrics } = decode(w.finish());
  assert.equal(openMetrics, '# HELP x say \\"hi\\"\\\\ \\nnow\n# TYPE x counter\n# EOF\n');
  assert.equal(text, '# HELP x_total say "hi"\\\\ \\nnow\n# TYPE x_total counter\n');
});

test('OpenMetrics: untyped becomes unknown; a counter without _total is refused', () => {
  const w = new ExpositionWriter();
  w.family('thing', 'untyped', 'h');
  const { text, openMetrics } = decode(w.finish());
  assert.ok(openMetrics.includes('# TYPE thing unknown\n'));
  assert.ok(text.includes('# TYPE thing untyped\n'));
  assert.throws(() => new ExpositionWriter().family('bad', 'counter', 'h'), /must end in _total/);
});

test('OpenMetrics and text carry the same samples', () => {
  const input = expositionInput({ samples: [sample(3, 'a"b'), sample(4, 'veth0')] });
  const strip = (t: string): string[] => t.split('\n').filter((l) => l && !l.startsWith('#'));
  const { text, openMetrics } = renderToStrings(input);
  assert.deepEqual(strip(openMetrics), strip(text));
});

function decode(r: { text: Buffer; openMetrics: readonly Buffer[] }): { text: string; openMetrics: string } {
  return { text: r.text.toString(), openMetrics: Buffer.concat(r.openMetrics).toString() };
}
