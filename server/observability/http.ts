// The HTTP listener for /metrics (Prometheus text format) and /health. It serves operators and scrapers only:
// GET without a body, small bounded requests, and nothing else, so it is cheap to expose to a monitoring network.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { SwitchboardError } from '../errors/index.js';
import type { Metrics } from './metrics.js';

export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

export interface HttpListenerOptions {
  address: string;
  port: number;
  metrics: Metrics | Registry;
  /** 200 when `ok`, else 503; the whole report is the JSON body. */
  health: () => HealthReport | Promise<HealthReport>;
}

export interface HttpListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Scrapers reconnect each interval; a few dozen concurrent connections is generous. */
const MAX_CONNECTIONS = 64;

export async function startHttpListener(opts: HttpListenerOptions, log: Logger): Promise<HttpListener> {
  const registry = 'registry' in opts.metrics ? opts.metrics.registry : opts.metrics;
  const server = http.createServer(
    // Tight limits: slow or oversized requests are dropped rather than holding sockets open.
    { headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: 8 * 1024 },
    (req, res) => {
      handle(req, res, registry, opts.health, log).catch((err: unknown) => {
        log.error({ err, url: req.url }, 'http handler failed');
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
        else res.destroy();
      });
    },
  );
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new SwitchboardError('SB_ERR_LISTEN', `cannot listen on ${opts.address}:${opts.port} (http): ${err.message}`, {
          cause: err,
        }),
      ),
    );
    server.listen(opts.port, opts.address, () => resolve());
  });
  server.on('error', (err) => log.error({ err }, 'http listener error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ address: opts.address, port }, 'http listener started');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // close() reports ERR_SERVER_NOT_RUNNING on a second call; closed is closed, so resolve either way.
        server.close(() => resolve());
        // Idle keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  registry: Registry,
  health: HttpListenerOptions['health'],
  log: Logger,
): Promise<void> {
  // HEAD is GET without a body (RFC 9110 §9.3.2); node's http omits the body itself.
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    // The request body is never read; closing the connection avoids draining it for keep-alive.
    res.setHeader('Connection', 'close');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/metrics') {
    return send(res, 200, registry.contentType, await registry.metrics());
  }
  if (path === '/health') {
    let report: HealthReport;
    try {
      report = await health();
    } catch (err) {
      // A check that throws is itself a health signal: answer 503, keep the details in the log.
      log.error({ err }, 'health check failed');
      report = { ok: false, error: 'health check failed' };
    }
    return send(res, report.ok ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`);
  }
  send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    // Monitoring data must be fresh on every scrape.
    'Cache-Control': 'no-store',
  });
  res.end(body);
}
