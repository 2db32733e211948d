import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

test('parses Go/Prometheus-style durations into milliseconds', () => {
  const cases: Array<[string, number]> = [
    ['500ms', 500],
    ['5s', 5_000],
    ['1m', 60_000],
    ['1h30m', 5_400_000],
    ['2h45m30s250ms', 2 * 3_600_000 + 45 * 60_000 + 30_000 + 250],
    ['1.5s', 1_500],
    ['1.1s', 1_100],
    ['1d', 86_400_000],
    [' 10s ', 10_000],
    ['0s', 0],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('refuses what is not a duration, including bare numbers and sub-millisecond parts', () => {
  for (const text of ['', '5', '5 s', 's', '5S', '1h 30m', '-5s', '1.5ms', '5sec', '1e3ms', 'ms5', '5s5']) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

test('formats milliseconds as the shortest duration text, and round-trips', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [250, '250ms'],
    [5_000, '5s'],
    [300_000, '5m'],
    [5_400_000, '1h30m'],
    [3_601_001, '1h1s1ms'],
  ];
  for (const [ms, text] of cases) {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  }
});
