import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { once } from 'node:events';
import { MetricsServer, type MetricsServerOptions } from '../../src/http/metrics-server.js';
import type { ExporterStatus } from '../../src/http/exporter-status.js';
import { buildExpositionSnapshot, type ExpositionSnapshot } from '../../src/exposition/exposition-snapshot.js';
import { silentLogger } from '../../src/log/logger.js';
import { expositionInput } from '../support/exposition-input.js';

const snapshot = await buildExpositionSnapshot(expositionInput());

const status = (): ExporterStatus => ({
  version: 't',
  source: 'netdev',
  attachMode: undefined,
  attachedInterfaces: 2,
  port: 0,
  requests: 0,
  series: 1,
  collections: 1,
  collectionErrors: 0,
  collectIntervalMs: 1000,
  up: true,
  lastSuccess: new Date(),
  lastSuccessAgeMs: 0,
  lastError: undefined,
  interfaces: [],
});

async function startServer(
  t: { after: (fn: () => Promise<void>) => void },
  overrides: Partial<MetricsServerOptions> = {},
): Promise<MetricsServer> {
  const server = new MetricsServer({
    host: '127.0.0.1',
    port: 0,
    metricsPath: '/metrics',
    readTimeout: 10_000,
    writeTimeout: 10_000,
    maxHeaderBytes: 1 << 20,
    enableCors: true,
    enableGzip: true,
    snapshot: () => snapshot,
    status,
    logger: silentLogger(),
    ...overrides,
  });
  await server.listen();
  t.after(() => server.close());
  return server;
}

/** Sends raw bytes and collects everything the server answers until it closes the connection. */
function rawExchange(port: number, payload: string): { socket: Socket; done: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  socket.write(payload);
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  const done = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  socket.on('error', () => undefined);
  return { socket, done };
}

test('listens on a free port when given 0 and reports it', async (t) => {
  const server = await startServer(t);
  assert.ok(server.port > 0);
  const r = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(r.status, 200);
  assert.ok((await r.text()).includes('netprobe_up 1'));
});

test('HEAD sends the headers and Content-Length of GET, and no body', async (t) => {
  const server = await startServer(t);
  const { done } = rawExchange(server.port, 'HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const answer = await done;
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(answer, new RegExp(`\r\nContent-Length: ${snapshot.text.identityLength}\r\n`, 'i'));
  assert.ok(answer.endsWith('\r\n\r\n'), 'nothing after the headers');
});

test('request headers over maxHeaderBytes get 431 (answered by Node itself)', async (t) => {
  const server = await startServer(t, { maxHeaderBytes: 2048 });
  const { done } = rawExchange(server.port, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`);
  assert.match(await done, /^HTTP\/1\.1 431 /);
  const ok = await fetch(`http://127.0.0.1:${server.port}/metrics`, { headers: { 'X-Small': 'a'.repeat(1000) } });
  assert.equal(ok.status, 200);
});

test('a slow client is cut off by readTimeout while a normal scrape still works', { timeout: 15_000 }, async (t) => {
  const server = await startServer(t, { readTimeout: 400 });
  // Headers trickle in one byte at a time and never end.
  const { socket, done } = rawExchange(server.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  const drip = setInterval(() => socket.writable && socket.write('a'), 50);
  t.after(() => {
    clearInterval(drip);
    socket.destroy();
  });
  const scrape = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(scrape.status, 200);
  await scrape.arrayBuffer();
  const answer = await done; // resolves only when the server closes the connection
  clearInterval(drip);
  assert.ok(answer === '' || /^HTTP\/1\.1 408 /.test(answer), `cut off, got ${JSON.stringify(answer.slice(0, 40))}`);
});

test('a response not written within writeTimeout is cut off (client does not read)', { timeout: 15_000 }, async (t) => {
  const body = Buffer.alloc(64 << 20, 'a');
  const huge: ExpositionSnapshot = { ...snapshot, text: { ...snapshot.text, identity: [body], identityLength: body.length } };
  const server = await startServer(t, { writeTimeout: 300, snapshot: () => huge });
  const { socket, done } = rawExchange(server.port, 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  socket.pause(); // never read: the socket buffers fill and the write cannot finish
  t.after(() => socket.destroy());
  await new Promise((r) => setTimeout(r, 1500));
  socket.removeAllListeners('data');
  socket.resume();
  let bytes = 0;
  socket.on('data', (d: Buffer) => (bytes += d.length));
  await done;
  assert.ok(bytes < body.length, `the response was cut short (${bytes} bytes received)`);
});

test('close() also closes idle keep-alive connections', { timeout: 10_000 }, async (t) => {
  const server = await startServer(t);
  const socket = connect(server.port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'data');
  const closed = once(socket, 'close');
  await server.close();
  await closed;
  assert.equal(socket.destroyed, true);
});

test('a failing route answers 500 and the server keeps serving', async (t) => {
  let fail = true;
  const server = await startServer(t, {
    snapshot: () => {
      if (fail) throw new Error('boom');
      return snapshot;
    },
  });
  const bad = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(bad.status, 500);
  fail = false;
  assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status, 200);
});

test('web config headers are added to every response; async authorize is awaited', async (t) => {
  const server = await startServer(t, {
    headers: { 'X-Frame-Options': 'deny' },
    authorize: async (req) => req.headers.authorization === 'Basic dTpw',
  });
  const denied = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('www-authenticate'), 'Basic realm="netprobe"');
  assert.equal(denied.headers.get('x-frame-options'), 'deny');
  const allowed = await new Promise<number>((resolve, reject) => {
    request({ host: '127.0.0.1', port: server.port, path: '/health', headers: { authorization: 'Basic dTpw' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
  assert.equal(allowed, 200);
});
