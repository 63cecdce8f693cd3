// Conversations: XEP-0012 Last Activity over real TCP + TLS with @xmpp/client.
import assert from 'node:assert/strict';
import type { RosterItem, RosterService } from '../../server/modules/rfc6121-roster/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, startClient, xml } from '../helpers/xmpp-client.js';

const NS_LAST = 'jabber:iq:last';
const lastGet = (to?: string) => xml('iq', { type: 'get', ...(to ? { to } : {}) }, xml('query', { xmlns: NS_LAST }));
const condition = (expected: string) => (err: unknown) => (err as { condition?: string }).condition === expected;

/** The part of the roster contract (RFC 6121 §2, §3) that last activity relies on. */
type PresenceAcl = Pick<RosterService, 'sharesPresenceWith' | 'setItem'>;

/** Stands in for the roster module while it is not loaded: subscription 'from' or 'both' shares presence. */
function rosterStub(): PresenceAcl {
  const items = new Map<string, RosterItem>();
  const key = (host: string, user: string, contact: string) => `${user}@${host}|${contact}`;
  const stub = {
    sharesPresenceWith: async (host: string, user: string, contact: string) => {
      const sub = items.get(key(host, user, contact))?.subscription;
      return sub === 'from' || sub === 'both';
    },
    setItem: async (host: string, user: string, contact: string, item: RosterItem | null) => {
      if (item) items.set(key(host, user, contact), item);
      else items.delete(key(host, user, contact));
    },
    // Benign answers for modules (presence) that may read the roster while the stub stands in.
    get: async () => new Map<string, RosterItem>(),
    item: async (host: string, user: string, contact: string) => items.get(key(host, user, contact)) ?? null,
    pendingRequests: async () => [],
  };
  return stub;
}

describe('conversations: last activity (XEP-0012)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  const open: ClientSession[] = [];
  const login = async (username: string) => {
    const c = await startClient({ port: srv.port, dataDir: srv.dataDir, username, password: `${username}-secret` });
    open.push(c);
    return c;
  };

  before(async () => {
    srv = await startTestServer();
    for (const u of ['alice', 'bob', 'carol', 'erin']) await srv.addUser(u, `${u}-secret`);
    const host = srv.server.host('localhost');
    assert.ok(host);
    let roster: PresenceAcl | undefined = host.services.get('roster') as RosterService | undefined;
    if (!roster) {
      roster = rosterStub();
      // A stand-in with the reads other modules make; subscription changes (update) are not needed here.
      host.provide('roster', roster as RosterService);
    }
    // bob may see alice's and erin's presence (subscription 'from' on their side); carol may not.
    for (const user of ['alice', 'erin']) {
      await roster.setItem('localhost', user, 'bob@localhost', {
        jid: 'bob@localhost',
        subscription: 'from',
        groups: [],
      });
    }
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.stop();
  });
  after(() => srv.stop());

  it('advertises jabber:iq:last and answers the server uptime without text (§5, §6)', async () => {
    const bob = await login('bob');
    const disco = await bob.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    assert.ok(
      disco
        .getChild('query')
        ?.getChildren('feature')
        .some((f) => f.attrs.var === NS_LAST),
    );
    const res = await bob.request(lastGet('localhost'));
    const q = res.getChild('query', NS_LAST);
    assert.match(q?.attrs.seconds ?? '', /^\d+$/);
    assert.equal(q?.getText(), '');
  });

  it('answers 0 seconds for an account with a connected resource (§3)', async () => {
    await login('alice');
    const bob = await login('bob');
    const res = await bob.request(lastGet('alice@localhost'));
    assert.equal(res.attrs.from, 'alice@localhost');
    assert.equal(res.getChild('query', NS_LAST)?.attrs.seconds, '0');
    // The account itself may always ask.
    const own = await bob.request(lastGet());
    assert.equal(own.getChild('query', NS_LAST)?.attrs.seconds, '0');
  });

  it('answers the time since logout with the last unavailable status (§3)', async () => {
    const alice = await login('alice');
    await alice.send(xml('presence'));
    await alice.send(xml('presence', { type: 'unavailable' }, xml('status', null, 'Heading Home')));
    await alice.stop();
    const bob = await login('bob');
    // The record is written when the server sees the session end; give it a moment.
    let q = (await bob.request(lastGet('alice@localhost'))).getChild('query', NS_LAST);
    for (let i = 0; i < 40 && q?.getText() === ''; i++) {
      await new Promise((r) => setTimeout(r, 50));
      q = (await bob.request(lastGet('alice@localhost'))).getChild('query', NS_LAST);
    }
    assert.equal(q?.getText(), 'Heading Home');
    assert.ok(Number(q?.attrs.seconds) < 5);

    // Seconds count from the stored logout time: move it 903 s into the past.
    const store = srv.server.storage.keyval<{ at: number; status?: string }>('last');
    const rec = await store.get('localhost', 'alice');
    assert.ok(rec);
    await store.set('localhost', 'alice', { ...rec, at: Date.now() - 903_000 });
    q = (await bob.request(lastGet('alice@localhost'))).getChild('query', NS_LAST);
    assert.ok(['903', '904'].includes(q?.attrs.seconds ?? ''), q?.toString());
  });

  it('forbids those who may not see the presence (§3, §8)', async () => {
    const carol = await login('carol');
    await assert.rejects(carol.request(lastGet('alice@localhost')), condition('forbidden'));
  });

  it('guards queries to a full JID: forbidden for strangers, delivered to the resource otherwise (§4, §8)', async () => {
    const alice = await login('alice');
    const carol = await login('carol');
    await assert.rejects(carol.request(lastGet(alice.jid)), condition('forbidden'));
    // Offline resources look the same to strangers: no presence leak.
    await assert.rejects(carol.request(lastGet('alice@localhost/gone')), condition('forbidden'));
    // bob's query reaches alice's client, which (like most clients here) does not answer jabber:iq:last.
    const bob = await login('bob');
    await assert.rejects(bob.request(lastGet(alice.jid)), condition('service-unavailable'));
  });

  it('answers service-unavailable for no such account (RFC 6121 §8.5.1)', async () => {
    const bob = await login('bob');
    await assert.rejects(bob.request(lastGet('nobody@localhost')), condition('service-unavailable'));
  });

  it('answers item-not-found when nothing is recorded for an offline account', async () => {
    const bob = await login('bob');
    await assert.rejects(bob.request(lastGet('erin@localhost')), condition('item-not-found'));
  });
});
