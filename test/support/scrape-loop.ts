/**
 * Continuous scraping from inside a test namespace: one child process GETs
 * the URL every `intervalMs` and reports each scrape (status, and the body's
 * lines matching `keep`) as a JSON line. The test reads every scrape, waits
 * for a fresh one, and ends the child by its PID.
 */
import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

export interface Scrape {
  /** Wall-clock ms when the request was sent. */
  at: number;
  status: number;
  error?: string;
  /** Body lines that matched `keep`. */
  lines: string[];
}

const SCRIPT = `
const http = require('node:http');
const [url, intervalMs, keep] = [process.argv[1], Number(process.argv[2]), new RegExp(process.argv[3])];
const once = () => {
  const at = Date.now();
  const done = (status, error, body) => {
    process.stdout.write(JSON.stringify({ at, status, error, lines: body ? body.split('\\n').filter((l) => keep.test(l)) : [] }) + '\\n');
    setTimeout(once, Math.max(0, intervalMs - (Date.now() - at)));
  };
  const req = http.get(url, { timeout: 10000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c) => (body += c));
    res.on('end', () => done(res.statusCode, undefined, body));
    res.on('error', (e) => done(0, e.message));
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (e) => done(0, e.message));
};
once();`;

export class ScrapeLoop {
  readonly scrapes: Scrape[] = [];
  private readonly child: ChildProcess;
  private waiters: Array<() => void> = [];

  constructor(ns: Netns, url: string, opts: { intervalMs?: number; keep?: RegExp } = {}) {
    this.child = ns.spawn(process.execPath, ['-e', SCRIPT, url, String(opts.intervalMs ?? 250), (opts.keep ?? /^netprobe_/).source]);
    let buffered = '';
    this.child.stdout?.on('data', (c: Buffer) => {
      buffered += c.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        this.scrapes.push(JSON.parse(line) as Scrape);
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  /** The first scrape sent after this call. */
  async fresh(timeoutMs = 15_000): Promise<Scrape> {
    const since = Date.now();
    const deadline = since + timeoutMs;
    for (;;) {
      const s = this.scrapes.findLast((x) => x.at >= since);
      if (s) return s;
      if (Date.now() > deadline) throw new Error('no scrape arrived');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 500);
      });
    }
  }

  /** Polls fresh scrapes until `check` returns a value (not undefined); fails after `timeoutMs`. */
  async until<T>(check: (s: Scrape) => T | undefined, timeoutMs = 15_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.fresh();
      const v = check(s);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last scrape: ${JSON.stringify(s).slice(0, 3000)}`);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** The value of `name{labels...}` among scraped lines (labels must all match); undefined if absent. */
export function valueIn(lines: readonly string[], name: string, labels: Record<string, string>): number | undefined {
  for (const line of lines) {
    if (!line.startsWith(`${name}{`)) continue;
    const brace = line.lastIndexOf('}');
    const labelText = line.slice(name.length + 1, brace);
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(line.slice(brace + 2));
  }
  return undefined;
}
