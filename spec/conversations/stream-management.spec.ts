// Conversations: XEP-0198 stream management over real TCP + TLS: enabling, acks and their counts, the
// handled-count-too-high error, resumption after a dropped connection with 500 messages in flight, a resumption
// while the old stream is open, refused SM-IDs, and what becomes of a replaced or cleanly closed session's
// unacknowledged messages. Sessions that are not resumed: stream-management-expiry.spec.ts.
import assert from 'node:assert/strict';
import { type ClientSession, dropConnection, fresh, login, stopAll } from '../helpers/im-clients.js';
import { type Element, NS_STANZAS, NS_STREAMS, type RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  burst,
  collectBodies,
  eventually,
  isBodyMessage,
  isHibernating,
  isSm,
  NS_CSI,
  NS_SM,
  SmClient,
} from '../helpers/sm-client.js';

const NS_DELAY = 'urn:xmpp:delay';
const hibernating = (srv: TestServer, user: string): boolean => isHibernating(srv, `${user}@localhost`);
/** The stanza error condition inside a <failed/> or an <error/>. */
const failedCondition = (el: Element): string | undefined =>
  el.getChildElements().find((c) => c.getNS() === NS_STANZAS)?.name;

describe('conversations: stream management (XEP-0198)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  const raws: RawClient[] = [];
  const users = async (...prefixes: string[]): Promise<string[]> => {
    const names = prefixes.map(fresh);
    await Promise.all(names.map((n) => srv.addUser(n, `${n}-secret`)));
    return names;
  };
  const sm = async (user: string, resource?: string, noBind = false): Promise<SmClient> => {
    const s = await SmClient.login(srv, user, resource, noBind);
    raws.push(s.c);
    return s;
  };

  before(async () => {
    srv = await startTestServer();
  });
  afterEach(() => {
    for (const c of raws.splice(0)) c.destroy();
  });
  after(async () => {
    await srv.stop();
  });

  it('offers <sm/> after authentication (§2); <enable/> before binding fails (§3) and the stream goes on', async () => {
    const [alice] = await users('alice');
    const a = await sm(alice!, undefined, true);
    assert.ok(a.c.features?.getChild('sm', NS_SM), a.c.features?.toString());
    assert.ok(a.c.features?.getChild('csi', NS_CSI), a.c.features?.toString());
    a.c.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const failed = await a.c.waitFor(isSm('failed'));
    assert.equal(failedCondition(failed), 'unexpected-request');
    await a.c.bind('laptop');
    const enabled = await a.enable(true);
    assert.equal(enabled.attrs.resume, 'true');
    assert.ok((enabled.attrs.id ?? '').length >= 16, 'an unguessable SM-ID');
    assert.equal(enabled.attrs.max, '300', 'the configured resumption time');
  });

  it('caps the resumption time at the client’s max; without resume, no SM-ID (§3, §5)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await sm(alice!);
    const enabled = await a.enable(true, 30);
    assert.equal(enabled.attrs.max, '30');
    const b = await sm(bob!);
    const plain = await b.enable(false);
    assert.equal(plain.attrs.resume, undefined);
    assert.equal(plain.attrs.id, undefined);
  });

  it('a second <enable/> is refused and ends the stream (§3)', async () => {
    const [alice] = await users('alice');
    const a = await sm(alice!);
    await a.enable(false);
    a.c.send(`<enable xmlns='${NS_SM}'/>`);
    assert.equal(failedCondition(await a.c.waitFor(isSm('failed'))), 'unexpected-request');
    assert.equal(await a.c.waitForStreamError(), 'policy-violation');
  });

  it('answers <r/> with the count of stanzas handled, and asks for acks after 5 unacknowledged (§4)', async () => {
    const [alice] = await users('alice');
    const a = await sm(alice!);
    await a.enable(false);
    for (let i = 0; i < 3; i++) await a.sync();
    a.c.send(`<r xmlns='${NS_SM}'/>`);
    assert.equal((await a.c.waitFor(isSm('a'))).attrs.h, '3');
    // Three results went out; two more make five unacknowledged, and the server asks.
    await a.sync();
    await a.sync();
    await a.c.waitFor(isSm('r'));
    assert.equal(a.handled, 5);
    a.c.send(`<a xmlns='${NS_SM}' h='5'/>`);
    a.c.send(`<r xmlns='${NS_SM}'/>`);
    assert.equal((await a.c.waitFor(isSm('a'))).attrs.h, '5', 'the <a/> and <r/> are not stanzas');
  });

  it('an <a/> acknowledging more than was sent ends the stream with <handled-count-too-high/> (§6)', async () => {
    const [alice] = await users('alice');
    const a = await sm(alice!);
    await a.enable(true);
    await a.sync();
    await a.sync();
    a.c.send(`<a xmlns='${NS_SM}' h='3'/>`);
    const error = await a.c.waitFor((el) => el.is('error', 'http://etherx.jabber.org/streams'));
    assert.ok(error.getChild('undefined-condition', NS_STREAMS), error.toString());
    const detail = error.getChild('handled-count-too-high', NS_SM);
    assert.equal(detail?.attrs.h, '3', error.toString());
    assert.equal(detail?.attrs['send-count'], '2', error.toString());
    await a.c.waitForEnd();
  });

  it('resumes after a dropped connection with 500 messages in flight: all delivered exactly once, in order (§5)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await sm(alice!, 'phone');
    await a.enable(true);
    await a.available();
    const b = await sm(bob!, 'desk');
    const { text, bodies } = burst(`${alice}@localhost`, 500);
    b.c.send(text);
    await collectBodies(a.c, 50);
    // The connection dies under the flow, without a closing tag; 'h' is what the client had received.
    a.c.destroy();
    const h = a.handled;
    const before = a.bodies();
    assert.ok(before.length >= 50 && before.length < 500, `${before.length} arrived before the cut`);

    const again = await sm(alice!, undefined, true);
    const resumed = await again.resume(a.previd, h);
    assert.equal(resumed.name, 'resumed', resumed.toString());
    assert.equal(resumed.attrs.previd, a.previd);
    assert.equal(resumed.attrs.h, '1', 'the server handled one stanza (the presence)');
    assert.equal(again.c.jid, '', 'no new binding');
    const after = await collectBodies(again.c, 500 - before.length);
    if (process.env.SB_TEST_VERBOSE) console.log(`before the cut ${before.length}, after resumption ${after.length}`);
    assert.deepEqual([...before, ...after], bodies);
    await again.c.expectNothing(isBodyMessage, 300);
    // The session goes on as the same resource: it can be reached and acks continue from the old counts.
    b.c.send(`<message to='${alice}@localhost/phone' type='chat'><body>still there</body></message>`);
    assert.deepEqual(await collectBodies(again.c, 1), ['still there']);
    again.c.send(`<r xmlns='${NS_SM}'/>`);
    assert.equal((await again.c.waitFor(isSm('a'))).attrs.h, '1');
  });

  it('closes the old stream with <conflict/> when resumed while it is still open (§5)', async () => {
    const [alice] = await users('alice');
    const a = await sm(alice!, 'phone');
    await a.enable(true);
    await a.sync();
    const again = await sm(alice!, undefined, true);
    const resumed = await again.resume(a.previd, a.handled);
    assert.equal(resumed.name, 'resumed', resumed.toString());
    assert.equal(await a.c.waitForStreamError(), 'conflict');
    await again.sync();
  });

  it('answers an unknown, a malformed or another account’s SM-ID with <failed/>, then binds normally (§5)', async () => {
    const [alice, mallory] = await users('alice', 'mallory');
    const a = await sm(alice!, 'phone');
    await a.enable(true);
    a.c.destroy();
    const m = await sm(mallory!, undefined, true);
    assert.equal(failedCondition(await m.resume(a.previd, 0)), 'item-not-found', 'not for another account');
    assert.equal(failedCondition(await m.resume('no-such-id', 0)), 'item-not-found');
    assert.equal(failedCondition(await m.resume(a.previd, -1)), 'bad-request');
    assert.equal(await m.c.bind('desk'), `${mallory}@localhost/desk`);
    // Alice's session still waits for her.
    const again = await sm(alice!, undefined, true);
    assert.equal((await again.resume(a.previd, 0)).name, 'resumed');
  });

  it('a <resume/> whose h is too high ends the new stream with <handled-count-too-high/> (§6)', async () => {
    const [alice] = await users('alice');
    const a = await sm(alice!, 'phone');
    await a.enable(true);
    await a.sync();
    a.c.destroy();
    const again = await sm(alice!, undefined, true);
    again.c.send(`<resume xmlns='${NS_SM}' previd='${a.previd}' h='7'/>`);
    const error = await again.c.waitFor((el) => el.is('error', 'http://etherx.jabber.org/streams'));
    assert.equal(error.getChild('handled-count-too-high', NS_SM)?.attrs['send-count'], '1', error.toString());
  });

  it('stores the unacknowledged messages offline when the client closes its stream without acking them', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await sm(alice!, 'phone');
    await a.enable(true);
    await a.available();
    const b = await sm(bob!);
    b.c.send(burst(`${alice}@localhost`, 3, 'unacked').text);
    await collectBodies(a.c, 3);
    await a.c.close();
    await eventually(() => srv.server.sessions.resources(`${alice}@localhost`).length === 0, 'alice is gone');
    const next = await sm(alice!, 'tablet');
    await next.available();
    const got = await collectBodies(next.c, 3);
    assert.deepEqual(got, ['unacked0', 'unacked1', 'unacked2']);
  });

  it('a new bind of the resource replaces a hibernating session; its unacknowledged messages follow (RFC 6120 §7.7.2.2)', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const a = await sm(alice!, 'phone');
    await a.enable(true);
    await a.available();
    a.c.send(`<a xmlns='${NS_SM}' h='${a.handled}'/>`);
    a.c.destroy();
    await eventually(() => hibernating(srv, alice!), 'the session hibernates');
    const b = await sm(bob!);
    b.c.send(burst(`${alice}@localhost`, 20, 'while-away').text);
    await b.sync();
    const next = await sm(alice!, 'phone');
    await next.available();
    const got = await collectBodies(next.c, 20);
    assert.deepEqual(got, burst('', 20, 'while-away').bodies);
    assert.ok(next.c.received.find(isBodyMessage)?.getChild('delay', NS_DELAY), 'they come from offline storage');
    // The old SM-ID is gone with the replaced session.
    const late = await sm(alice!, undefined, true);
    assert.equal(failedCondition(await late.resume(a.previd, 0)), 'item-not-found');
  });

  it('xmpp.js resumes its session after a dropped connection and gets what was sent meanwhile', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const clients: ClientSession[] = [];
    try {
      const a = await login(srv, alice!, 'phone', { streamManagement: true });
      clients.push(a);
      const b = await SmClient.login(srv, bob!);
      raws.push(b.c);
      assert.ok(a.xmpp.streamManagement.enabled, 'xmpp.js enabled stream management');
      dropConnection(a);
      await eventually(() => hibernating(srv, alice!), 'the session hibernates');
      b.c.send(`<message to='${alice}@localhost/phone' type='chat'><body>while you were away</body></message>`);
      await b.sync();
      const resumed = new Promise<void>((resolve) => a.xmpp.streamManagement.once('resumed', () => resolve()));
      await a.xmpp.reconnect.reconnect();
      await resumed;
      const msg = await a.waitFor((el) => el.is('message') && el.getChildText('body') === 'while you were away');
      assert.equal(msg.attrs.to, `${alice}@localhost/phone`);
    } finally {
      await stopAll(clients);
    }
  });
});
