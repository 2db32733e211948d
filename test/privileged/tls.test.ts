/**
 * TLS, mutual TLS and basic auth from an exporter-toolkit web config file, on
 * the real CLI inside a test namespace: HTTPS scrapes work, plain HTTP to the
 * TLS port gets no answer, wrong or missing credentials get 401 with a Basic
 * challenge, a real Prometheus scrapes with TLS + client certificate + basic
 * auth, and no endpoint or log line reveals a secret.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { Netns } from '../support/netns.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';
import { probe } from '../support/netns-http.js';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import type { LoadResult, RawRequest, RawResult, TlsClient } from '../support/netns-http.js';

const PASSWORD = 'correct horse battery staple';
let dir: string;
let pki: TestPki;
let ns: Netns;
let netprobe: NetprobeProcess;
let hash: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'np-tls-'));
  pki = await makeTestPki(dir);
  ns = await Netns.create('nptls');
  // Cost 10, as htpasswd -B makes them: the cache must make repeated scrapes cheap.
  hash = bcrypt.hashSync(PASSWORD, 10);
  await writeFile(
    join(dir, 'web.yml'),
    [
      'tls_server_config:',
      '  cert_file: server.crt',
      '  key_file: server.key',
      '  client_auth_type: RequireAndVerifyClientCert',
      '  client_ca_file: np-test-ca.crt',
      'http_server_config:',
      '  headers:',
      '    X-Content-Type-Options: nosniff',
      'basic_auth_users:',
      `  prometheus: ${hash}`,
      '',
    ].join('\n'),
  );
  netprobe = await startNetprobe(ns, [`--web.config.file=${join(dir, 'web.yml')}`, '--collector.interval=1s', '--log.level=debug']);
});

after(async () => {
  await netprobe?.stop();
  await ns?.delete();
  await rm(dir, { recursive: true, force: true });
});

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const clientTls = (): TlsClient => ({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });

function request(path: string, opts: { auth?: string; tls?: TlsClient | null } = {}): RawRequest {
  return {
    host: '127.0.0.1',
    port: netprobe.port,
    tls: opts.tls === null ? undefined : (opts.tls ?? clientTls()),
    raw: `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${opts.auth ? `Authorization: ${opts.auth}\r\n` : ''}\r\n`,
    timeoutMs: 10_000,
  };
}

test('HTTPS with client certificate and the right password serves every endpoint', async () => {
  const [metrics, health, root] = await probe<RawResult[]>(ns, {
    kind: 'requests',
    requests: ['/metrics', '/health', '/'].map((p) => request(p, { auth: basic('prometheus', PASSWORD) })),
  });
  assert.equal(metrics?.status, 200, JSON.stringify(metrics));
  assert.match(metrics.body, /^# HELP netprobe_/m);
  assert.equal(metrics?.headers['x-content-type-options'], 'nosniff');
  assert.equal(health?.status, 200);
  assert.equal(root?.status, 200);
});

test('wrong, unknown or missing credentials get 401 with a Basic challenge on every route', async () => {
  const cases = [
    undefined,
    basic('prometheus', 'wrong'),
    basic('root', PASSWORD),
    basic('prometheus', `${PASSWORD} `),
    'Bearer abc',
    'Basic %%%',
  ];
  const requests = ['/metrics', '/health', '/'].flatMap((p) => cases.map((auth) => request(p, { auth })));
  const results = await probe<RawResult[]>(ns, { kind: 'requests', requests });
  for (const [i, r] of results.entries()) {
    assert.equal(r.status, 401, `request ${i}: ${JSON.stringify(r)}`);
    assert.match(r.headers['www-authenticate'] ?? '', /^Basic realm=/);
    assert.doesNotMatch(r.body, /netprobe_up|"status"/, 'a 401 must not carry data');
  }
});

test('plain HTTP to the TLS port, or TLS without a client certificate, gets no HTTP answer', async () => {
  const [plain, noCert, rogue] = await probe<RawResult[]>(ns, {
    kind: 'requests',
    requests: [
      request('/metrics', { auth: basic('prometheus', PASSWORD), tls: null }),
      request('/metrics', { auth: basic('prometheus', PASSWORD), tls: { ca: pki.caCert } }),
      request('/metrics', {
        auth: basic('prometheus', PASSWORD),
        tls: { ca: pki.caCert, cert: join(dir, 'rogue.crt'), key: join(dir, 'rogue.key') },
      }),
    ],
  });
  for (const r of [plain, noCert, rogue]) {
    assert.notEqual(r?.status, 200, JSON.stringify(r));
    assert.doesNotMatch(r?.body ?? '', /netprobe_up/);
  }
  assert.equal(plain?.status, undefined, 'plain HTTP must not get an HTTP response');
});

test('repeated authorized scrapes all succeed (bcrypt result cached)', async (t) => {
  const load = await probe<LoadResult>(ns, {
    kind: 'load',
    url: `https://127.0.0.1:${netprobe.port}/metrics`,
    concurrency: 4,
    durationMs: 3000,
    tls: clientTls(),
    auth: basic('prometheus', PASSWORD),
  });
  assert.equal(load.failed, 0, JSON.stringify(load.errors));
  assert.equal(load.malformed, 0, JSON.stringify(load.errors));
  assert.ok(load.scrapes > 10, `only ${load.scrapes} scrapes in 3 s`);
  t.diagnostic(
    `${load.scrapes} HTTPS+mTLS+basic-auth scrapes in 3 s by 4 clients, 0 failed, max latency ${load.maxLatencyMs.toFixed(0)} ms`,
  );
});

test('a real Prometheus scrapes it with TLS, a client certificate and basic auth', async (t) => {
  const promDir = join(dir, 'prometheus');
  await writeFile(join(dir, 'password'), PASSWORD);
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, scrape_timeout: 1s }',
      'scrape_configs:',
      '  - job_name: netprobe',
      '    scheme: https',
      '    tls_config:',
      `      ca_file: ${pki.caCert}`,
      `      cert_file: ${pki.clientCert}`,
      `      key_file: ${pki.clientKey}`,
      '      server_name: localhost',
      '    basic_auth:',
      '      username: prometheus',
      `      password_file: ${join(dir, 'password')}`,
      `    static_configs: [{ targets: ["127.0.0.1:${netprobe.port}"] }]`,
      '',
    ].join('\n'),
  );
  const prom = ns.spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${promDir}`,
    '--web.listen-address=127.0.0.1:9090',
    '--log.level=warn',
  ]);
  let promLog = '';
  prom.stderr?.on('data', (c: Buffer) => (promLog += c.toString()));
  const promExited = new Promise((r) => prom.once('exit', r));
  t.after(async () => {
    prom.kill('SIGTERM');
    await promExited;
  });

  let target: { health?: string; lastError?: string } | undefined;
  let up: string | undefined;
  for (let i = 0; i < 40 && !(target?.health === 'up' && up === '1'); i++) {
    await new Promise((r) => setTimeout(r, 500));
    const [targets, query] = await probe<RawResult[]>(ns, {
      kind: 'requests',
      requests: ['/api/v1/targets', '/api/v1/query?query=netprobe_up'].map((p) => ({
        host: '127.0.0.1',
        port: 9090,
        raw: `GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        timeoutMs: 3000,
      })),
    });
    if (targets?.status !== 200 || query?.status !== 200) continue;
    target = (JSON.parse(dechunk(targets.body)) as { data: { activeTargets: Array<{ health: string; lastError: string }> } }).data
      .activeTargets[0];
    up = (JSON.parse(dechunk(query.body)) as { data: { result: Array<{ value: [number, string] }> } }).data.result[0]?.value[1];
  }
  assert.equal(target?.health, 'up', `target: ${JSON.stringify(target)}\n${promLog}`);
  assert.equal(target?.lastError, '');
  assert.equal(up, '1');
  t.diagnostic(`Prometheus target up with TLS + client certificate + basic auth`);
});

test('no endpoint and no log line reveals a secret', async () => {
  const [health, root, metrics] = await probe<RawResult[]>(ns, {
    kind: 'requests',
    requests: ['/health', '/', '/metrics'].map((p) => request(p, { auth: basic('prometheus', PASSWORD) })),
  });
  const key = await readFile(pki.serverKey, 'utf8');
  const keyBody = key.split('\n').find((l) => l.length > 40) ?? key;
  const secrets = [hash, hash.slice(7), PASSWORD, keyBody, Buffer.from(`prometheus:${PASSWORD}`).toString('base64')];
  for (const [where, text] of [
    ['/health', health?.body],
    ['/', root?.body],
    ['/metrics', metrics?.body],
    ['logs', netprobe.output()],
  ] as const) {
    for (const s of secrets) assert.ok(!(text ?? '').includes(s), `${where} reveals a secret`);
  }
  assert.ok(netprobe.output().length > 0);
});

/** Prometheus answers with chunked encoding; our raw client keeps the framing. */
function dechunk(body: string): string {
  if (body.startsWith('{')) return body;
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}
