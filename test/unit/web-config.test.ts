import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import bcrypt from 'bcryptjs';
import { loadWebConfig, parseWebConfig, webConfigToServerOptions, WebConfigError } from '../../src/http/web-config.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

let dir: string;
let pki: TestPki;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'np-webcfg-'));
  pki = await makeTestPki(dir);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WebConfigError, `expected WebConfigError, got ${String(e)}`);
    assert.equal(e.code, 'NP_ERR_WEB_CONFIG');
    return [...e.problems];
  }
  assert.fail('expected a WebConfigError');
}

test('an empty file, or an empty tls section, means plain HTTP without auth', () => {
  for (const text of ['', '---\n', 'tls_server_config: {}\n', 'tls_server_config:\n  cert_file: ""\n']) {
    const cfg = parseWebConfig(text, '/etc/netprobe');
    assert.equal(cfg.tls, undefined, JSON.stringify(text));
    assert.equal(cfg.basicAuthUsers.size, 0);
  }
});

test('a tls section with settings but no certificate is an error, not silent plain HTTP', () => {
  for (const text of [
    'tls_server_config: {min_version: TLS13}',
    'tls_server_config: {min_version: TLS14}',
    'tls_server_config: {client_auth_type: RequireAnyClientCert}',
  ]) {
    const problems = problemsOf(() => parseWebConfig(text, '/x'));
    assert.ok(
      problems.some((p) => p.startsWith('tls_server_config.cert_file:')),
      `${text}: ${JSON.stringify(problems)}`,
    );
  }
  assert.ok(
    problemsOf(() => parseWebConfig('tls_server_config: {min_version: TLS14}', '/x')).some((p) =>
      p.startsWith('tls_server_config.min_version:'),
    ),
  );
});

test('paths are relative to the config file directory and Go TLS names are mapped', () => {
  const cfg = parseWebConfig(
    [
      'tls_server_config:',
      '  cert_file: certs/server.crt',
      '  key_file: /abs/server.key',
      '  client_auth_type: RequireAndVerifyClientCert',
      '  client_ca_file: ../ca.crt',
      '  min_version: TLS13',
      '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]',
      '  curve_preferences: [X25519, CurveP256]',
      '  prefer_server_cipher_suites: true',
    ].join('\n'),
    '/etc/netprobe',
  );
  assert.ok(cfg.tls);
  assert.equal(cfg.tls.certFile, '/etc/netprobe/certs/server.crt');
  assert.equal(cfg.tls.keyFile, '/abs/server.key');
  assert.equal(cfg.tls.clientCaFile, '/etc/ca.crt');
  assert.equal(cfg.tls.minVersion, 'TLSv1.3');
  assert.equal(cfg.tls.ciphers, 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305');
  assert.equal(cfg.tls.ecdhCurve, 'X25519:P-256');
  assert.equal(cfg.tls.honorCipherOrder, true);
  assert.equal(cfg.tls.clientAuthType, 'RequireAndVerifyClientCert');
});

test('the default minimum is TLS 1.2, like exporter-toolkit', () => {
  const cfg = parseWebConfig('tls_server_config: {cert_file: a, key_file: b}', '/x');
  assert.equal(cfg.tls?.minVersion, 'TLSv1.2');
});

test('every problem is reported at once, each naming its key', () => {
  const problems = problemsOf(() =>
    parseWebConfig(
      [
        'tls_server_config:',
        '  cert_file: a.crt',
        '  client_auth_type: RequireSomething',
        '  min_version: TLS14',
        '  max_version: TLS10',
        '  cipher_suites: [TLS_FOO]',
        '  cert_fiel: typo',
        'http_server_config:',
        '  headers:',
        '    X-Powered-By: netprobe',
        '    X-Frame-Options: "deny\\r\\nSet-Cookie: a=b"',
        'basic_auth_users:',
        '  alice: plaintext-secret',
        '  "bo:b": $2y$04$abcdefghijklmnopqrstuuN1bYPOx3ZqVNCqEanmfTpOeAQCRyqjq',
        'listen: ":9100"',
      ].join('\n'),
      '/x',
    ),
  );
  const keys = [
    'listen',
    'tls_server_config.cert_fiel',
    'tls_server_config.key_file',
    'tls_server_config.client_auth_type',
    'tls_server_config.min_version',
    'tls_server_config.cipher_suites',
    'http_server_config.headers.X-Powered-By',
    'http_server_config.headers.X-Frame-Options',
    'basic_auth_users.alice',
    'basic_auth_users.bo:b',
  ];
  for (const k of keys)
    assert.ok(
      problems.some((p) => p.startsWith(`${k}:`)),
      `no problem for ${k} in ${JSON.stringify(problems)}`,
    );
  assert.ok(!problems.join('\n').includes('plaintext-secret'), 'a rejected password hash must never be echoed');
});

test('mTLS rules: a verifying mode needs a CA; a CA needs a mode', () => {
  assert.ok(
    problemsOf(() =>
      parseWebConfig('tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}', '/x'),
    ).some((p) => p.startsWith('tls_server_config.client_ca_file:')),
  );
  assert.ok(
    problemsOf(() => parseWebConfig('tls_server_config: {cert_file: a, key_file: b, client_ca_file: ca}', '/x')).some((p) =>
      p.startsWith('tls_server_config.client_auth_type:'),
    ),
  );
});

test('malformed YAML, duplicate keys and wrong shapes are errors, not crashes', () => {
  for (const text of [
    'tls_server_config: [',
    'a: 1\na: 2',
    '- list',
    'tls_server_config: 3',
    'basic_auth_users: [a]',
    'http_server_config: {headers: 1}',
  ]) {
    assert.ok(problemsOf(() => parseWebConfig(text, '/x')).length > 0, text);
  }
});

test('loadWebConfig reads the files, and a missing file or a key that does not match is a clear error', async () => {
  const file = join(dir, 'web.yml');
  await writeFile(file, `tls_server_config:\n  cert_file: ${pki.serverCert.slice(dir.length + 1)}\n  key_file: ${pki.serverKey}\n`);
  const cfg = await loadWebConfig(file);
  assert.ok(cfg.tlsMaterial?.cert.toString().includes('BEGIN CERTIFICATE'));

  await writeFile(file, 'tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n');
  const missing = await loadWebConfig(file).then(
    () => [],
    (e: WebConfigError) => [...e.problems],
  );
  assert.ok(
    missing.some((p) => p.startsWith('tls_server_config.cert_file:') && p.includes('ENOENT')),
    JSON.stringify(missing),
  );

  await writeFile(file, `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.clientKey}\n`);
  await assert.rejects(loadWebConfig(file), (e: WebConfigError) => e.code === 'NP_ERR_WEB_CONFIG' && /cannot be used/.test(e.message));

  await assert.rejects(loadWebConfig(join(dir, 'absent.yml')), (e: WebConfigError) => e.problems[0]?.includes('ENOENT') === true);
});

async function serve(file: string, body: string): Promise<{ port: number; close: () => Promise<void> }> {
  const opts = webConfigToServerOptions(await loadWebConfig(file));
  const server = https.createServer({ ...opts.tls }, (req, res) => {
    void Promise.resolve(opts.authorize ? opts.authorize(req) : true).then((ok) => {
      if (!ok) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="netprobe"' }).end();
        return;
      }
      res.writeHead(200, { ...opts.headers }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function get(
  port: number,
  opts: https.RequestOptions = {},
): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/', ca: pki.caPem, servername: 'localhost', agent: false, ...opts },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('server options: TLS with mTLS (RequireAndVerifyClientCert) and extra headers', async (t) => {
  const file = join(dir, 'mtls.yml');
  await writeFile(
    file,
    [
      'tls_server_config:',
      `  cert_file: ${pki.serverCert}`,
      `  key_file: ${pki.serverKey}`,
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca_file: ${pki.caCert}`,
      'http_server_config:',
      '  headers: { strict-transport-security: max-age=60 }',
    ].join('\n'),
  );
  const srv = await serve(file, 'secret-ok');
  t.after(srv.close);
  const ok = await get(srv.port, { cert: pki.clientCertPem, key: pki.clientKeyPem });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'secret-ok');
  assert.equal(ok.headers['strict-transport-security'], 'max-age=60');
  await assert.rejects(get(srv.port), 'a client without a certificate must fail the handshake');
  await assert.rejects(get(srv.port, { cert: pki.rogueCertPem, key: pki.rogueKeyPem }), 'a certificate from another CA must fail');
});

test('server options: RequireAnyClientCert and VerifyClientCertIfGiven are enforced per request', async (t) => {
  for (const mode of ['RequireAnyClientCert', 'VerifyClientCertIfGiven'] as const) {
    const file = join(dir, `${mode}.yml`);
    await writeFile(
      file,
      `tls_server_config: {cert_file: ${pki.serverCert}, key_file: ${pki.serverKey}, client_auth_type: ${mode}, client_ca_file: ${pki.caCert}}\n`,
    );
    const srv = await serve(file, 'ok');
    t.after(srv.close);
    const none = await get(srv.port);
    const rogue = await get(srv.port, { cert: pki.rogueCertPem, key: pki.rogueKeyPem });
    const good = await get(srv.port, { cert: pki.clientCertPem, key: pki.clientKeyPem });
    if (mode === 'RequireAnyClientCert') {
      assert.deepEqual([none.status, rogue.status, good.status], [401, 200, 200], mode);
    } else {
      assert.deepEqual([none.status, rogue.status, good.status], [200, 401, 200], mode);
    }
  }
});

test('server options: client_allowed_sans restricts which verified clients get in', async (t) => {
  const file = join(dir, 'sans.yml');
  await writeFile(
    file,
    `tls_server_config: {cert_file: ${pki.serverCert}, key_file: ${pki.serverKey}, client_auth_type: RequireAndVerifyClientCert, client_ca_file: ${pki.caCert}, client_allowed_sans: [someone-else.example]}\n`,
  );
  const srv = await serve(file, 'ok');
  t.after(srv.close);
  assert.equal((await get(srv.port, { cert: pki.clientCertPem, key: pki.clientKeyPem })).status, 401);
  await writeFile(
    file,
    `tls_server_config: {cert_file: ${pki.serverCert}, key_file: ${pki.serverKey}, client_auth_type: RequireAndVerifyClientCert, client_ca_file: ${pki.caCert}, client_allowed_sans: [prometheus.example]}\n`,
  );
  const srv2 = await serve(file, 'ok');
  t.after(srv2.close);
  assert.equal((await get(srv2.port, { cert: pki.clientCertPem, key: pki.clientKeyPem })).status, 200);
});

test('min_version TLS13 refuses a TLS 1.2 client', async (t) => {
  const file = join(dir, 'tls13.yml');
  await writeFile(file, `tls_server_config: {cert_file: ${pki.serverCert}, key_file: ${pki.serverKey}, min_version: TLS13}\n`);
  const srv = await serve(file, 'ok');
  t.after(srv.close);
  assert.equal((await get(srv.port)).status, 200);
  await assert.rejects(get(srv.port, { maxVersion: 'TLSv1.2' }));
});

test('basic auth through the server options: right, wrong, unknown and missing credentials', async (t) => {
  const file = join(dir, 'auth.yml');
  await writeFile(
    file,
    `tls_server_config: {cert_file: ${pki.serverCert}, key_file: ${pki.serverKey}}\nbasic_auth_users:\n  prom: ${bcrypt.hashSync('s3cret:with colon', 4)}\n`,
  );
  const srv = await serve(file, 'ok');
  t.after(srv.close);
  const basic = (u: string, p: string): https.RequestOptions => ({
    headers: { authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` },
  });
  assert.equal((await get(srv.port, basic('prom', 's3cret:with colon'))).status, 200);
  assert.equal((await get(srv.port, basic('prom', 's3cret:with colon'))).status, 200);
  assert.equal((await get(srv.port, basic('prom', 'wrong'))).status, 401);
  assert.equal((await get(srv.port, basic('nobody', 's3cret:with colon'))).status, 401);
  assert.equal((await get(srv.port)).status, 401);
  assert.equal((await get(srv.port, { headers: { authorization: 'Bearer abc' } })).status, 401);
});
