/**
 * What a TLS client can negotiate with the real server (issue 9, defect 3).
 * For every cipher suite this machine's OpenSSL knows (`openssl ciphers`), a
 * TLS client offers only that suite (at security level 0, so nothing is
 * refused on the client's side) from inside a test namespace; the set of
 * suites that complete a handshake must be exactly:
 * - no `cipher_suites` (RSA and ECDSA certificates): TLS 1.2 only ECDHE with
 *   AES-GCM or ChaCha20-Poly1305, as exporter-toolkit on current Go; TLS 1.3
 *   Node's three defaults;
 * - `cipher_suites` given: exactly the suites it names, static RSA included.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Netns } from '../support/netns.js';
import { startNetprobe, type NetprobeProcess } from '../support/netprobe-process.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

const run = promisify(execFile);

let dir: string;
let pki: TestPki;
let rsa: { cert: string; key: string };
let ns: Netns;
const servers: NetprobeProcess[] = [];

/** Every TLS 1.2-and-below suite OpenSSL knows, by OpenSSL name (TLS 1.3 names start with TLS_). */
let tls12Suites: string[];
const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_CCM_SHA256',
  'TLS_AES_128_CCM_8_SHA256',
];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'np-tls-ciphers-'));
  pki = await makeTestPki(dir);
  rsa = { cert: join(dir, 'rsa.crt'), key: join(dir, 'rsa.key') };
  await run('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost'],
    ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', rsa.key, '-out', rsa.cert],
  ]);
  const { stdout } = await run('openssl', ['ciphers', '-tls1_2', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
  tls12Suites = stdout
    .trim()
    .split(':')
    .filter((s) => !s.startsWith('TLS_'));
  ns = await Netns.create('npciph');
});

after(async () => {
  for (const s of servers) await s.stop();
  await ns?.delete();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts netprobe (netdev source: TLS does not care) with a web config of these `tls_server_config` lines. */
async function serve(name: string, tlsLines: string[]): Promise<number> {
  const file = join(dir, `${name}.yml`);
  await writeFile(file, ['tls_server_config:', ...tlsLines.map((l) => `  ${l}`), ''].join('\n'));
  const np = await startNetprobe(ns, [`--web.config.file=${file}`, '--source=netdev']);
  servers.push(np);
  return np.port;
}

// Node's TLS client (the same OpenSSL) in one process inside the namespace: a
// handshake per suite costs milliseconds; an s_client process per suite took 150 s in all.
const CLIENT = `
import tls from 'node:tls';
const [port, version, ...suites] = process.argv.slice(1);
const ok = [];
for (const s of suites) {
  // TLS 1.3 suites go in 'ciphers' too (names starting with TLS_).
  const opts = version === 'tls1_2'
    ? { ciphers: s + ':@SECLEVEL=0', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }
    : { ciphers: s, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' };
  const agreed = await new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port: Number(port), servername: 'localhost', rejectUnauthorized: false, ...opts });
    sock.setTimeout(5000, () => sock.destroy());
    sock.once('secureConnect', () => { resolve(sock.getCipher()); sock.destroy(); });
    sock.once('error', () => resolve(undefined));
    sock.once('close', () => resolve(undefined));
  });
  if (agreed !== undefined) ok.push(s);
}
process.stdout.write(JSON.stringify(ok));
`;

/** The suites, of those given, that complete a handshake on `port` when the client offers only that one. */
async function negotiable(port: number, version: 'tls1_2' | 'tls1_3', suites: string[]): Promise<string[]> {
  const out = await ns.exec(process.execPath, ['--input-type=module', '-e', CLIENT, String(port), version, ...suites], 120_000);
  return (JSON.parse(out) as string[]).sort();
}

test(
  'no cipher_suites, RSA certificate: TLS 1.2 offers only ECDHE-RSA with AES-GCM or ChaCha20-Poly1305',
  { timeout: 150_000 },
  async (t) => {
    const port = await serve('rsa-default', [`cert_file: ${rsa.cert}`, `key_file: ${rsa.key}`]);
    t.diagnostic(`${tls12Suites.length} TLS 1.2 suites tried`);
    assert.ok(
      tls12Suites.includes('AES128-SHA') && tls12Suites.includes('ECDHE-RSA-AES128-SHA'),
      'the probe list has the suites that were offered before',
    );
    assert.deepEqual(await negotiable(port, 'tls1_2', tls12Suites), [
      'ECDHE-RSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-RSA-CHACHA20-POLY1305',
    ]);
    assert.deepEqual(await negotiable(port, 'tls1_3', TLS13_SUITES), [
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
  },
);

test(
  'no cipher_suites, ECDSA certificate: TLS 1.2 offers only ECDHE-ECDSA with AES-GCM or ChaCha20-Poly1305',
  { timeout: 150_000 },
  async () => {
    const port = await serve('ecdsa-default', [`cert_file: ${pki.serverCert}`, `key_file: ${pki.serverKey}`]);
    assert.deepEqual(await negotiable(port, 'tls1_2', tls12Suites), [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
    ]);
    assert.deepEqual(await negotiable(port, 'tls1_3', TLS13_SUITES), [
      'TLS_AES_128_GCM_SHA256',
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
    ]);
  },
);

test('an explicit cipher_suites still decides TLS 1.2, static RSA included; TLS 1.3 is unchanged', { timeout: 150_000 }, async () => {
  const port = await serve('rsa-explicit', [
    `cert_file: ${rsa.cert}`,
    `key_file: ${rsa.key}`,
    'cipher_suites: [TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]',
  ]);
  assert.deepEqual(await negotiable(port, 'tls1_2', tls12Suites), ['AES128-GCM-SHA256', 'ECDHE-RSA-AES128-SHA']);
  assert.deepEqual(await negotiable(port, 'tls1_3', TLS13_SUITES), [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
  ]);
});
