// Conversations: /metrics (Prometheus text exposition) and /health over real HTTP on the http listener (DESIGN §7).
import assert from 'node:assert/strict';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** The value of one sample line, e.g. metric('switchboard_sessions{type="c2s"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('conversations: metrics and health over HTTP', function () {
  this.timeout(20_000);
  let srv: TestServer;
  let base: string;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice-secret');
    base = `http://127.0.0.1:${srv.httpPort}`;
  });
  after(() => srv.stop());

  it('serves Prometheus text at /metrics with switchboard_sessions', async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE switchboard_sessions gauge$/m);
    assert.match(text, /^# HELP switchboard_sessions /m);
  });

  it('counts open client sessions, authentication failures and stanzas', async () => {
    const c = await RawClient.login({ port: srv.port, username: 'alice', password: 'alice-secret' });
    const bad = await RawClient.connect({ port: srv.port });
    try {
      await bad.openStream();
      await bad.starttls();
      await bad.authenticate('PLAIN', 'alice', 'wrong');
      await c.iq("<iq type='get' to='localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>");
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.equal(sample(text, 'switchboard_sessions{type="c2s"}'), 2, text);
      assert.ok((sample(text, 'switchboard_auth_failures_total') ?? 0) >= 1, text);
      assert.ok((sample(text, 'switchboard_stanzas_total{direction="in",kind="iq"}') ?? 0) >= 1, text);
    } finally {
      await c.close();
      bad.destroy();
    }
    // The gauge goes down again when the streams are closed.
    for (let i = 0; i < 50; i++) {
      const text = await (await fetch(`${base}/metrics`)).text();
      if (sample(text, 'switchboard_sessions{type="c2s"}') === 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('switchboard_sessions did not return to 0');
  });

  it('answers /health with 200 and a JSON report', async () => {
    const res = await fetch(`${base}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { ok: boolean; sessions: number };
    assert.equal(body.ok, true);
    assert.equal(typeof body.sessions, 'number');
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});
