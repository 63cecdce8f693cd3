// Conversations: RFC 6121 §4 presence exchange over real TCP + TLS, stanza by stanza: initial presence, probes
// and their answers, broadcasts, unavailable (sent, implied by logout, or by a dropped connection), directed
// presence, priorities, and subscriptions and presence surviving a restart on SQLite.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  available,
  bare,
  type ClientSession,
  dropConnection,
  type Element,
  expectNone,
  expectPresence,
  fresh,
  isPresence,
  items,
  login,
  loginAll,
  NS_ROSTER,
  NS_STANZAS,
  rosterGet,
  settle,
  stopAll,
  subscribe,
  sync,
  xml,
} from '../helpers/im-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const errorCondition = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;
const isMessage = (body: string) => (el: Element) => el.is('message') && el.getChildText('body') === body;
const presenceWith = (children: Record<string, string>) =>
  xml('presence', {}, ...Object.entries(children).map(([k, v]) => xml(k, {}, v)));

describe('conversations: presence (RFC 6121 §4)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  const open: ClientSession[] = [];
  const track = <T extends (ClientSession | undefined)[]>(cs: T): ClientSession[] => {
    const list = cs.filter((c): c is ClientSession => c !== undefined);
    open.push(...list);
    return list;
  };
  /** Users logged in with their rosters requested (not yet available). */
  const users = async (...prefixes: string[]): Promise<ClientSession[]> => {
    const cs = track(await loginAll(srv, prefixes.map(fresh)));
    await Promise.all(cs.map((c) => rosterGet(c)));
    return cs;
  };

  before(async () => {
    srv = await startTestServer();
  });
  afterEach(async () => {
    await stopAll(open.splice(0));
  });
  after(async () => {
    await srv.stop();
  });

  it("initial presence: probes answered with each available resource's last presence; broadcast to own resources (§4.2, §4.3)", async () => {
    const [a, b] = await users('alice', 'bob');
    await Promise.all([available(a!), available(b!)]);
    await subscribe(a!, b!); // alice sees bob
    // Bob has a second resource with its own presence.
    const [b2] = track([await login(srv, bare(b!).split('@')[0]!, 'r2')]);
    await b!.send(presenceWith({ show: 'dnd', status: 'in a meeting', priority: '5' }));
    await b2!.send(presenceWith({ show: 'away' }));
    await expectPresence(a!, b2!.jid);
    await settle(a!, b!, b2!);
    // A new resource of alice comes online.
    const [a2] = track([await login(srv, bare(a!).split('@')[0]!, 'r2')]);
    await a2!.send(xml('presence', {}, xml('status', {}, 'second')));
    // §4.2.2: the new resource gets its own presence and the other resource sees it.
    await expectPresence(a2!, a2!.jid);
    assert.equal((await expectPresence(a!, a2!.jid)).getChildText('status'), 'second');
    // §4.3.2 rule 3: the probe of bob is answered with the full last presence of each of bob's resources.
    const p1 = await expectPresence(a2!, b!.jid);
    assert.equal(p1.getChildText('show'), 'dnd');
    assert.equal(p1.getChildText('status'), 'in a meeting');
    assert.equal(p1.getChildText('priority'), '5');
    assert.equal((await expectPresence(a2!, b2!.jid)).getChildText('show'), 'away');
    // Bob is not subscribed to alice: he sees nothing of her.
    await expectNone(b!, (el) => el.is('presence') && el.attrs.from?.startsWith(bare(a!)) === true);
    // The probe answers went to alice's bare JID, so her first resource got them as well (§8.5.2.1.1).
    await expectPresence(a!, b!.jid);
    await settle(a!, a2!);
    // §4.4: an update from bob reaches both of alice's resources.
    await b!.send(presenceWith({ status: 'back' }));
    for (const r of [a!, a2!]) assert.equal((await expectPresence(r, b!.jid)).getChildText('status'), 'back');
  });

  it('a probe of a contact with no available resource is answered with unavailable from the bare JID (§4.3.2)', async () => {
    const [a, b] = await users('alice', 'bob');
    await Promise.all([available(a!), available(b!)]);
    await subscribe(a!, b!);
    await b!.stop();
    await expectPresence(a!, b!.jid, 'unavailable');
    const [a2] = track([await login(srv, bare(a!).split('@')[0]!, 'r2')]);
    await a2!.send(xml('presence'));
    await expectPresence(a2!, bare(b!), 'unavailable');
  });

  it('a probe of an offline contact brings its last unavailable status with an XEP-0203 delay (§4.3.2)', async () => {
    const [a, b] = await users('alice', 'bob');
    await Promise.all([available(a!), available(b!)]);
    await subscribe(a!, b!);
    const before = Date.now();
    await b!.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'gone fishing')));
    await expectPresence(a!, b!.jid, 'unavailable');
    // Bob stays connected but unavailable: the record is written when his last available resource goes.
    await sync(b!);
    const [a2] = track([await login(srv, bare(a!).split('@')[0]!, 'r2')]);
    await a2!.send(xml('presence'));
    const answer = await expectPresence(a2!, bare(b!), 'unavailable');
    assert.equal(answer.getChildText('status'), 'gone fishing');
    const delay = answer.getChild('delay', 'urn:xmpp:delay');
    assert.ok(delay, answer.toString());
    assert.equal(delay.attrs.from, 'localhost');
    assert.match(delay.attrs.stamp ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    const stamp = Date.parse(delay.attrs.stamp ?? '');
    assert.ok(stamp >= before - 1000 && stamp <= Date.now(), `stamp ${delay.attrs.stamp}`);
    // Bob comes back: the next probe is answered with his presence, no longer with the record.
    await available(b!);
    await expectPresence(a!, b!.jid);
    const [a3] = track([await login(srv, bare(a!).split('@')[0]!, 'r3')]);
    await a3!.send(xml('presence'));
    const live = await expectPresence(a3!, b!.jid);
    assert.equal(live.getChild('delay', 'urn:xmpp:delay'), undefined);
    await expectNone(a3!, isPresence(bare(b!), 'unavailable'));
  });

  it('broadcast: contacts subscribed to the user get every change; others get nothing (§4.2.2, §4.4.2)', async () => {
    const [a, b, c] = await users('alice', 'bob', 'carol');
    await Promise.all([available(b!), available(c!)]);
    await available(a!);
    await subscribe(b!, a!); // bob sees alice; carol does not
    await settle(a!, b!, c!);
    await a!.send(presenceWith({ show: 'chat' }));
    assert.equal((await expectPresence(b!, a!.jid)).getChildText('show'), 'chat');
    await a!.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'gone fishing')));
    // §4.5.2: unavailable reaches the contact and the user's own resource.
    assert.equal((await expectPresence(b!, a!.jid, 'unavailable')).getChildText('status'), 'gone fishing');
    await expectPresence(a!, a!.jid, 'unavailable');
    await expectNone(c!, (el) => el.is('presence'));
    // Available again: an initial presence once more (contacts get it, probes go out again).
    await a!.send(xml('presence'));
    await expectPresence(b!, a!.jid);
  });

  it('directed presence (§4.6): delivered to a non-contact, who gets unavailable at logout without an unavailable', async () => {
    const [a, b, c] = await users('alice', 'bob', 'carol');
    await Promise.all([available(a!), available(b!), available(c!)]);
    await subscribe(b!, a!); // bob sees alice
    await settle(a!, b!, c!);
    await a!.send(xml('presence', { to: bare(c!) }, xml('status', {}, 'just for carol')));
    assert.equal((await expectPresence(c!, a!.jid)).getChildText('status'), 'just for carol');
    // Directed presence is not a broadcast: bob gets nothing.
    await expectNone(b!, isPresence(a!.jid));
    // A later broadcast does not go to carol (not subscribed).
    await a!.send(xml('presence', {}, xml('status', {}, 'for my contacts')));
    await expectPresence(b!, a!.jid);
    await expectNone(c!, isPresence(a!.jid));
    // Logout without unavailable presence: carol (directed) and bob (subscribed) both get unavailable.
    await a!.stop();
    await expectPresence(c!, a!.jid, 'unavailable');
    await expectPresence(b!, a!.jid, 'unavailable');
  });

  it('directed unavailable ends the directed presence: nothing more at logout (§4.6.3)', async () => {
    const [a, c] = await users('alice', 'carol');
    await Promise.all([available(a!), available(c!)]);
    await a!.send(xml('presence', { to: c!.jid }));
    await expectPresence(c!, a!.jid);
    await a!.send(xml('presence', { to: c!.jid, type: 'unavailable' }));
    await expectPresence(c!, a!.jid, 'unavailable');
    await a!.stop();
    await expectNone(c!, isPresence(a!.jid, 'unavailable'), 200);
  });

  it('an unclean disconnect is announced as unavailable to contacts and own resources (§4.5.2)', async () => {
    const [a, b] = await users('alice', 'bob');
    await Promise.all([available(a!), available(b!)]);
    await subscribe(b!, a!);
    const [a2] = track([await login(srv, bare(a!).split('@')[0]!, 'r2')]);
    await available(a2!);
    await settle(a!, a2!, b!);
    dropConnection(a!);
    await expectPresence(b!, a!.jid, 'unavailable');
    await expectPresence(a2!, a!.jid, 'unavailable');
  });

  it('priority (§4.7.2.3): bare-JID messages go to the highest non-negative priority, never to a negative one', async () => {
    const name = fresh('alice');
    await srv.addUser(name, `${name}-secret`);
    const [hi, lo, neg] = track(await Promise.all(['hi', 'lo', 'neg'].map((r) => login(srv, name, r))));
    const [sender] = await users('bob');
    await hi!.send(presenceWith({ priority: '10' }));
    await lo!.send(presenceWith({ priority: '1' }));
    await neg!.send(presenceWith({ priority: '-5' }));
    await Promise.all([hi, lo, neg].map((c) => sync(c!)));
    await sender!.send(xml('message', { to: `${name}@localhost`, type: 'chat' }, xml('body', {}, 'to the top')));
    await hi!.waitFor(isMessage('to the top'));
    await expectNone(lo!, isMessage('to the top'));
    await expectNone(neg!, isMessage('to the top'), 0);
    // Negative priority still receives presence and messages to its full JID.
    await sender!.send(xml('message', { to: neg!.jid, type: 'chat' }, xml('body', {}, 'direct')));
    await neg!.waitFor(isMessage('direct'));
    // With only a negative-priority resource left, a bare-JID message is not delivered live to it.
    await Promise.all([hi!.stop(), lo!.stop()]);
    await sender!.send(xml('message', { to: `${name}@localhost`, type: 'chat' }, xml('body', {}, 'nobody positive')));
    await expectNone(neg!, isMessage('nobody positive'), 200);
  });

  it('presence errors are delivered to the addressed resource, and an unknown type is refused (§4.7.1)', async () => {
    const [a, b] = await users('alice', 'bob');
    await Promise.all([available(a!), available(b!)]);
    await b!.send(
      xml(
        'presence',
        { to: a!.jid, type: 'error' },
        xml('error', { type: 'cancel' }, xml('gone', { xmlns: NS_STANZAS })),
      ),
    );
    const err = await a!.waitFor((el) => el.is('presence') && el.attrs.type === 'error');
    assert.equal(err.attrs.from, b!.jid);
    // Never answered with an error in turn.
    await expectNone(b!, (el) => el.is('presence') && el.attrs.type === 'error');
    await b!.send(xml('presence', { to: bare(a!), type: 'dance' }));
    const bad = await b!.waitFor((el) => el.is('presence') && el.attrs.type === 'error');
    assert.equal(errorCondition(bad), 'bad-request');
  });
});

describe('conversations: presence after a restart on SQLite', function () {
  this.timeout(20_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-presence-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('subscriptions persist, and initial presence, probes and broadcasts work after the restart', async () => {
    let srv: TestServer = await startTestServer({ sqlite: true, dataDir });
    let clients: ClientSession[] = [];
    try {
      clients = await loginAll(srv, ['alice', 'bob']);
      const [a, b] = clients as [ClientSession, ClientSession];
      await Promise.all([rosterGet(a), rosterGet(b)]);
      await Promise.all([available(a), available(b)]);
      await subscribe(a, b);
      await subscribe(b, a);
      // A pending request survives too.
      await srv.addUser('carol', 'carol-secret');
      const [c] = await loginAll(srv, ['carol'], { create: false });
      await c!.send(xml('presence', { type: 'subscribe', to: 'alice@localhost' }));
      await a.waitFor(isPresence('carol@localhost', 'subscribe'));
      await c!.stop();
    } finally {
      await stopAll(clients);
      await srv.stop();
    }

    srv = await startTestServer({ sqlite: true, dataDir });
    try {
      clients = await loginAll(srv, ['alice', 'bob'], { create: false });
      const [a, b] = clients as [ClientSession, ClientSession];
      const roster = items((await rosterGet(a)).getChild('query', NS_ROSTER));
      assert.deepEqual(
        roster.map((i) => [i.attrs.jid, i.attrs.subscription]),
        [['bob@localhost', 'both']],
      );
      await rosterGet(b);
      await available(b);
      // Alice's initial presence: bob gets it (he is subscribed), she gets bob's through the probe, and the
      // request carol left is delivered again (§3.1.3).
      await a.send(xml('presence'));
      await expectPresence(b, a.jid);
      await expectPresence(a, b.jid);
      await a.waitFor(isPresence('carol@localhost', 'subscribe'));
    } finally {
      await stopAll(clients);
      await srv.stop();
    }
  });
});
