// Conversations: XEP-0191 Blocking Command over real TCP + TLS with @xmpp/client: the blocklist, its pushes
// and its enforcement both ways (§3.3), for bare, full and domain items (§6).
import assert from 'node:assert/strict';
import { NS_STANZAS } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, type Element, startClient, xml } from '../helpers/xmpp-client.js';

const NS_BLOCKING = 'urn:xmpp:blocking';
const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_PING = 'urn:xmpp:ping';
const NS_VERSION = 'jabber:iq:version';

type XmppError = Error & { condition?: string; application?: Element };

const conditionOf = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;
const isPresenceFrom = (from: string, type?: string) => (el: Element) =>
  el.is('presence') && el.attrs.from === from && el.attrs.type === type;
const isBody = (body: string) => (el: Element) => el.is('message') && el.getChildText('body') === body;

/** Resolves if nothing matching arrives within `ms`. */
async function expectNone(c: ClientSession, pred: (el: Element) => boolean, ms = 400): Promise<void> {
  await assert.rejects(c.waitFor(pred, ms), /no matching stanza/);
}

/** Everything the client sent before has been processed by the server (RFC 6120 §10.1). */
async function sync(c: ClientSession): Promise<void> {
  await c.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: NS_PING })));
}

const items = (...jids: string[]) => jids.map((jid) => xml('item', { jid }));
const block = (c: ClientSession, ...jids: string[]) =>
  c.request(xml('iq', { type: 'set' }, xml('block', { xmlns: NS_BLOCKING }, ...items(...jids))));
const unblock = (c: ClientSession, ...jids: string[]) =>
  c.request(xml('iq', { type: 'set' }, xml('unblock', { xmlns: NS_BLOCKING }, ...items(...jids))));
const blocklist = async (c: ClientSession): Promise<string[]> => {
  const res = await c.request(xml('iq', { type: 'get' }, xml('blocklist', { xmlns: NS_BLOCKING })));
  return (res.getChild('blocklist', NS_BLOCKING)?.getChildren('item') ?? []).map((i) => i.attrs.jid ?? '');
};

describe('conversations: blocking (XEP-0191)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  const clients: ClientSession[] = [];

  const login = async (username: string, resource: string, domain = 'localhost'): Promise<ClientSession> => {
    const c = await startClient({
      port: srv.port,
      dataDir: srv.dataDir,
      username,
      password: `${username}-secret`,
      domain,
      resource,
    });
    clients.push(c);
    return c;
  };
  const online = async (c: ClientSession, ...children: Element[]): Promise<void> => {
    await c.send(xml('presence', {}, ...children));
    await c.waitFor(isPresenceFrom(c.jid));
  };

  /** Mutual presence subscription (RFC 6121 §3.1) between alice and bob, made once for the suite. */
  async function befriend(): Promise<void> {
    const a = await login('alice', 'setup');
    const b = await login('bob', 'setup');
    // §3.1.3: subscription requests reach available resources.
    await Promise.all([online(a), online(b)]);
    for (const [from, to, fromJid, toJid] of [
      [a, b, 'alice@localhost', 'bob@localhost'],
      [b, a, 'bob@localhost', 'alice@localhost'],
    ] as const) {
      await from.send(xml('presence', { to: toJid, type: 'subscribe' }));
      await to.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe' && el.attrs.from === fromJid);
      await to.send(xml('presence', { to: fromJid, type: 'subscribed' }));
      await from.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribed' && el.attrs.from === toJid);
    }
    await stopAll();
  }
  const stopAll = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  };

  before(async () => {
    srv = await startTestServer({ hostsYaml: 'hosts:\n  localhost: {}\n  example.org: {}' });
    for (const u of ['alice', 'bob', 'carol']) await srv.addUser(u, `${u}-secret`);
    await srv.addUser('mallory', 'mallory-secret', 'example.org');
    await befriend();
  });
  afterEach(async () => {
    await stopAll();
    // Every test starts with an empty blocklist (§3.5 unblock-all).
    const a = await login('alice', 'cleanup');
    await a.request(xml('iq', { type: 'set' }, xml('unblock', { xmlns: NS_BLOCKING })));
    await stopAll();
  });
  after(() => srv.stop());

  it('advertises urn:xmpp:blocking, keeps the list and refuses an empty block (§3.1–§3.3)', async () => {
    const alice = await login('alice', 'home');
    const info = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_DISCO_INFO })),
    );
    const features = info
      .getChild('query')
      ?.getChildren('feature')
      .map((f) => f.attrs.var);
    assert.ok(features?.includes(NS_BLOCKING), String(features));
    assert.deepEqual(await blocklist(alice), []);
    await block(alice, 'Bob@LocalHost', 'example.org', 'carol@localhost/tv');
    assert.deepEqual(await blocklist(alice), ['bob@localhost', 'example.org', 'carol@localhost/tv']);
    await assert.rejects(
      alice.request(xml('iq', { type: 'set' }, xml('block', { xmlns: NS_BLOCKING }))),
      (err: XmppError) => err.condition === 'bad-request',
    );
    await unblock(alice, 'example.org');
    assert.deepEqual(await blocklist(alice), ['bob@localhost', 'carol@localhost/tv']);
    assert.deepEqual(await srv.server.storage.keyval('blocklist').get('localhost', 'alice'), [
      'bob@localhost',
      'carol@localhost/tv',
    ]);
  });

  it('suppresses messages both ways with the §3.3 errors', async () => {
    const alice = await login('alice', 'home');
    const bob = await login('bob', 'work');
    await Promise.all([online(alice), online(bob)]);
    await block(alice, 'bob@localhost');

    // Inbound: the blocked sender gets service-unavailable, the user sees nothing.
    await bob.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'b1' }, xml('body', {}, 'to bare')));
    await bob.send(xml('message', { to: 'alice@localhost/home', type: 'chat', id: 'b2' }, xml('body', {}, 'to full')));
    for (const id of ['b1', 'b2']) {
      const err = await bob.waitFor((el) => el.is('message') && el.attrs.id === id);
      assert.equal(err.attrs.type, 'error');
      assert.equal(conditionOf(err), 'service-unavailable');
    }
    await expectNone(alice, (el) => el.is('message'));

    // Outbound: the user gets not-acceptable with <blocked/>, the blocked JID sees nothing.
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'a1' }, xml('body', {}, 'hear me?')));
    const err = await alice.waitFor((el) => el.is('message') && el.attrs.id === 'a1');
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, 'bob@localhost');
    assert.equal(conditionOf(err), 'not-acceptable');
    assert.ok(err.getChild('error')?.getChild('blocked', NS_BLOCKING_ERRORS), err.toString());
    assert.equal(err.getChildText('body'), 'hear me?');
    await expectNone(bob, isBody('hear me?'));

    // §3.4: after unblocking, messages flow again.
    await unblock(alice, 'bob@localhost');
    await bob.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'again')));
    await alice.waitFor(isBody('again'));
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'welcome back')));
    await bob.waitFor(isBody('welcome back'));
  });

  it('answers iq get/set from a blocked JID with service-unavailable, also for the bare JID (§3.3)', async () => {
    const alice = await login('alice', 'home');
    const bob = await login('bob', 'work');
    const accountInfo = () => xml('iq', { type: 'get', to: 'alice@localhost' }, xml('query', { xmlns: NS_DISCO_INFO }));
    // Before the block, the server answers for alice's account (XEP-0030 §3.1).
    assert.equal((await bob.request(accountInfo())).attrs.type, 'result');
    await block(alice, 'bob@localhost');
    const unavailable = (err: XmppError) => err.condition === 'service-unavailable';
    await assert.rejects(bob.request(accountInfo()), unavailable);
    await assert.rejects(
      bob.request(xml('iq', { type: 'get', to: 'alice@localhost/home' }, xml('query', { xmlns: NS_VERSION }))),
      unavailable,
    );
    await expectNone(alice, (el) => el.is('iq') && el.attrs.from === 'bob@localhost/work');
    await assert.rejects(
      alice.request(xml('iq', { type: 'get', to: 'bob@localhost/work' }, xml('query', { xmlns: NS_VERSION }))),
      (err: XmppError) =>
        err.condition === 'not-acceptable' && err.application?.is('blocked', NS_BLOCKING_ERRORS) === true,
    );
  });

  it('hides presence both ways while blocked and restores it on unblock (§3.3, §3.4)', async () => {
    const alice = await login('alice', 'home');
    await online(alice);
    const bob = await login('bob', 'work');
    await online(bob);
    // Subscribed both ways: each sees the other.
    await alice.waitFor(isPresenceFrom('bob@localhost/work'));
    await bob.waitFor(isPresenceFrom('alice@localhost/home'));

    await block(alice, 'bob@localhost');
    // §3.3: the blocked contact gets unavailable from each of alice's resources, and alice stops seeing bob.
    await bob.waitFor(isPresenceFrom('alice@localhost/home', 'unavailable'));
    await alice.waitFor(isPresenceFrom('bob@localhost/work', 'unavailable'));

    // Forget what arrived before the block (e.g. the answer to alice's initial probe while bob was offline).
    alice.inbox.splice(0);
    bob.inbox.splice(0);
    await alice.send(xml('presence', {}, xml('show', {}, 'away')));
    await bob.send(xml('presence', {}, xml('show', {}, 'dnd')));
    await bob.send(xml('presence', { to: 'alice@localhost/home' }, xml('status', {}, 'directed')));
    await bob.send(xml('presence', { to: 'alice@localhost', type: 'probe' }));
    await Promise.all([sync(alice), sync(bob)]);
    await expectNone(bob, (el) => el.is('presence') && el.attrs.from?.startsWith('alice@') === true);
    await expectNone(alice, (el) => el.is('presence') && el.attrs.from?.startsWith('bob@') === true, 100);

    await unblock(alice, 'bob@localhost');
    // §3.4: bob gets alice's current presence; alice sees bob again (the server probes him for her).
    const back = await bob.waitFor(isPresenceFrom('alice@localhost/home'));
    assert.equal(back.getChildText('show'), 'away');
    const bobAgain = await alice.waitFor(isPresenceFrom('bob@localhost/work'));
    assert.equal(bobAgain.getChildText('show'), 'dnd');
  });

  it('pushes changes to the resources that retrieved the blocklist (§3.3–§3.5)', async () => {
    const home = await login('alice', 'home');
    const phone = await login('alice', 'phone');
    const tv = await login('alice', 'tv');
    await blocklist(home);
    await blocklist(phone);
    const isPush = (name: string) => (el: Element) =>
      el.is('iq') && el.attrs.type === 'set' && el.getChild(name, NS_BLOCKING) !== undefined;

    await block(home, 'carol@localhost', 'example.org');
    for (const c of [home, phone]) {
      const push = await c.waitFor(isPush('block'));
      assert.equal(push.attrs.to, c.jid);
      assert.deepEqual(
        push
          .getChild('block')
          ?.getChildren('item')
          .map((i) => i.attrs.jid),
        ['carol@localhost', 'example.org'],
      );
    }
    await unblock(phone, 'example.org');
    for (const c of [home, phone]) {
      const push = await c.waitFor(isPush('unblock'));
      assert.deepEqual(
        push
          .getChild('unblock')
          ?.getChildren('item')
          .map((i) => i.attrs.jid),
        ['example.org'],
      );
    }
    await phone.request(xml('iq', { type: 'set' }, xml('unblock', { xmlns: NS_BLOCKING })));
    for (const c of [home, phone]) {
      const push = await c.waitFor(isPush('unblock'));
      assert.equal(push.getChild('unblock')?.getChildElements().length, 0, 'unblock-all push is empty');
    }
    await expectNone(tv, (el) => el.is('iq') && el.attrs.type === 'set', 200);
  });

  it('blocks a whole domain and single resources (§6)', async () => {
    const alice = await login('alice', 'home');
    const mallory = await login('mallory', 'pc', 'example.org');
    const bobWork = await login('bob', 'work');
    const bobHome = await login('bob', 'home');
    await Promise.all([online(alice), online(mallory), online(bobWork), online(bobHome)]);

    await block(alice, 'example.org', 'bob@localhost/work');
    await mallory.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'spam')));
    assert.equal(conditionOf(await mallory.waitFor((el) => el.attrs.id === 'm1')), 'service-unavailable');
    await alice.send(xml('message', { to: 'mallory@example.org', type: 'chat', id: 'a1' }, xml('body', {}, 'stop')));
    assert.equal(conditionOf(await alice.waitFor((el) => el.attrs.id === 'a1')), 'not-acceptable');

    await bobWork.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'w1' }, xml('body', {}, 'from work')));
    assert.equal(conditionOf(await bobWork.waitFor((el) => el.attrs.id === 'w1')), 'service-unavailable');
    await bobHome.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'from home')));
    await alice.waitFor(isBody('from home'));
    await expectNone(alice, isBody('spam'), 50);
    await expectNone(alice, isBody('from work'), 50);
  });

  it('does not deliver offline messages from a JID blocked after they were stored (§3.3)', async () => {
    const bob = await login('bob', 'work');
    const carol = await login('carol', 'pc');
    await bob.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'stored from bob')));
    await carol.send(xml('message', { to: 'alice@localhost', type: 'chat' }, xml('body', {}, 'stored from carol')));
    await Promise.all([sync(bob), sync(carol)]);
    // Alice blocks bob before sending the initial presence that releases her offline messages.
    const alice = await login('alice', 'home');
    await block(alice, 'bob@localhost');
    await online(alice);
    await alice.waitFor(isBody('stored from carol'));
    await expectNone(alice, isBody('stored from bob'));
    assert.equal(await srv.server.storage.archive('offline').count('localhost', 'alice'), 0);
  });

  it('bounces a blocked sender for an offline user instead of storing the message', async () => {
    const alice = await login('alice', 'home');
    await block(alice, 'bob@localhost');
    await alice.stop();
    const bob = await login('bob', 'work');
    await bob.send(xml('message', { to: 'alice@localhost', type: 'chat', id: 'off1' }, xml('body', {}, 'while away')));
    assert.equal(conditionOf(await bob.waitFor((el) => el.attrs.id === 'off1')), 'service-unavailable');
    assert.equal(await srv.server.storage.archive('offline').count('localhost', 'alice'), 0);
  });
});
