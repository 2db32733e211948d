/**
 * The HTTP(S) server: node:http with the limits of the ServerConfig, writing
 * the responses `routes.ts` computes.
 *
 * Limits: `readTimeout` becomes `requestTimeout` and `headersTimeout`, and
 * `connectionsCheckingInterval` is lowered because Node only checks those
 * every 30 s by default, which lets a slow client outlive a 10 s limit.
 * `writeTimeout` is a per-response timer that destroys the socket. Headers
 * over `maxHeaderBytes` are answered 431 by Node itself.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../log/logger.js';
import { NetprobeError } from '../errors/index.js';
import { createRoutes, type RouteOptions, type RouteResponse } from './routes.js';

/** TLS settings for HTTPS (e.g. from an exporter-toolkit web config file). */
export type ServerTlsOptions = SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean };

export interface MetricsServerOptions extends Omit<RouteOptions<IncomingMessage>, 'authorize'> {
  /** Listen address; '' = all addresses. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  readTimeout: number;
  writeTimeout: number;
  maxHeaderBytes: number;
  /** Serve HTTPS with these settings instead of plain HTTP. */
  tls?: ServerTlsOptions;
  /** false answers 401 with a Basic auth challenge (e.g. from a web config's basic_auth_users). */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** Headers added to every response (a web config's `http_server_config.headers`). */
  headers?: Readonly<Record<string, string>>;
  /** Called for every request received (counted for /health). */
  onRequest?: () => void;
  logger: Logger;
}

export class MetricsServer {
  private readonly server: Server;
  private listening = false;

  constructor(private readonly opts: MetricsServerOptions) {
    const routes = createRoutes<IncomingMessage>({ ...opts, authorize: opts.authorize });
    const limits = {
      requestTimeout: opts.readTimeout,
      headersTimeout: opts.readTimeout,
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(opts.readTimeout / 4))),
      maxHeaderSize: opts.maxHeaderBytes,
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      opts.onRequest?.();
      const writeTimer = setTimeout(() => {
        opts.logger.warn(
          { url: req.url, writeTimeoutMs: opts.writeTimeout },
          'response not written within writeTimeout; closing the connection',
        );
        res.destroy();
      }, opts.writeTimeout);
      const done = (): void => clearTimeout(writeTimer);
      res.once('finish', done);
      res.once('close', done);
      const fail = (error: unknown): void => {
        opts.logger.error({ err: error, url: req.url }, 'request failed');
        if (res.destroyed) return;
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Internal Server Error\n');
      };
      const send = (route: RouteResponse): void => {
        if (res.destroyed) return;
        const chunks =
          typeof route.body === 'string' ? [Buffer.from(route.body, 'utf8')] : Buffer.isBuffer(route.body) ? [route.body] : route.body;
        let length = 0;
        for (const c of chunks) length += c.length;
        res.writeHead(route.status, { ...opts.headers, ...route.headers, 'Content-Length': String(length) });
        if (req.method === 'HEAD' || length === 0) {
          res.end();
          return;
        }
        // Corked: the chunks leave in one writev, not one syscall each.
        res.cork();
        for (const c of chunks) res.write(c);
        res.end();
        res.uncork();
      };
      try {
        const route = routes(req);
        if (route instanceof Promise) route.then(send, fail);
        else send(route);
      } catch (error) {
        fail(error);
      }
    };
    this.server = opts.tls ? createHttpsServer({ ...opts.tls, ...limits }, handler) : createHttpServer(limits, handler);
  }

  /** Starts listening; resolves with the real port. */
  async listen(): Promise<number> {
    const { host, port } = this.opts;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new NetprobeError('NP_ERR_LISTEN', `cannot listen on ${host || '*'}:${port}: ${error.code ?? error.message}`, {
            hint:
              error.code === 'EADDRINUSE'
                ? 'another process uses this port: pick another with server.port (--web.listen-address)'
                : 'check server.host and server.port',
            cause: error,
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ port, host: host || undefined }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.listening = true;
    this.server.on('error', (error) => this.opts.logger.error({ err: error }, 'HTTP server error'));
    return this.port;
  }

  /** The port listened on (0 before listening). */
  get port(): number {
    const address = this.server.address();
    return address && typeof address === 'object' ? address.port : 0;
  }

  /** Stops listening and closes every connection, keep-alive ones included. */
  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
