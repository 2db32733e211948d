/**
 * Every route of the exporter as a pure function of the request head: no
 * socket, no I/O, so each rule (404, 405 + Allow, HEAD, CORS preflight, gzip
 * and OpenMetrics negotiation, 401) is unit-tested directly. `server.ts`
 * writes the result to the wire.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ExpositionSnapshot } from '../exposition/exposition-snapshot.js';
import { acceptsGzip, prefersOpenMetrics } from './content-negotiation.js';
import type { ExporterStatus } from './exporter-status.js';
import { buildHealthReport } from './health-report.js';
import { renderOverviewPage } from './overview-page.js';

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
  const known = new Set([opts.metricsPath, '/health', '/']);

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
    return {
      status: 200,
      headers: { ...corsHeaders, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
      body: renderOverviewPage(opts.status(), opts.metricsPath),
    };
  }
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
