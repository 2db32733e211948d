/**
 * `netprobe top`: the overview in a terminal. Reads a running exporter's
 * /api/v1/overview (TLS and basic auth like a scraper's) and shows its
 * interfaces sorted by bytes/s, refreshing in place; `--once` prints one
 * plain table and exits (scripts, tests). A failure to read the exporter is
 * one line on stderr and exit 1, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { gunzipSync } from 'node:zlib';
import { NetprobeError } from '../errors/index.js';
import { OVERVIEW_API_PATH, type OverviewDocument } from '../exposition/overview-document.js';
import { SORT_KEYS, headerLines, renderOnce, tableLines, terminalSafe, type TopSort, type TopView } from './top-table.js';

export const TOP_USAGE = `Usage: netprobe top [options]
  A live view of a running netprobe's interfaces, busiest first.

  --url=<url>                 the exporter (default http://127.0.0.1:8081)
  --once                      print one table and exit
  --interval=<seconds>        refresh period (default 2)
  --tls.ca-file=<file>        CA certificate(s) to trust for https
  --tls.insecure-skip-verify  do not verify the server certificate
  --tls.cert-file=<file>      client certificate (mutual TLS)
  --tls.key-file=<file>       client key
  --tls.server-name=<name>    name to verify the certificate against
  --auth.username=<name>      basic auth user
  --auth.password=<password>  basic auth password (prefer --auth.password-file)
  --auth.password-file=<file> basic auth password, read from a file
  -h, --help                  this help

Keys: b bytes/s · i in · o out · p packets/s · n name · / filter (Enter keeps, Esc clears) · q quit
`;

export interface TopOptions {
  url: URL;
  once: boolean;
  intervalMs: number;
  ca?: Buffer;
  insecureSkipVerify: boolean;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
  username?: string;
  password?: string;
}

/** A problem with the command line: printed as is, exit 2. */
export class TopUsageError extends Error {}

const VALUE_FLAGS = new Set([
  'url',
  'interval',
  'tls.ca-file',
  'tls.cert-file',
  'tls.key-file',
  'tls.server-name',
  'auth.username',
  'auth.password',
  'auth.password-file',
]);
const BOOLEAN_FLAGS = new Set(['once', 'tls.insecure-skip-verify', 'help']);

function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new TopUsageError(`--${flag}=${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

/** Parses `top`'s own flags; throws TopUsageError naming the bad flag. Returns undefined for --help. */
export function parseTopArgs(argv: readonly string[]): TopOptions | undefined {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h') return undefined;
    const m = /^--([a-z.-]+)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new TopUsageError(`unexpected argument ${JSON.stringify(arg)}; see netprobe top --help`);
    const [, name, inline] = m as unknown as [string, string, string | undefined];
    if (BOOLEAN_FLAGS.has(name)) {
      if (inline !== undefined && inline !== 'true') throw new TopUsageError(`--${name} takes no value`);
      flags.add(name);
    } else if (VALUE_FLAGS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new TopUsageError(`--${name} needs a value`);
      values.set(name, value);
    } else {
      throw new TopUsageError(`unknown flag --${name}; see netprobe top --help`);
    }
  }
  if (flags.has('help')) return undefined;

  const rawUrl = values.get('url') ?? 'http://127.0.0.1:8081';
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl) ? rawUrl : `http://${rawUrl}`);
  } catch {
    throw new TopUsageError(`--url=${rawUrl}: not a URL (example: --url=https://node1:8081)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TopUsageError(`--url=${rawUrl}: use http:// or https://`);
  const interval = Number(values.get('interval') ?? '2');
  if (!Number.isFinite(interval) || interval < 0.2 || interval > 3600)
    throw new TopUsageError(`--interval=${values.get('interval')}: seconds between 0.2 and 3600`);
  const passwordFile = values.get('auth.password-file');
  const password = passwordFile
    ? readFlagFile('auth.password-file', passwordFile)
        .toString('utf8')
        .replace(/\r?\n$/, '')
    : values.get('auth.password');
  const username = values.get('auth.username');
  if (password !== undefined && username === undefined) throw new TopUsageError('--auth.password(-file) needs --auth.username');
  const file = (flag: string): Buffer | undefined => {
    const path = values.get(flag);
    return path === undefined ? undefined : readFlagFile(flag, path);
  };
  return {
    url,
    once: flags.has('once'),
    intervalMs: Math.round(interval * 1000),
    ca: file('tls.ca-file'),
    cert: file('tls.cert-file'),
    key: file('tls.key-file'),
    serverName: values.get('tls.server-name'),
    insecureSkipVerify: flags.has('tls.insecure-skip-verify'),
    username,
    password: username === undefined ? undefined : (password ?? ''),
  };
}

export interface FetchedOverview {
  doc: OverviewDocument;
  /** The server's clock minus ours (from the Date header), to age the last collection. */
  clockOffsetMs: number;
}

const TLS_HINT = 'trust its CA with --tls.ca-file (or --tls.insecure-skip-verify for a test), and check --tls.server-name';

/** OpenSSL's reason out of its `<code>:error:<lib>:<func>:<reason>:<file>:<line>:…` form, on one line; other messages as they are. */
function tlsReason(message: string): string {
  return (/:SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? message).trim().replace(/\s*\n\s*/g, ' ');
}

/** One GET of the overview document; every failure is a NetprobeError (NP_ERR_TOP_FETCH) saying what went wrong. */
export function fetchOverview(opts: TopOptions, timeoutMs = 5000): Promise<FetchedOverview> {
  const target = new URL(OVERVIEW_API_PATH, opts.url);
  const where = opts.url.origin;
  const headers: Record<string, string> = { Accept: 'application/json', 'Accept-Encoding': 'gzip', 'User-Agent': 'netprobe-top' };
  if (opts.username !== undefined)
    headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
  const fail = (message: string, hint?: string, cause?: unknown): NetprobeError =>
    new NetprobeError('NP_ERR_TOP_FETCH', `cannot read ${where}: ${message}`, { ...(hint ? { hint } : {}), cause });
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', (e) => reject(fail(`the response broke off (${e.message})`, undefined, e)));
      res.once('end', () => {
        const status = res.statusCode ?? 0;
        if (status === 401 || status === 403)
          return reject(
            fail(
              `the exporter refused the credentials (HTTP ${status})`,
              opts.username === undefined
                ? 'it asks for basic auth: pass --auth.username and --auth.password-file'
                : 'check --auth.username and the password',
            ),
          );
        if (status === 404)
          return reject(fail(`it has no ${OVERVIEW_API_PATH} (HTTP 404)`, 'is --url a netprobe exporter of version 0.2 or later?'));
        if (status !== 200) return reject(fail(`HTTP ${status} from ${OVERVIEW_API_PATH}`));
        let doc: OverviewDocument;
        try {
          let body = Buffer.concat(chunks);
          if (res.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
          doc = JSON.parse(body.toString('utf8')) as OverviewDocument;
        } catch (error) {
          return reject(fail('the answer is not the overview JSON', 'is --url a netprobe exporter?', error));
        }
        if (doc?.schema !== 1 || !Array.isArray(doc.interfaces))
          return reject(fail('the answer is not a netprobe overview document (schema 1)', 'is --url a netprobe exporter?'));
        const date = res.headers.date ? Date.parse(res.headers.date) : NaN;
        resolve({ doc, clockOffsetMs: Number.isNaN(date) ? 0 : date + 500 - Date.now() });
      });
    };
    const common = { method: 'GET', headers, timeout: timeoutMs };
    const req =
      target.protocol === 'https:'
        ? httpsRequest(
            target,
            {
              ...common,
              ca: opts.ca,
              cert: opts.cert,
              key: opts.key,
              servername: opts.serverName,
              rejectUnauthorized: !opts.insecureSkipVerify,
            },
            onResponse,
          )
        : httpRequest(target, common, onResponse);
    req.once('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code ?? '';
      if (code === 'ECONNREFUSED') reject(fail('connection refused', 'is netprobe running there? check --url', error));
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') reject(fail(`unknown host ${opts.url.hostname}`, 'check --url', error));
      else if (code === 'ETIMEDOUT') reject(fail(`no answer within ${timeoutMs / 1000} s`, 'check --url and the network path', error));
      else if (code === 'ECONNRESET' && target.protocol === 'http:')
        reject(fail('the connection was reset', 'does it serve https? try --url=https://...', error));
      else if (/CERTIFICATE_REQUIRED/i.test(code) || /certificate required/i.test(error.message))
        reject(
          fail(
            `TLS failed: ${tlsReason(error.message)}`,
            opts.cert
              ? 'it did not accept the client certificate: check --tls.cert-file against its client_ca_file'
              : 'it asks for a client certificate: pass --tls.cert-file and --tls.key-file',
            error,
          ),
        );
      else if (/CERT|SSL|TLS|SELF_SIGNED|ALTNAME|UNABLE_TO/i.test(code) || /certificate|SSL|TLS/i.test(error.message))
        reject(fail(`TLS failed: ${tlsReason(error.message)}`, TLS_HINT, error));
      else reject(fail(`${code || 'error'}: ${error.message}`, undefined, error));
    });
    req.end();
  });
}

/** Runs `netprobe top`; resolves with the exit status. */
export async function runTop(
  argv: readonly string[],
  io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Promise<number> {
  let opts: TopOptions | undefined;
  try {
    opts = parseTopArgs(argv);
  } catch (error) {
    if (!(error instanceof TopUsageError)) throw error;
    io.stderr.write(`netprobe top: ${error.message}\n`);
    return 2;
  }
  if (!opts) {
    io.stdout.write(TOP_USAGE);
    return 0;
  }
  let first: FetchedOverview;
  try {
    first = await fetchOverview(opts);
  } catch (error) {
    io.stderr.write(`netprobe top: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const url = opts.url.origin;
  if (opts.once || !io.stdout.isTTY || !io.stdin.isTTY) {
    io.stdout.write(renderOnce(first.doc, { sort: 'bytes', filter: '', url, lastCollectionAgeMs: ageOf(first) }));
    return 0;
  }
  return interactive(opts, first, io);
}

function ageOf(f: FetchedOverview): number | undefined {
  const last = f.doc.trust.lastCollection;
  return last === null ? undefined : Math.max(0, Date.now() + f.clockOffsetMs - last);
}

const SORT_NAMES: Record<TopSort, string> = { bytes: 'bytes/s', in: 'in B/s', out: 'out B/s', packets: 'packets/s', name: 'name' };

/** The full-screen view: alternate screen, redrawn in place, keys read raw. */
function interactive(
  opts: TopOptions,
  first: FetchedOverview,
  io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; stdin: NodeJS.ReadStream },
): Promise<number> {
  const { stdout, stdin } = io;
  let current = first;
  let error = '';
  let sort: TopSort = 'bytes';
  let filter = '';
  let editing: string | undefined; // the filter being typed after '/'
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const draw = (): void => {
    const cols = stdout.columns || 100;
    const rows = stdout.rows || 30;
    const view: TopView = { sort, filter, url: opts.url.origin, lastCollectionAgeMs: ageOf(current) };
    const header = headerLines(current.doc, view);
    const prompt =
      editing !== undefined
        ? `filter: ${terminalSafe(editing)}_  (Enter keeps, Esc clears)`
        : `sort: ${SORT_NAMES[sort]}${filter ? ` · filter: ${terminalSafe(filter)}` : ''} · keys: b i o p n sort, / filter, q quit`;
    const status = error ? `! refresh failed: ${error} (showing the last data; retrying)` : prompt;
    const table = tableLines(current.doc, { ...view, maxRows: Math.max(1, rows - header.length - 3) });
    const lines = [...header, status, '', ...table].map((l, i) => {
      const clipped = [...l].slice(0, cols).join('');
      // Reverse video for the column titles; bold red for problems.
      if (i === header.length + 2) return `\x1b[7m${clipped.padEnd(cols)}\x1b[0m`;
      if (l.startsWith('PROBLEM') || l.startsWith('!')) return `\x1b[1;31m${clipped}\x1b[0m`;
      return clipped;
    });
    stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\r\n')}\x1b[J`);
  };

  const schedule = (): void => {
    timer = setTimeout(() => {
      fetchOverview(opts)
        .then(
          (f) => {
            current = f;
            error = '';
          },
          (e: unknown) => {
            error = e instanceof Error ? e.message : String(e);
          },
        )
        .finally(() => {
          if (stopped) return;
          draw();
          schedule();
        });
    }, opts.intervalMs);
  };

  return new Promise((resolve) => {
    const finish = (code: number): void => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      stdin.off('data', onKey);
      stdout.off('resize', draw);
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
      stdout.write('\x1b[?25h\x1b[?1049l');
      resolve(code);
    };
    const onSignal = (): void => finish(0);
    const onKey = (data: Buffer): void => {
      const key = data.toString('utf8');
      if (editing !== undefined) {
        if (key === '\r' || key === '\n') {
          filter = editing;
          editing = undefined;
        } else if (key === '\x1b') {
          filter = '';
          editing = undefined;
        } else if (key === '\x7f' || key === '\b') {
          editing = [...editing].slice(0, -1).join('');
        } else if (key === '\x03') {
          return finish(0);
        } else {
          // eslint-disable-next-line no-control-regex
          editing += key.replace(/[\u0000-\u001f\u007f]/g, '');
        }
        filter = editing ?? filter;
        return draw();
      }
      if (key === 'q' || key === 'Q' || key === '\x03') return finish(0);
      if (key === '/') editing = '';
      else if (key === '\x1b') filter = '';
      else if (SORT_KEYS[key]) sort = SORT_KEYS[key];
      draw();
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onKey);
    stdout.on('resize', draw);
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    stdout.write('\x1b[?1049h\x1b[?25l');
    draw();
    schedule();
  });
}
