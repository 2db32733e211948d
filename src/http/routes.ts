/**
 * Every route of the exporter as a pure function of the request head: no
 * socket, no I/O, so each rule (404, 405 + Allow, HEAD, CORS preflight, gzip
 * and OpenMetrics negotiation, 401) is unit-tested directly. `server.ts`
 * writes the result to the wire.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ExpositionSnapshot } from '../exposition/exposition-snapshot.js';
import { OVERVIEW_API_PATH } from '../exposition/overview-document.js';
import type { OverviewSnapshot } from '../exposition/overview-snapshot.js';
import { acceptsGzip, prefersOpenMetrics } from './content-negotiation.js';
import type { ExporterStatus } from './exporter-status.js';
import { buildHealthReport } from './health-report.js';
import { overviewAssets, type StaticAsset } from './overview-assets.js';
import { OVERVIEW_PAGE_CSP, renderOverviewPage } from './overview-page.js';

export interface RequestHead {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

export interface RouteResponse {
  status: number;
  headers: Record<string, string>;
  /** The GET body (chunks are sent back to back); the server sends none for HEAD (but keeps Content-Length). */
  body: Buffer | string | readonly Buffer[];
}

export interface RouteOptions<H extends RequestHead = RequestHead> {
  metricsPath: string;
  enableCors: boolean;
  enableGzip: boolean;
  /** The exposition to serve. */
  snapshot: () => ExpositionSnapshot;
  status: () => ExporterStatus;
  /** The overview document behind `/` and /api/v1/overview (built once per collection); without it the API answers 404. */
  overview?: () => OverviewSnapshot;
  /** Decides whether a request may be served; false answers 401 (Basic auth challenge). */
  authorize?: (head: H) => boolean | Promise<boolean>;
}

const READ_METHODS = ['GET', 'HEAD'];

/**
 * Builds the request handler. It answers synchronously unless `authorize`
 * returns a promise (e.g. a bcrypt check not yet cached).
 */
export function createRoutes<H extends RequestHead>(opts: RouteOptions<H>): (head: H) => RouteResponse | Promise<RouteResponse> {
  const allowed = opts.enableCors ? 'GET, HEAD, OPTIONS' : 'GET, HEAD';
  const corsHeaders: Record<string, string> = opts.enableCors ? { 'Access-Control-Allow-Origin': '*' } : {};
  const assets: ReadonlyMap<string, StaticAsset> = overviewAssets();
  const known = new Set([opts.metricsPath, '/health', '/', ...assets.keys(), ...(opts.overview ? [OVERVIEW_API_PATH] : [])]);

  return (head) => {
    const path = pathOf(head.url);
    if (path === undefined || !known.has(path)) return text(404, 'Not Found\n', corsHeaders);
    const method = head.method ?? 'GET';

    if (method === 'OPTIONS' && opts.enableCors) {
      // A preflight carries no credentials, so it is answered before authorization.
      return {
        status: 204,
        headers: {
          ...corsHeaders,
          Allow: allowed,
          'Access-Control-Allow-Methods': allowed,
          'Access-Control-Allow-Headers':
            headerValue(head.headers['access-control-request-headers']) ?? 'Accept, Accept-Encoding, Authorization',
          'Access-Control-Max-Age': '600',
        },
        body: '',
      };
    }
    if (!READ_METHODS.includes(method)) return text(405, 'Method Not Allowed\n', { ...corsHeaders, Allow: allowed });
    if (opts.authorize) {
      const unauthorized = (): RouteResponse =>
        text(401, 'Unauthorized\n', { ...corsHeaders, 'WWW-Authenticate': 'Basic realm="netprobe"' });
      const allowedNow = opts.authorize(head);
      if (typeof allowedNow !== 'boolean') return allowedNow.then((ok) => (ok ? serve(head, path) : unauthorized()));
      if (!allowedNow) return unauthorized();
    }
    return serve(head, path);
  };

  function serve(head: H, path: string): RouteResponse {
    if (path === opts.metricsPath) return metrics(head, opts, corsHeaders);
    if (path === '/health') {
      const { httpStatus, report } = buildHealthReport(opts.status());
      return {
        status: httpStatus,
        headers: { ...corsHeaders, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
        body: `${JSON.stringify(report)}\n`,
      };
    }
    if (path === OVERVIEW_API_PATH && opts.overview) {
      const overview = opts.overview();
      return compressible(head, opts, 'application/json; charset=utf-8', overview.json, overview.gzip, {
        ...corsHeaders,
        'Cache-Control': 'no-store',
      });
    }
    const asset = assets.get(path);
    if (asset) {
      // The page asks for them with ?v=<version>, so an upgrade is never served a stale copy.
      return compressible(head, opts, asset.contentType, asset.identity, asset.gzip, { ...corsHeaders, 'Cache-Control': 'max-age=3600' });
    }
    return {
      status: 200,
      headers: {
        ...corsHeaders,
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Security-Policy': OVERVIEW_PAGE_CSP,
        'X-Content-Type-Options': 'nosniff',
      },
      body: renderOverviewPage(opts.status(), opts.metricsPath, opts.overview?.().json ?? Buffer.from('null')),
    };
  }
}

/** A body kept in both encodings: gzip when allowed and asked for. */
function compressible<H extends RequestHead>(
  head: H,
  opts: RouteOptions<H>,
  contentType: string,
  identity: Buffer,
  gzip: Buffer,
  headers: Record<string, string>,
): RouteResponse {
  const useGzip = opts.enableGzip && acceptsGzip(headerValue(head.headers['accept-encoding']));
  const out: Record<string, string> = {
    ...headers,
    'Content-Type': contentType,
    Vary: 'Accept-Encoding',
    'X-Content-Type-Options': 'nosniff',
  };
  if (useGzip) out['Content-Encoding'] = 'gzip';
  return { status: 200, headers: out, body: useGzip ? gzip : identity };
}

function metrics<H extends RequestHead>(head: H, opts: RouteOptions<H>, corsHeaders: Record<string, string>): RouteResponse {
  const snapshot = opts.snapshot();
  const encoded = prefersOpenMetrics(headerValue(head.headers.accept)) ? snapshot.openMetrics : snapshot.text;
  const gzip = opts.enableGzip && acceptsGzip(headerValue(head.headers['accept-encoding']));
  const headers: Record<string, string> = {
    ...corsHeaders,
    'Content-Type': encoded.contentType,
    'Cache-Control': 'no-store',
    Vary: 'Accept-Encoding, Accept',
  };
  if (gzip) headers['Content-Encoding'] = 'gzip';
  return { status: 200, headers, body: gzip ? encoded.gzip : encoded.identity };
}

function text(status: number, body: string, headers: Record<string, string>): RouteResponse {
  return { status, headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }, body };
}

/** The path of a request target (origin or absolute form), without query; undefined when unparsable. */
function pathOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  if (/^https?:\/\//i.test(url)) {
    try {
      return new URL(url).pathname;
    } catch {
      return undefined;
    }
  }
  const end = url.search(/[?#]/);
  const path = end === -1 ? url : url.slice(0, end);
  return path.startsWith('/') ? path : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
