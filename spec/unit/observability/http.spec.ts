import assert from 'node:assert/strict';
import http from 'node:http';
import { pino } from 'pino';
import { SwitchboardError } from '../../../server/errors/index.js';
import { type HealthReport, type HttpListener, startHttpListener } from '../../../server/observability/http.js';
import { createMetrics, type Metrics } from '../../../server/observability/metrics.js';

const log = pino({ level: 'silent' });

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, path: string, method = 'GET', body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        data += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

describe('HTTP listener (/metrics, /health)', () => {
  let metrics: Metrics;
  let listener: HttpListener;
  let health: HealthReport | Error;

  beforeEach(async () => {
    metrics = createMetrics();
    health = { ok: true, sessions: 2 };
    listener = await startHttpListener(
      {
        address: '127.0.0.1',
        port: 0,
        metrics,
        health: async () => {
          if (health instanceof Error) throw health;
          return health;
        },
      },
      log,
    );
  });
  afterEach(async () => {
    await listener.close();
  });

  it('serves the registry in Prometheus text format', async () => {
    metrics.sessions.inc({ type: 'c2s' });
    metrics.stanzas.inc({ direction: 'in', kind: 'message' }, 3);
    metrics.routeSeconds.observe({ kind: 'iq' }, 0.002);
    metrics.authFailures.inc();
    metrics.streamErrors.inc({ condition: 'not-well-formed' });
    const reply = await request(listener.port, '/metrics');
    assert.equal(reply.status, 200);
    assert.match(reply.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(reply.body, /^switchboard_sessions\{type="c2s"\} 1$/m);
    assert.match(reply.body, /^switchboard_sessions\{type="s2s_in"\} 0$/m);
    assert.match(reply.body, /^switchboard_stanzas_total\{direction="in",kind="message"\} 3$/m);
    assert.match(reply.body, /^switchboard_route_seconds_count\{kind="iq"\} 1$/m);
    assert.match(reply.body, /^switchboard_auth_failures_total 1$/m);
    assert.match(reply.body, /^switchboard_stream_errors_total\{condition="not-well-formed"\} 1$/m);
    // Default process metrics carry the same prefix and live on this registry only.
    assert.match(reply.body, /^switchboard_process_cpu_seconds_total /m);
    assert.match(reply.body, /^switchboard_nodejs_eventloop_lag_seconds /m);
  });

  it('keeps each server on its own registry', async () => {
    const other = createMetrics();
    other.authFailures.inc(5);
    assert.match(await metrics.registry.metrics(), /^switchboard_auth_failures_total 0$/m);
    assert.match(await other.registry.metrics(), /^switchboard_auth_failures_total 5$/m);
  });

  it('answers /health with 200 when ok and 503 when not', async () => {
    const ok = await request(listener.port, '/health?verbose=1');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(ok.body), { ok: true, sessions: 2 });
    health = { ok: false, storage: 'down' };
    const bad = await request(listener.port, '/health');
    assert.equal(bad.status, 503);
    assert.deepEqual(JSON.parse(bad.body), { ok: false, storage: 'down' });
    health = new Error('boom');
    const thrown = await request(listener.port, '/health');
    assert.equal(thrown.status, 503);
    assert.deepEqual(JSON.parse(thrown.body), { ok: false, error: 'health check failed' });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    assert.equal((await request(listener.port, '/')).status, 404);
    assert.equal((await request(listener.port, '/metrics/x')).status, 404);
    const post = await request(listener.port, '/metrics', 'POST', 'x'.repeat(100_000));
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await request(listener.port, '/health', 'DELETE')).status, 405);
    const head = await request(listener.port, '/health', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('fails with SB_ERR_LISTEN when the port is taken', async () => {
    await assert.rejects(
      startHttpListener({ address: '127.0.0.1', port: listener.port, metrics, health: () => ({ ok: true }) }, log),
      (err: unknown) => err instanceof SwitchboardError && err.code === 'SB_ERR_LISTEN',
    );
  });

  it('closes promptly even with an idle keep-alive connection open', async () => {
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: listener.port, path: '/health', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .once('error', reject);
    });
    const started = Date.now();
    await listener.close();
    assert.ok(Date.now() - started < 1000);
    agent.destroy();
    // afterEach closes again: closing twice must be harmless.
  });
});
