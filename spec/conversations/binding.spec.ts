// Conversations: resource binding (RFC 6120 §7) and legacy session establishment (RFC 6121 Appendix E).
import assert from 'node:assert/strict';
import { NS_BIND, NS_SESSION, NS_STANZAS, RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, startClient, xml } from '../helpers/xmpp-client.js';

describe('conversations: resource binding', function () {
  this.timeout(20_000);
  let srv: TestServer;
  const open: RawClient[] = [];
  const clients: ClientSession[] = [];

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice-secret');
    await srv.addUser('bob', 'bob-secret');
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.destroy();
    for (const c of clients.splice(0)) await c.stop();
  });
  after(() => srv.stop());

  const login = async (resource?: string, username = 'alice'): Promise<RawClient> => {
    const c = await RawClient.login({
      port: srv.port,
      username,
      password: `${username}-secret`,
      ...(resource === undefined ? {} : { resource }),
    });
    open.push(c);
    return c;
  };

  it('offers <bind/> and an optional <session/> after SASL', async () => {
    const c = await RawClient.login({ port: srv.port, username: 'alice', password: 'alice-secret', noBind: true });
    open.push(c);
    assert.ok(c.features?.getChild('bind', NS_BIND), c.features?.toString());
    assert.ok(c.features?.getChild('session', NS_SESSION)?.getChild('optional'), c.features?.toString());
  });

  it('binds the resource the client chose', async () => {
    const c = await login('laptop');
    assert.equal(c.jid, 'alice@localhost/laptop');
  });

  it('prepares the chosen resource (RFC 7622 §3.4: OpaqueString, NFC, case kept)', async () => {
    // "e" + U+0301 COMBINING ACUTE ACCENT normalizes to U+00E9; OpaqueString keeps case (RFC 8265 §4.2.2).
    const c = await login('Cafe\u0301');
    assert.equal(c.jid, 'alice@localhost/Caf\u00e9');
  });

  it('generates a resource when the client sends an empty <bind/>', async () => {
    const a = await login();
    const b = await login();
    assert.match(a.jid, /^alice@localhost\/.+$/);
    assert.match(b.jid, /^alice@localhost\/.+$/);
    assert.notEqual(a.jid, b.jid, 'generated resources are unique');
  });

  it('lets two resources of one account be bound at the same time', async () => {
    const a = await login('one');
    const b = await login('two');
    // Both streams are alive: each answers a ping.
    for (const c of [a, b]) {
      const r = await c.iq("<iq type='get' to='localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>");
      assert.equal(r.attrs.type, 'result');
    }
  });

  it('replaces the older session on a bind conflict: it gets <conflict/> and is closed (RFC 6120 §7.7.2.2)', async () => {
    const first = await login('desk');
    const second = await login('desk');
    assert.equal(second.jid, 'alice@localhost/desk');
    assert.equal(await first.waitForStreamError(), 'conflict');
    await first.waitForEnd();
    // The new session is the one that receives stanzas for the full JID.
    const bob = await login('x', 'bob');
    bob.send("<message to='alice@localhost/desk' type='chat' id='m1'><body>to the new one</body></message>");
    const got = await second.waitFor((el) => el.is('message'));
    assert.equal(got.getChildText('body'), 'to the new one');
    assert.equal(got.attrs.from, 'bob@localhost/x');
  });

  it('shows the bind conflict to @xmpp/client as a conflict stream error', async () => {
    const base = { port: srv.port, dataDir: srv.dataDir, username: 'bob', password: 'bob-secret', resource: 'phone' };
    const first = await startClient(base);
    clients.push(first);
    const gone = first.waitForDisconnect();
    const second = await startClient(base);
    clients.push(second);
    await gone;
    assert.ok(
      first.errors.some((e) => (e as Error & { condition?: string }).condition === 'conflict'),
      `errors seen: ${first.errors.map((e) => e.message).join(', ')}`,
    );
    assert.equal(second.jid, 'bob@localhost/phone');
    const pong = await second.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    assert.equal(pong.attrs.type, 'result');
  });

  it('answers the legacy session iq with an empty result (RFC 6121 Appendix E)', async () => {
    const c = await login('legacy');
    const r = await c.iq(`<iq type='set' id='ID'><session xmlns='${NS_SESSION}'/></iq>`);
    assert.equal(r.attrs.type, 'result');
    assert.equal(r.getChildElements().length, 0);
  });

  it('answers a bind with an invalid resource with bad-request and lets the client retry', async () => {
    const c = await RawClient.login({ port: srv.port, username: 'alice', password: 'alice-secret', noBind: true });
    open.push(c);
    // U+0378 is unassigned, so PRECIS disallows it (RFC 8264 §9.9, RFC 7622 §3.4), though XML allows it.
    const bad = await c.iq(`<iq type='set' id='ID'><bind xmlns='${NS_BIND}'><resource>a\u0378b</resource></bind></iq>`);
    assert.equal(bad.attrs.type, 'error');
    assert.ok(bad.getChild('error')?.getChild('bad-request', NS_STANZAS), bad.toString());
    assert.equal(await c.bind('fine'), 'alice@localhost/fine');
  });
});
