import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createRoutes, type RequestHead, type RouteOptions, type RouteResponse } from '../../src/http/routes.js';
import type { ExporterStatus } from '../../src/http/exporter-status.js';
import { buildExpositionSnapshot, type ExpositionSnapshot } from '../../src/exposition/exposition-snapshot.js';
import { expositionInput, sample } from '../support/exposition-input.js';
import { htmlSafeJson } from '../../src/exposition/overview-snapshot.js';

const snapshot: ExpositionSnapshot = await buildExpositionSnapshot(expositionInput());

function status(overrides: Partial<ExporterStatus> = {}): ExporterStatus {
  return {
    version: '1.2.3',
    source: 'ebpf',
    attachMode: 'tcx',
    attachedInterfaces: 2,
    port: 8081,
    requests: 42,
    series: snapshot.series,
    collections: 8,
    collectionErrors: 0,
    collectIntervalMs: 5000,
    up: true,
    lastSuccess: new Date('2026-01-02T03:04:05.000Z'),
    lastSuccessAgeMs: 1200,
    lastError: undefined,
    interfaces: [sample(1, 'lo'), sample(2, '<b>&"x\'')],
    ...overrides,
  };
}

function routes(opts: Partial<RouteOptions> = {}): (head: RequestHead) => RouteResponse {
  const handler = createRoutes({
    metricsPath: '/metrics',
    enableCors: true,
    enableGzip: true,
    snapshot: () => snapshot,
    status: () => status(),
    ...opts,
  });
  return (head) => {
    const r = handler(head);
    assert.ok(!(r instanceof Promise), 'synchronous without an async authorize');
    return r;
  };
}

/** The body of a route response as text (chunks joined). */
function bodyText(r: RouteResponse): string {
  return typeof r.body === 'string' ? r.body : Buffer.isBuffer(r.body) ? r.body.toString() : Buffer.concat(r.body).toString();
}

const get = (url: string, headers: RequestHead['headers'] = {}, method = 'GET'): RequestHead => ({ method, url, headers });

test('GET /metrics: 0.0.4 text, identity without Accept-Encoding, Vary set', () => {
  const r = routes()(get('/metrics'));
  assert.equal(r.status, 200);
  assert.equal(r.headers['Content-Type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(r.headers['Content-Encoding'], undefined);
  assert.equal(r.headers.Vary, 'Accept-Encoding, Accept');
  assert.equal(r.headers['Access-Control-Allow-Origin'], '*');
  assert.ok(bodyText(r).includes('netprobe_up 1\n'));
});

test('gzip when accepted (q-values respected), never when disabled', () => {
  const r = routes()(get('/metrics', { 'accept-encoding': 'deflate, gzip;q=0.5' }));
  assert.equal(r.headers['Content-Encoding'], 'gzip');
  assert.equal(gunzipSync(r.body as Buffer).toString(), Buffer.concat(snapshot.text.identity).toString());
  assert.equal(routes()(get('/metrics', { 'accept-encoding': 'gzip;q=0, identity' })).headers['Content-Encoding'], undefined);
  assert.equal(routes()(get('/metrics', { 'accept-encoding': '*' })).headers['Content-Encoding'], 'gzip');
  assert.equal(routes()(get('/metrics', { 'accept-encoding': '*, gzip;q=0' })).headers['Content-Encoding'], undefined);
  assert.equal(routes({ enableGzip: false })(get('/metrics', { 'accept-encoding': 'gzip' })).headers['Content-Encoding'], undefined);
});

test('OpenMetrics when Accept asks for it (as Prometheus does), text otherwise', () => {
  const prometheusAccept =
    'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
  const om = routes()(get('/metrics', { accept: prometheusAccept }));
  assert.equal(om.headers['Content-Type'], 'application/openmetrics-text; version=1.0.0; charset=utf-8');
  assert.ok(bodyText(om).endsWith('# EOF\n'));
  const omGzip = routes()(get('/metrics', { accept: prometheusAccept, 'accept-encoding': 'gzip' }));
  assert.ok(
    gunzipSync(omGzip.body as Buffer)
      .toString()
      .endsWith('# EOF\n'),
  );
  assert.equal(
    routes()(get('/metrics', { accept: 'text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5' })).headers['Content-Type'],
    'text/plain; version=0.0.4; charset=utf-8',
  );
  assert.equal(
    routes()(get('/metrics', { accept: 'application/openmetrics-text;q=0' })).headers['Content-Type'],
    'text/plain; version=0.0.4; charset=utf-8',
  );
  assert.equal(routes()(get('/metrics', { accept: '*/*' })).headers['Content-Type'], 'text/plain; version=0.0.4; charset=utf-8');
});

test('query strings are ignored; a custom metrics path replaces /metrics', () => {
  assert.equal(routes()(get('/metrics?debug=1')).status, 200);
  assert.equal(routes()(get('http://node1:8081/metrics?x')).status, 200, 'absolute-form target (RFC 9112 §3.2.2)');
  const custom = routes({ metricsPath: '/probe/metrics' });
  assert.equal(custom(get('/probe/metrics')).status, 200);
  assert.equal(custom(get('/metrics')).status, 404);
});

test('404 for unknown paths, 405 with Allow for wrong methods', () => {
  for (const url of ['/nope', '/metrics/', '/healthz', 'http://x/nope', '*', '']) assert.equal(routes()(get(url)).status, 404, url);
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const r = routes()(get('/metrics', {}, method));
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.Allow, 'GET, HEAD, OPTIONS');
  }
  const noCors = routes({ enableCors: false })(get('/health', {}, 'OPTIONS'));
  assert.equal(noCors.status, 405);
  assert.equal(noCors.headers.Allow, 'GET, HEAD');
  assert.equal(noCors.headers['Access-Control-Allow-Origin'], undefined);
});

test('HEAD is answered wherever GET is, with the same headers', () => {
  for (const url of ['/metrics', '/health', '/']) {
    const g = routes()(get(url));
    const h = routes()(get(url, {}, 'HEAD'));
    assert.equal(h.status, g.status, url);
    assert.deepEqual(h.headers, g.headers, url);
  }
});

test('OPTIONS preflight with CORS enabled', () => {
  const r = routes()(get('/metrics', { 'access-control-request-headers': 'authorization', origin: 'https://grafana.example' }, 'OPTIONS'));
  assert.equal(r.status, 204);
  assert.equal(r.headers['Access-Control-Allow-Origin'], '*');
  assert.equal(r.headers['Access-Control-Allow-Methods'], 'GET, HEAD, OPTIONS');
  assert.equal(r.headers['Access-Control-Allow-Headers'], 'authorization');
});

test('/health: the seed shape, 200 ok while fresh, 503 when stale or never collected', () => {
  const fresh = routes()(get('/health'));
  assert.equal(fresh.status, 200);
  assert.equal(fresh.headers['Content-Type'], 'application/json; charset=utf-8');
  const doc = JSON.parse(bodyText(fresh)) as { status: string; timestamp: string; server: unknown; source: unknown };
  assert.equal(doc.status, 'ok');
  assert.match(doc.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.deepEqual(doc.server, {
    running: true,
    port: 8081,
    requests: 42,
    metrics: snapshot.series,
    collections: 8,
    last_collection: '2026-01-02T03:04:05.000Z',
  });
  assert.deepEqual(doc.source, { kind: 'ebpf', attach_mode: 'tcx', attached_interfaces: 2 });

  // max(3 × 5 s, 30 s) = 30 s.
  const at = (ageMs: number | undefined, intervalMs = 5000): { status: number; body: { status: string } } => {
    const r = routes({ status: () => status({ lastSuccessAgeMs: ageMs, collectIntervalMs: intervalMs }) })(get('/health'));
    return { status: r.status, body: JSON.parse(bodyText(r)) as { status: string } };
  };
  assert.equal(at(29_999).status, 200);
  // One answer read once: two answers carry two timestamps (a millisecond apart on a busy machine).
  const stale = at(30_000);
  assert.equal(stale.status, 503);
  assert.equal(stale.body.status, 'stale');
  assert.equal(at(44_999, 15_000).status, 200, '3 × 15 s = 45 s is the limit for a 15 s interval');
  assert.equal(at(45_000, 15_000).status, 503);
  const never = at(undefined);
  assert.equal(never.status, 503);
  assert.equal(never.body.status, 'unavailable');
});

test('/: the overview page with version, source, attach mode and links, the document embedded; everything escaped', () => {
  const json = Buffer.from(htmlSafeJson({ interfaces: [{ name: '<b>&"x\'' }] }));
  const r = routes({ overview: () => ({ json, gzip: gzipSync(json), interfaces: 1 }) })(get('/'));
  assert.equal(r.status, 200);
  assert.equal(r.headers['Content-Type'], 'text/html; charset=utf-8');
  assert.match(r.headers['Content-Security-Policy'] ?? '', /script-src 'self';/);
  const html = bodyText(r);
  assert.ok(html.includes('Version 1.2.3'));
  assert.ok(html.includes('source <b>ebpf</b>'));
  assert.ok(html.includes('attach mode <b>tcx</b>'));
  assert.ok(html.includes('<a href="/metrics">'));
  assert.ok(html.includes('<a href="/health">'));
  assert.ok(html.includes('<script src="/assets/overview.js?v=1.2.3" defer></script>'));
  assert.ok(!html.includes('<b>&"x'), 'the interface name is not in the markup as such');
  const embedded = /<script type="application\/json" id="overview-data">(.*)<\/script>/s.exec(html)?.[1];
  assert.deepEqual(JSON.parse(embedded!), { interfaces: [{ name: '<b>&"x\'' }] });
});

test('/api/v1/overview: the JSON document, gzip when asked; 404 without an overview; assets served from memory', () => {
  const json = Buffer.from('{"schema":1}');
  const r = routes({ overview: () => ({ json, gzip: gzipSync(json), interfaces: 0 }) });
  const plain = r(get('/api/v1/overview'));
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['Content-Type'], 'application/json; charset=utf-8');
  assert.equal(plain.headers['Cache-Control'], 'no-store');
  assert.equal(bodyText(plain), '{"schema":1}');
  const gz = r(get('/api/v1/overview', { 'accept-encoding': 'gzip' }));
  assert.equal(gz.headers['Content-Encoding'], 'gzip');
  assert.equal(gunzipSync(gz.body as Buffer).toString(), '{"schema":1}');
  assert.equal(routes()(get('/api/v1/overview')).status, 404);
  for (const [path, type] of [
    ['/assets/overview.js', 'text/javascript'],
    ['/assets/overview.css', 'text/css'],
    ['/assets/uplot.min.js', 'text/javascript'],
    ['/assets/uplot.min.css', 'text/css'],
  ] as const) {
    const a = r(get(`${path}?v=1.2.3`, { 'accept-encoding': 'gzip' }));
    assert.equal(a.status, 200, path);
    assert.ok(a.headers['Content-Type']!.startsWith(type), path);
    assert.ok(gunzipSync(a.body as Buffer).length > 1000, path);
  }
  assert.equal(r(get('/assets/nope.js')).status, 404);
  assert.equal(r(get('/api/v1/overview', {}, 'POST')).status, 405);
});

test('authorize: false → 401 with a Basic challenge; preflight and 404 are not challenged; async checks work', async () => {
  const denied = routes({ authorize: () => false });
  const r = denied(get('/metrics'));
  assert.equal(r.status, 401);
  assert.equal(r.headers['WWW-Authenticate'], 'Basic realm="netprobe"');
  assert.equal(denied(get('/health')).status, 401);
  assert.equal(denied(get('/metrics', {}, 'OPTIONS')).status, 204);
  assert.equal(denied(get('/nope')).status, 404);
  assert.equal(
    routes({ authorize: (h) => h.headers.authorization === 'Basic eDp5' })(get('/metrics', { authorization: 'Basic eDp5' })).status,
    200,
  );
  const asyncRoutes = createRoutes({
    metricsPath: '/metrics',
    enableCors: false,
    enableGzip: false,
    snapshot: () => snapshot,
    status: () => status(),
    authorize: async () => true,
  });
  const pending = asyncRoutes(get('/metrics'));
  assert.ok(pending instanceof Promise);
  assert.equal((await pending).status, 200);
});
