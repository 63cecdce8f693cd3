// Conversations: message carbons (XEP-0280) between three resources of one account and a contact, over real
// TCP + TLS with @xmpp/client.
import assert from 'node:assert/strict';
import { Jid } from '../../server/jid/index.js';
import { parseXml } from '../../server/xml/element.js';
import {
  available,
  type ClientSession,
  type Element,
  errorOf,
  expectNone,
  login,
  settle,
  stopAll,
  sync,
  xml,
} from '../helpers/im-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';

/** The forwarded original inside a carbon copy of `kind`, if `el` is one. */
const inner = (el: Element, kind: 'sent' | 'received'): Element | undefined =>
  el.getChild(kind, NS_CARBONS)?.getChild('forwarded', NS_FORWARD)?.getChild('message');
const isCarbon = (kind: 'sent' | 'received', body: string) => (el: Element) =>
  el.is('message') && inner(el, kind)?.getChildText('body') === body;
const anyCarbon = (el: Element) => el.is('message') && (inner(el, 'sent') ?? inner(el, 'received')) !== undefined;
const isBody = (body: string) => (el: Element) => el.is('message') && el.getChildText('body') === body;
const chat = (to: string, body: string, ...extra: Element[]) =>
  xml('message', { to, type: 'chat', id: `id-${body}` }, xml('body', {}, body), ...extra);

describe('conversations: message carbons (XEP-0280)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let home: ClientSession;
  let garden: ClientSession;
  let phone: ClientSession;
  let juliet: ClientSession;

  const enable = (c: ClientSession) => c.request(xml('iq', { type: 'set' }, xml('enable', { xmlns: NS_CARBONS })));

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('romeo', 'romeo-secret');
    await srv.addUser('juliet', 'juliet-secret');
    [home, garden, phone, juliet] = await Promise.all([
      login(srv, 'romeo', 'home'),
      login(srv, 'romeo', 'garden'),
      login(srv, 'romeo', 'phone'),
      login(srv, 'juliet', 'balcony'),
    ]);
    // 'home' has the highest priority, so a message to romeo's bare JID goes to it alone (RFC 6121 §8.5.2.1.1).
    await available(home, [xml('priority', {}, '5')]);
    await available(garden);
    await available(phone);
    await available(juliet);
    // 'phone' does not enable carbons, and must never see a copy.
    await enable(home);
    await enable(garden);
    // §10.1: enabling twice is not an error.
    await enable(garden);
  });
  beforeEach(async () => settle(home, garden, phone, juliet));
  afterEach(async () => {
    await expectNone(phone, anyCarbon, 50);
  });
  after(async () => {
    await stopAll([home, garden, phone, juliet]);
    await srv?.stop();
  });

  it('is advertised by the server (§3)', async () => {
    const info = await juliet.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_DISCO_INFO })),
    );
    const features = info.getChild('query')?.getChildren('feature') ?? [];
    assert.ok(features.some((f) => f.attrs.var === NS_CARBONS));
  });

  it('copies a message to the bare JID to the enabled resources that did not get it (§7)', async () => {
    await juliet.send(chat('romeo@localhost', 'to the bare JID'));
    const original = await home.waitFor(isBody('to the bare JID'));
    assert.equal(original.attrs.from, 'juliet@localhost/balcony');
    const copy = await garden.waitFor(isCarbon('received', 'to the bare JID'));
    assert.equal(copy.attrs.from, 'romeo@localhost');
    assert.equal(copy.attrs.to, garden.jid);
    assert.equal(copy.attrs.type, 'chat');
    const forwarded = inner(copy, 'received');
    assert.equal(forwarded?.attrs.xmlns, 'jabber:client');
    assert.equal(forwarded?.attrs.from, 'juliet@localhost/balcony');
    assert.equal(forwarded?.attrs.to, 'romeo@localhost');
    assert.equal(forwarded?.attrs.id, 'id-to the bare JID');
    // The resource that got the original gets no copy besides.
    await expectNone(home, anyCarbon);
    await expectNone(phone, isBody('to the bare JID'), 0);
  });

  it('copies a message to one full JID to the other enabled resources (§7)', async () => {
    await juliet.send(chat(phone.jid, 'to the phone'));
    await phone.waitFor(isBody('to the phone'));
    const a = await home.waitFor(isCarbon('received', 'to the phone'));
    const b = await garden.waitFor(isCarbon('received', 'to the phone'));
    assert.equal(a.attrs.to, home.jid);
    assert.equal(b.attrs.to, garden.jid);
    assert.equal(inner(b, 'received')?.attrs.to, phone.jid);
  });

  it('copies a normal message with a body, but neither a headline nor a body-less normal message (§6)', async () => {
    await juliet.send(xml('message', { to: phone.jid }, xml('body', {}, 'normal with body')));
    await garden.waitFor(isCarbon('received', 'normal with body'));
    await juliet.send(xml('message', { to: phone.jid, type: 'headline' }, xml('body', {}, 'headline')));
    await juliet.send(xml('message', { to: phone.jid, type: 'normal', id: 'nb' }, xml('subject', {}, 's')));
    await phone.waitFor(isBody('headline'));
    await phone.waitFor((el) => el.is('message') && el.attrs.id === 'nb');
    await expectNone(garden, anyCarbon);
    await expectNone(home, (el) => anyCarbon(el) && inner(el, 'received')?.getChildText('body') !== 'normal with body');
  });

  it("sends a client's message to its other enabled resources as a sent copy (§8)", async () => {
    await home.send(chat('juliet@localhost', 'from home'));
    await juliet.waitFor(isBody('from home'));
    const copy = await garden.waitFor(isCarbon('sent', 'from home'));
    assert.equal(copy.attrs.from, 'romeo@localhost');
    assert.equal(copy.attrs.to, garden.jid);
    assert.equal(copy.attrs.type, 'chat');
    const forwarded = inner(copy, 'sent');
    assert.equal(forwarded?.attrs.from, home.jid);
    assert.equal(forwarded?.attrs.to, 'juliet@localhost');
    // §8: not back to the sender; the phone did not enable carbons.
    await expectNone(home, anyCarbon);
  });

  it('sends copies of what a resource without carbons sends, too (§8)', async () => {
    await phone.send(chat('juliet@localhost/balcony', 'from the phone'));
    await home.waitFor(isCarbon('sent', 'from the phone'));
    await garden.waitFor(isCarbon('sent', 'from the phone'));
  });

  it('makes no copies of a <private/> message either way, and removes <private/> on delivery (§9)', async () => {
    const priv = () => xml('private', { xmlns: NS_CARBONS });
    await home.send(chat('juliet@localhost', 'private out', priv()));
    const got = await juliet.waitFor(isBody('private out'));
    assert.equal(got.getChild('private', NS_CARBONS), undefined, got.toString());
    await juliet.send(chat(phone.jid, 'private in', priv()));
    await phone.waitFor(isBody('private in'));
    await expectNone(garden, anyCarbon);
    await expectNone(home, anyCarbon, 0);
  });

  it('makes no copies of a message with the XEP-0334 no-copy hint', async () => {
    const hint = () => xml('no-copy', { xmlns: 'urn:xmpp:hints' });
    await home.send(chat('juliet@localhost', 'no-copy out', hint()));
    await juliet.waitFor(isBody('no-copy out'));
    await juliet.send(chat(phone.jid, 'no-copy in', hint()));
    await phone.waitFor(isBody('no-copy in'));
    await expectNone(garden, anyCarbon);
    await expectNone(home, anyCarbon, 0);
  });

  it('copies the error that answers a copied message (§6)', async () => {
    await home.send(chat('nobody@localhost', 'into the void'));
    await garden.waitFor(isCarbon('sent', 'into the void'));
    const bounce = await home.waitFor((el) => el.is('message') && el.attrs.type === 'error');
    assert.equal(bounce.attrs.id, 'id-into the void');
    const copy = await garden.waitFor((el) => el.is('message') && inner(el, 'received')?.attrs.type === 'error');
    assert.equal(copy.attrs.type, 'error');
    assert.equal(inner(copy, 'received')?.attrs.from, 'nobody@localhost');
    // An error that answers nothing copied is not copied.
    await juliet.send(
      xml('message', { to: phone.jid, type: 'error', id: 'unrelated' }, xml('error', { type: 'cancel' })),
    );
    await phone.waitFor((el) => el.is('message') && el.attrs.id === 'unrelated');
    await expectNone(garden, anyCarbon);
  });

  it('stops copying to a resource that disabled carbons (§5)', async () => {
    await garden.request(xml('iq', { type: 'set' }, xml('disable', { xmlns: NS_CARBONS })));
    try {
      await juliet.send(chat(phone.jid, 'after disable'));
      await home.waitFor(isCarbon('received', 'after disable'));
      await expectNone(garden, anyCarbon);
    } finally {
      await enable(garden);
    }
  });

  it('refuses a client sending a carbon wrapper itself, with forbidden (§11)', async () => {
    const forged = (kind: string, to: string) =>
      xml(
        'message',
        { to, type: 'chat', id: `forged-${kind}` },
        xml(kind, { xmlns: NS_CARBONS }, xml('forwarded', { xmlns: NS_FORWARD }, chat('juliet@localhost', 'fake'))),
      );
    // To another account, and to one of the sender's own resources.
    await juliet.send(forged('sent', 'romeo@localhost'));
    await home.send(forged('received', garden.jid));
    for (const c of [juliet, home]) {
      const err = await c.waitFor((el) => el.is('message') && el.attrs.type === 'error');
      assert.ok(err.getChild('error')?.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'), err.toString());
    }
    await expectNone(garden, (el) => el.is('message'));
    await expectNone(home, (el) => el.is('message') && el.attrs.type !== 'error', 0);
    await expectNone(phone, (el) => el.is('message'), 0);
  });

  it('drops a carbon wrapper that arrives from another entity (§11)', async () => {
    // A remote server is not part of this test setup: the stanza enters the router as one from s2s would.
    const from = 'mallory@evil.example/x';
    const forged = parseXml(
      `<message from='${from}' to='romeo@localhost' type='chat'><received xmlns='${NS_CARBONS}'>` +
        `<forwarded xmlns='${NS_FORWARD}'><message xmlns='jabber:client' from='juliet@localhost/balcony' ` +
        "to='romeo@localhost' type='chat'><body>forged</body></message></forwarded></received></message>",
    );
    const origin = { kind: 's2s' as const, jid: Jid.parse('evil.example'), send: () => {} };
    await srv.server.router.route(forged, origin);
    const full = parseXml(forged.toString().replace("to='romeo@localhost'", `to='${phone.jid}'`));
    await srv.server.router.route(full, origin);
    for (const c of [home, garden, phone]) await expectNone(c, (el) => el.is('message'), 100);
    await sync(juliet);
  });

  it('refuses to enable carbons for anyone but the account itself', async () => {
    const condition = await errorOf(
      juliet.request(xml('iq', { type: 'set', to: 'romeo@localhost' }, xml('enable', { xmlns: NS_CARBONS }))),
    );
    assert.equal(condition, 'service-unavailable');
  });
});
