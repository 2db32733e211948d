/**
 * The benchmark summary in docs/benchmarks.md (bench/lib/report.ts): a run
 * of some parts replaces their rows and keeps every other part's, in the
 * doc's part order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergedSummary, type PartResult } from '../../bench/lib/report.js';

const part = (title: string, verdicts: Array<[string, string, boolean]>): PartResult => ({
  part: title,
  title: `${title} — something`,
  tables: [],
  notes: [],
  verdicts: verdicts.map(([target, result, met]) => ({ target, result, met })),
  data: {},
  seconds: 1,
});

const previous = [
  '| part | target | result | met |',
  '| --- | --- | --- | --- |',
  '| Part 1 | counting ≤ 1.3× | 1.14× | yes |',
  '| Part 1c | storm ≤ 5% | 0.91× | **no** |',
  '| Part 1c | run time | 4.2× | – |',
  '| Part 2 | TCP | 1.0× | yes |',
  '| Part 10 | adoption < 1 s | 0.3 s | yes |',
].join('\n');

test('a run of one part replaces its rows and keeps the others, in part order', () => {
  const merged = mergedSummary(previous, [
    part('Part 1c', [['storm ≤ 5%', '0.94×', false]]),
    part('Part 1b', [['socket ≤ 1.5×', '1.28×', true]]),
  ]);
  assert.deepEqual(merged.split('\n'), [
    '| part | target | result | met |',
    '| --- | --- | --- | --- |',
    '| Part 1 | counting ≤ 1.3× | 1.14× | yes |',
    '| Part 1b | socket ≤ 1.5× | 1.28× | yes |',
    '| Part 1c | storm ≤ 5% | 0.94× | **no** |',
    '| Part 2 | TCP | 1.0× | yes |',
    '| Part 10 | adoption < 1 s | 0.3 s | yes |',
  ]);
});

test('with no previous table the rows are those of the results', () => {
  assert.deepEqual(
    mergedSummary('', [part('Part 2', [['TCP', '1.1×', true]])])
      .split('\n')
      .slice(2),
    ['| Part 2 | TCP | 1.1× | yes |'],
  );
});
