// Conversations: what the server itself answers over a real stream: ping (XEP-0199), disco (XEP-0030),
// software version (XEP-0092), entity time (XEP-0202) and the iq rules of RFC 6120 §8.2.3.
import assert from 'node:assert/strict';
import { NS_STANZAS, RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, startClient, xml } from '../helpers/xmpp-client.js';

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

describe('conversations: server services', function () {
  this.timeout(20_000);
  let srv: TestServer;
  let alice: ClientSession;
  let raw: RawClient;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice-secret');
    await srv.addUser('bob', 'bob-secret');
    alice = await startClient({ port: srv.port, dataDir: srv.dataDir, username: 'alice', password: 'alice-secret' });
    raw = await RawClient.login({ port: srv.port, username: 'bob', password: 'bob-secret', resource: 'raw' });
  });
  after(async () => {
    await alice?.stop();
    await raw?.close();
    await srv.stop();
  });

  it('answers a ping to the server (XEP-0199 §4.2)', async () => {
    const res = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })),
    );
    assert.equal(res.attrs.type, 'result');
    assert.equal(res.attrs.from, 'localhost');
    assert.equal(res.getChildElements().length, 0);
  });

  it('answers a ping without a "to" on behalf of the account (RFC 6120 §10.3.3)', async () => {
    const res = await raw.iq("<iq type='get' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.equal(res.attrs.type, 'result');
  });

  it('lists the server identity server/im and its features in disco#info (XEP-0030 §3.1)', async () => {
    const res = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_DISCO_INFO })),
    );
    const query = res.getChild('query', NS_DISCO_INFO);
    assert.ok(query, res.toString());
    const identities = query.getChildren('identity').map((i) => `${i.attrs.category}/${i.attrs.type}`);
    assert.ok(identities.includes('server/im'), identities.join(' '));
    const features = query.getChildren('feature').map((f) => f.attrs.var);
    for (const f of [NS_DISCO_INFO, NS_DISCO_ITEMS, 'urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time']) {
      assert.ok(features.includes(f), `${f} in ${features.join(' ')}`);
    }
  });

  it("lists every loaded module's feature in the server's and the account's disco#info (XEP-0030 §3.1)", async () => {
    const featuresOf = async (to: string): Promise<string[]> => {
      const res = await alice.request(xml('iq', { type: 'get', to }, xml('query', { xmlns: NS_DISCO_INFO })));
      return (
        res
          .getChild('query', NS_DISCO_INFO)
          ?.getChildren('feature')
          .map((f) => f.attrs.var ?? '') ?? []
      );
    };
    // The default modules: XEP-0030, XEP-0012, XEP-0049, XEP-0077, XEP-0092, XEP-0160 §4, XEP-0191,
    // XEP-0280, XEP-0199, XEP-0202, XEP-0054. The RFC 6121 roster, presence and message handling, the RFC 3921
    // session, roster versioning and pre-approval (RFC 6121 §2.6.1, §3.4.1), XEP-0198 and XEP-0352 are
    // negotiated as stream features instead.
    assert.deepEqual(await featuresOf('localhost'), [
      NS_DISCO_INFO,
      NS_DISCO_ITEMS,
      'jabber:iq:last',
      'jabber:iq:private',
      'jabber:iq:register',
      'jabber:iq:version',
      'msgoffline',
      'urn:xmpp:blocking',
      'urn:xmpp:carbons:2',
      'urn:xmpp:ping',
      'urn:xmpp:time',
      'vcard-temp',
    ]);
    // What the server answers on an account's bare JID (XEP-0030 §3.1): disco itself, XEP-0012 §3, XEP-0054,
    // XEP-0313 with XEP-0359 stanza ids and full-text search.
    assert.deepEqual(await featuresOf('bob@localhost'), [
      NS_DISCO_INFO,
      NS_DISCO_ITEMS,
      'jabber:iq:last',
      'urn:xmpp:fulltext:0',
      'urn:xmpp:mam:2',
      'urn:xmpp:mam:2#extended',
      'urn:xmpp:sid:0',
      'vcard-temp',
    ]);
  });

  it('answers disco#items for the server (XEP-0030 §4)', async () => {
    const res = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_DISCO_ITEMS })),
    );
    assert.ok(res.getChild('query', NS_DISCO_ITEMS), res.toString());
  });

  it('answers disco#info for an unknown node with item-not-found', async () => {
    const res = await raw.iq(
      `<iq type='get' to='localhost' id='ID'><query xmlns='${NS_DISCO_INFO}' node='nope'/></iq>`,
    );
    assert.equal(res.attrs.type, 'error');
    assert.ok(res.getChild('error')?.getChild('item-not-found', NS_STANZAS), res.toString());
  });

  it('answers disco#info for an account bare JID on its behalf, and service-unavailable for no account', async () => {
    const res = await raw.iq(`<iq type='get' to='alice@localhost' id='ID'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    assert.equal(res.attrs.type, 'result', res.toString());
    const identity = res.getChild('query', NS_DISCO_INFO)?.getChild('identity');
    assert.equal(`${identity?.attrs.category}/${identity?.attrs.type}`, 'account/registered');
    const none = await raw.iq(`<iq type='get' to='nobody@localhost' id='ID'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    assert.ok(none.getChild('error')?.getChild('service-unavailable', NS_STANZAS), none.toString());
  });

  it('answers a software version query (XEP-0092)', async () => {
    const res = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'jabber:iq:version' })),
    );
    const q = res.getChild('query', 'jabber:iq:version');
    assert.equal(q?.getChildText('name'), 'Switchboard');
    assert.match(q?.getChildText('version') ?? '', /^\d+\.\d+\.\d+/);
  });

  it('answers an entity time query in UTC (XEP-0202, XEP-0082)', async () => {
    const before = Date.now();
    const res = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('time', { xmlns: 'urn:xmpp:time' })),
    );
    const t = res.getChild('time', 'urn:xmpp:time');
    assert.match(t?.getChildText('tzo') ?? '', /^[+-]\d{2}:\d{2}$/);
    const utc = t?.getChildText('utc') ?? '';
    assert.match(utc, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    // The clock is read on the same machine; allow generous slack for a slow test run.
    assert.ok(Math.abs(Date.parse(utc) - before) < 5000, `server time ${utc} is close to ours`);
  });

  it('answers an iq in an unknown namespace with service-unavailable (RFC 6120 §8.4)', async () => {
    for (const type of ['get', 'set']) {
      const res = await raw.iq(`<iq type='${type}' to='localhost' id='ID'><query xmlns='urn:example:unknown'/></iq>`);
      assert.equal(res.attrs.type, 'error');
      assert.equal(res.attrs.from, 'localhost');
      assert.ok(res.getChild('error')?.getChild('service-unavailable', NS_STANZAS), res.toString());
    }
  });

  it('answers a get/set to a full JID that is not connected with service-unavailable (RFC 6121 §8.5.3.2.1)', async () => {
    const res = await raw.iq("<iq type='get' to='alice@localhost/none' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.ok(res.getChild('error')?.getChild('service-unavailable', NS_STANZAS), res.toString());
  });

  it('routes an iq between two clients and the answer back', async () => {
    // @xmpp/client answers pings itself (XEP-0199 §4.1: client-to-client ping).
    const res = await raw.iq(`<iq type='get' to='${alice.jid}' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(res.attrs.type, 'result');
    assert.equal(res.attrs.from, alice.jid);
  });

  it('never answers an iq result or error with an error (RFC 6120 §8.2.3, §8.3.1)', async () => {
    raw.send("<iq type='result' to='localhost' id='r1'/>");
    raw.send(
      "<iq type='error' to='localhost' id='r2'><error type='cancel'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
    raw.send("<iq type='result' to='nobody@localhost' id='r3'/>");
    raw.send("<iq type='result' to='alice@localhost/none' id='r4'/>");
    raw.send("<iq type='result' to='alice@localhost' id='r6'/>");
    raw.send("<iq type='result' id='r7'/>");
    raw.send(
      "<iq type='error' to='alice@localhost/none' id='r5'><error type='cancel'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
    // A ping afterwards proves the stream still works and that the server has processed the stanzas above.
    const pong = await raw.iq("<iq type='get' to='localhost' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert.equal(pong.attrs.type, 'result');
    await raw.expectNothing((el) => ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'].includes(el.attrs.id ?? ''), 200);
  });
});
