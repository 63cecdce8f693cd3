// Conversations: offline messages (XEP-0160) with XEP-0203 delay, over real TCP + TLS with @xmpp/client.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NS_STANZAS } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, type Element, startClient, xml } from '../helpers/xmpp-client.js';

const NS_DELAY = 'urn:xmpp:delay';
const NS_PING = 'urn:xmpp:ping';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';

const isMessage = (el: Element) => el.is('message') && el.attrs.type !== 'error';
const errorOf = (el: Element) => el.getChild('error');
const conditionOf = (el: Element): string | undefined =>
  errorOf(el)
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;

/**
 * Round-trips a ping: every stanza the client sent before it has been fully processed (RFC 6120 §10.1). The
 * answer waits for all of them, so after a bulk send the time allowed must cover storing the whole bulk.
 */
async function sync(c: ClientSession, timeoutMs = 5000): Promise<void> {
  await c.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: NS_PING })), timeoutMs);
}

/** Collects `n` messages (in arrival order), failing if they do not all come within the time. */
async function collect(c: ClientSession, n: number, timeoutMs = 15_000): Promise<Element[]> {
  const out: Element[] = [];
  while (out.length < n) out.push(await c.waitFor(isMessage, timeoutMs));
  return out;
}

/** Resolves after `ms` if no message arrived meanwhile; rejects with the message otherwise. */
async function expectNoMessage(c: ClientSession, ms = 400): Promise<void> {
  await assert.rejects(c.waitFor(isMessage, ms), /no matching stanza/);
}

describe('conversations: offline messages (XEP-0160)', function () {
  this.timeout(30_000);
  let dataDir: string;
  let srv: TestServer;
  const clients: ClientSession[] = [];

  const login = async (username: string, resource?: string): Promise<ClientSession> => {
    const c = await startClient({
      port: srv.port,
      dataDir: srv.dataDir,
      username,
      password: `${username}-secret`,
      ...(resource ? { resource } : {}),
    });
    clients.push(c);
    return c;
  };
  /** Initial presence (RFC 6121 §4.2); the server answers with the user's own presence broadcast. */
  const online = async (c: ClientSession, priority?: number): Promise<void> => {
    await c.send(xml('presence', {}, ...(priority === undefined ? [] : [xml('priority', {}, String(priority))])));
    await c.waitFor((el) => el.is('presence') && el.attrs.from === c.jid);
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
  };
  const stored = (user: string): Promise<number> => srv.server.storage.archive('offline').count('localhost', user);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-offline-'));
    srv = await startTestServer({ sqlite: true, dataDir });
    for (const u of ['alice', 'bob', 'carol', 'dave', 'erin']) await srv.addUser(u, `${u}-secret`);
  });
  afterEach(stopAll);
  after(async () => {
    await srv?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('advertises msgoffline and delivers 1,000 queued messages in order with a delay stamp (XEP-0160, XEP-0203)', async () => {
    const alice = await login('alice', 'home');
    // XEP-0160 §4.
    const info = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_DISCO_INFO })),
    );
    const features =
      info
        .getChild('query')
        ?.getChildren('feature')
        .map((f) => f.attrs.var) ?? [];
    assert.ok(features.includes('msgoffline'), features.join(' '));
    const before = Date.now();
    for (let i = 0; i < 1000; i++) {
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: `m${i}` }, xml('body', {}, `m${i}`)));
    }
    // The ping is answered after the 1,000 messages are stored: each costs several SQLite round trips (account
    // check, quota count, append, the sender's archive), 1.5–3 s in all on a busy machine, 5 s and more when
    // other suites share the CPU; the client's default 5 s iq timeout was not meant for that.
    await sync(alice, 20_000);
    assert.equal(await stored('bob'), 1000);

    const bob = await login('bob', 'phone');
    await online(bob);
    const got = await collect(bob, 1000);
    assert.deepEqual(
      got.map((m) => m.getChildText('body')),
      Array.from({ length: 1000 }, (_, i) => `m${i}`),
    );
    for (const m of [got[0]!, got[999]!]) {
      assert.equal(m.attrs.from, 'alice@localhost/home');
      const delay = m.getChild('delay', NS_DELAY);
      assert.ok(delay, m.toString());
      assert.equal(delay.attrs.from, 'localhost');
      const stamp = Date.parse(delay.attrs.stamp ?? '');
      assert.ok(stamp >= before - 1000 && stamp <= Date.now(), `stamp ${delay.attrs.stamp}`);
      assert.match(delay.attrs.stamp ?? '', /Z$/);
    }
    // Delivered messages are deleted: another resource coming online gets nothing again.
    assert.equal(await stored('bob'), 0);
    const bob2 = await login('bob', 'laptop');
    await online(bob2);
    await expectNoMessage(bob2);
  });

  it('keeps live messages behind the stored ones, and two resources coming online at once get them once', async () => {
    const alice = await login('alice', 'home');
    for (let i = 0; i < 200; i++) await alice.send(xml('message', { to: 'carol@localhost' }, xml('body', {}, `s${i}`)));
    await sync(alice, 20_000);
    const [c1, c2] = await Promise.all([login('carol', 'one'), login('carol', 'two')]);
    // Both announce themselves together; alice talks while the stored messages are being delivered.
    await Promise.all([online(c1!), online(c2!)]);
    for (let i = 0; i < 5; i++)
      await alice.send(xml('message', { to: 'carol@localhost' }, xml('body', {}, `live${i}`)));
    await sync(alice);
    // Each resource gets the live messages; the stored ones go to exactly one of them, before its live ones.
    const bodies = async (c: ClientSession): Promise<string[]> => {
      const out: string[] = [];
      for (;;) {
        const m = await c.waitFor(isMessage, 3000);
        out.push(m.getChildText('body') ?? '');
        if (out.at(-1) === 'live4') return out;
      }
    };
    const [b1, b2] = await Promise.all([bodies(c1!), bodies(c2!)]);
    const live = Array.from({ length: 5 }, (_, i) => `live${i}`);
    const storedBodies = Array.from({ length: 200 }, (_, i) => `s${i}`);
    const withStored = b1.length > b2.length ? b1 : b2;
    const withoutStored = withStored === b1 ? b2 : b1;
    assert.deepEqual(withStored, [...storedBodies, ...live]);
    assert.deepEqual(withoutStored, live);
    assert.equal(await stored('carol'), 0);
  });

  it('does not deliver to a resource with negative priority (XEP-0160 §2)', async () => {
    const alice = await login('alice', 'home');
    await alice.send(xml('message', { to: 'dave@localhost', type: 'chat' }, xml('body', {}, 'wait for me')));
    await sync(alice);
    const shy = await login('dave', 'shy');
    await online(shy, -1);
    await expectNoMessage(shy);
    assert.equal(await stored('dave'), 1);
    const eager = await login('dave', 'eager');
    await online(eager, 5);
    assert.equal((await eager.waitFor(isMessage)).getChildText('body'), 'wait for me');
    assert.equal(await stored('dave'), 0);
  });

  it('delivers once a resource that started with a negative priority raises it, and only once (XEP-0160 §2)', async () => {
    await srv.addUser('frank', 'frank-secret');
    const alice = await login('alice', 'home');
    for (let i = 0; i < 3; i++) {
      await alice.send(xml('message', { to: 'frank@localhost', type: 'chat' }, xml('body', {}, `later${i}`)));
    }
    await sync(alice);
    const frank = await login('frank', 'desk');
    await online(frank, -5);
    await expectNoMessage(frank);
    assert.equal(await stored('frank'), 3);
    // A presence update (RFC 6121 §4.4) to a non-negative priority makes the resource deliverable: the stored
    // messages follow, in order.
    await frank.send(xml('presence', {}, xml('priority', {}, '0')));
    const got = await collect(frank, 3);
    assert.deepEqual(
      got.map((m) => m.getChildText('body')),
      ['later0', 'later1', 'later2'],
    );
    assert.ok(got[0]!.getChild('delay', NS_DELAY));
    assert.equal(await stored('frank'), 0);
    // Further updates, and a dip below zero and back, deliver nothing again.
    for (const priority of ['3', '-1', '2']) await frank.send(xml('presence', {}, xml('priority', {}, priority)));
    await sync(frank);
    await expectNoMessage(frank);
  });

  it('stores no headline and no chat-state-only message, and bounces groupchat (XEP-0160 §3)', async () => {
    const alice = await login('alice', 'home');
    await alice.send(xml('message', { to: 'erin@localhost', type: 'headline' }, xml('body', {}, 'news')));
    await alice.send(
      xml(
        'message',
        { to: 'erin@localhost', type: 'chat' },
        xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    );
    await alice.send(xml('message', { to: 'erin@localhost', type: 'groupchat', id: 'gc' }, xml('body', {}, 'room')));
    const bounce = await alice.waitFor((el) => el.is('message') && el.attrs.id === 'gc');
    assert.equal(bounce.attrs.type, 'error');
    assert.equal(conditionOf(bounce), 'service-unavailable');
    await alice.send(xml('message', { to: 'erin@localhost', type: 'normal' }, xml('body', {}, 'after')));
    await sync(alice);
    assert.equal(await stored('erin'), 1);
    const erin = await login('erin');
    await online(erin);
    assert.equal((await erin.waitFor(isMessage)).getChildText('body'), 'after');
    await expectNoMessage(erin);
  });

  it('still delivers after a restart between storage and delivery (SQLite)', async () => {
    const alice = await login('alice', 'home');
    for (let i = 0; i < 3; i++) {
      await alice.send(xml('message', { to: 'carol@localhost', type: 'chat' }, xml('body', {}, `kept${i}`)));
    }
    await sync(alice);
    await stopAll();
    await srv.stop();
    srv = await startTestServer({ sqlite: true, dataDir });
    const carol = await login('carol');
    await online(carol);
    const got = await collect(carol, 3);
    assert.deepEqual(
      got.map((m) => m.getChildText('body')),
      ['kept0', 'kept1', 'kept2'],
    );
    assert.ok(got[0]!.getChild('delay', NS_DELAY));
  });
});

describe('conversations: offline message quota (XEP-0160 §2)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  let alice: ClientSession | undefined;

  before(async () => {
    srv = await startTestServer({ yaml: 'modules:\n  offline: { max_messages: 3 }' });
    await srv.addUser('alice', 'alice-secret');
    await srv.addUser('bob', 'bob-secret');
  });
  after(async () => {
    await alice?.stop();
    await srv.stop();
  });

  it('bounces resource-constraint (wait) once the store is full', async () => {
    alice = await startClient({ port: srv.port, dataDir: srv.dataDir, username: 'alice', password: 'alice-secret' });
    for (let i = 0; i < 4; i++) {
      await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: `q${i}` }, xml('body', {}, `q${i}`)));
    }
    const err = await alice.waitFor((el) => el.is('message') && el.attrs.type === 'error');
    assert.equal(err.attrs.id, 'q3');
    assert.equal(err.attrs.from, 'bob@localhost');
    assert.equal(errorOf(err)?.attrs.type, 'wait');
    assert.equal(conditionOf(err), 'resource-constraint');
    assert.match(errorOf(err)?.getChildText('text', NS_STANZAS) ?? '', /offline message store .* full/);
    assert.equal(await srv.server.storage.archive('offline').count('localhost', 'bob'), 3);
  });
});
