/**
 * HTTP load with Debian's `wrk`, run inside a benchmark namespace against the
 * namespace's loopback: bounded in time, one thread, like a scraper that asks
 * again as soon as it has an answer.
 */
import type { Netns } from '../../test/support/netns.js';

export interface WrkResult {
  requests: number;
  seconds: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  /** Non-2xx responses and socket errors. */
  errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`wrk: cannot read duration ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** Reads wrk's `--latency` report. Pure. */
export function parseWrk(out: string): WrkResult {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m),/.exec(out);
  const p50 = /^\s+50%\s+(\S+)\s*$/m.exec(out);
  const p99 = /^\s+99%\s+(\S+)\s*$/m.exec(out);
  if (!done || !p50 || !p99) throw new Error(`wrk: unexpected output:\n${out}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return {
    requests: Number(done[1]),
    seconds: parseDuration(`${done[2]}${done[3]}`) / 1000,
    p50: parseDuration(p50[1]!),
    p99: parseDuration(p99[1]!),
    errors,
  };
}

/** Runs wrk for `seconds` with gzip accepted (as Prometheus scrapes). */
export async function runWrk(ns: Netns, url: string, opts: { seconds: number; connections: number }): Promise<WrkResult> {
  const out = await ns.exec(
    'wrk',
    ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '10s', '--latency', '-H', 'Accept-Encoding: gzip', url],
    (opts.seconds + 30) * 1000,
  );
  return parseWrk(out);
}
