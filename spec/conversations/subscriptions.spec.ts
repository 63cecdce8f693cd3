// Conversations: RFC 6121 §3 presence subscriptions, one test per Appendix A transition, checked stanza by stanza.
//
// The user is a real @xmpp/client session over TCP + TLS. For the Appendix A tables the contact is a peer on
// another domain (remote.example): its stanzas enter the router as they would from a peer server, and what the
// server sends it is captured where federation would take over. Every row can so be reached and observed from
// both sides: the roster pushes and presence the user's client receives, and the stanzas the contact's server
// receives. A second part runs the same protocol between two local users, end to end.
import assert from 'node:assert/strict';
import type { Origin } from '../../server/core/hooks.js';
import { Jid } from '../../server/jid/index.js';
import {
  parseStateName,
  type SubscriptionType,
  stateName,
} from '../../server/modules/rfc6121-presence/subscription.js';
import type { RosterService, SubscriptionSnapshot } from '../../server/modules/rfc6121-roster/types.js';
import { type Extra, INBOUND, OUTBOUND, type Row, type State } from '../helpers/appendix-a.js';
import {
  available,
  bare,
  type ClientSession,
  type Element,
  expectNone,
  expectPresence,
  expectPush,
  fresh,
  isPresence,
  isPush,
  login,
  loginAll,
  rosterGet,
  settle,
  stopAll,
  sync,
  xml,
} from '../helpers/im-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REMOTE = 'remote.example';
const S2S: Origin = { kind: 's2s', jid: Jid.parse(REMOTE), send: () => {} };

/** The roster item a client sees for a state (pending in is not shown, RFC 6121 §2.1.2.2). */
function visible(state: State, approved = false): { subscription: string; ask?: string; approved?: string } {
  const s = parseStateName(state);
  return {
    subscription: s.subscription,
    ...(s.pendingOut ? { ask: 'subscribe' } : {}),
    ...(approved ? { approved: 'true' } : {}),
  };
}

describe('conversations: presence subscriptions (RFC 6121 §3, Appendix A)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  let user: ClientSession;
  let roster: RosterService;
  /** Stanzas the server routed towards remote.example. */
  const sent: Element[] = [];
  let peerCount = 0;

  const userBare = () => bare(user);
  const inject = async (type: string, peer: string): Promise<void> => {
    await srv.server.router.route(xml('presence', { type, from: peer, to: userBare() }), S2S);
  };
  const isSent = (type: string | undefined, from: string, to: string) => (el: Element) =>
    el.is('presence') && el.attrs.type === type && el.attrs.from === from && el.attrs.to === to;
  const waitSent = async (pred: (el: Element) => boolean, what: string, timeoutMs = 2000): Promise<Element> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = sent.findIndex(pred);
      if (i >= 0) return sent.splice(i, 1)[0]!;
      if (Date.now() > until)
        throw new Error(`the contact's server did not receive ${what}; got: ${sent.join(' ') || '(nothing)'}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  /** Lets every stanza caused so far arrive, then checks that nothing else did (on either side). */
  const quiet = async (): Promise<void> => {
    await sync(user);
    await new Promise((r) => setTimeout(r, 25));
  };
  const assertNothingElse = async (): Promise<void> => {
    await quiet();
    assert.deepEqual(sent.map(String), [], "nothing else reaches the contact's server");
    await expectNone(user, (el) => el.is('presence') || isPushAny(el), 0);
  };
  const isPushAny = (el: Element) => el.is('iq') && el.attrs.type === 'set';
  const stateOf = (peer: string): Promise<SubscriptionSnapshot> =>
    roster.update('localhost', user.jid.split('@')[0] ?? '', peer, (cur) => ({ next: null, result: cur }));

  /** Drives the user and a new remote contact to `state` through the protocol itself. */
  const reach = async (state: State, approved = false): Promise<string> => {
    peerCount++;
    const peer = `peer${peerCount}@${REMOTE}`;
    const userSends = async (type: string) => {
      await user.send(xml('presence', { type, to: peer }));
      await sync(user);
    };
    const s = parseStateName(state);
    const from = s.subscription === 'from' || s.subscription === 'both';
    const to = s.subscription === 'to' || s.subscription === 'both';
    if (from) {
      await inject('subscribe', peer);
      await userSends('subscribed');
    }
    if (to || s.pendingOut) await userSends('subscribe');
    if (to) await inject('subscribed', peer);
    if (s.pendingIn) await inject('subscribe', peer);
    if (approved) await userSends('subscribed');
    await settle(user);
    sent.splice(0);
    const reached = await stateOf(peer);
    assert.equal(stateName(reached), state, 'setup reached the starting state');
    assert.equal(reached.approved, approved);
    return peer;
  };

  /** What the contact's server receives after the routed stanza. */
  const expectExtras = async (extras: Extra[], peer: string): Promise<void> => {
    for (const extra of extras) {
      if (extra === 'subscribed') await waitSent(isSent('subscribed', userBare(), peer), 'the automatic subscribed');
      else
        await waitSent(
          isSent(extra === 'available' ? undefined : 'unavailable', user.jid, peer),
          `the user's ${extra} presence`,
        );
    }
  };

  before(async () => {
    srv = await startTestServer();
    srv.server.router.setRemote((stanza) => sent.push(stanza));
    roster = srv.server.host('localhost')!.services.get('roster') as RosterService;
    const name = fresh('subuser');
    await srv.addUser(name, `${name}-secret`);
    user = await login(srv, name);
    await rosterGet(user);
    await available(user);
  });
  after(async () => {
    await stopAll([user]);
    await srv.stop();
  });

  describe('A.2 outbound: the user sends', () => {
    for (const [type, rows] of Object.entries(OUTBOUND) as [SubscriptionType, Row[]][]) {
      for (const [state, routed, next, extras = []] of rows) {
        it(`A.2 ${type} in "${state}": ${routed ? 'routed' : 'not routed'}, ${next ?? 'no state change'}`, async () => {
          const peer = await reach(state);
          await user.send(xml('presence', { type, to: peer }));
          if (routed) {
            // §3.1.2: stamped with the user's bare JID.
            await waitSent(isSent(type, userBare(), peer), `the ${type}`);
            await expectExtras(extras, peer);
          }
          if (next !== null && next !== state) {
            const v = visible(next);
            const before = visible(state);
            if (v.subscription !== before.subscription || v.ask !== before.ask) await expectPush(user, peer, v);
          }
          await assertNothingElse();
          assert.equal(stateName(await stateOf(peer)), next ?? state);
        });
      }
    }
  });

  describe('A.3 inbound: the contact sends', () => {
    for (const [type, rows] of Object.entries(INBOUND) as [SubscriptionType, Row[]][]) {
      for (const [state, delivered, next, extras = []] of rows) {
        it(`A.3 ${type} in "${state}": ${delivered ? 'delivered' : 'not delivered'}, ${next ?? 'no state change'}`, async () => {
          const peer = await reach(state);
          await inject(type, peer);
          if (delivered) await user.waitFor(isPresence(peer, type), 2000);
          await expectExtras(extras, peer);
          if (next !== null) {
            const v = visible(next);
            const before = visible(state);
            if (v.subscription !== before.subscription || v.ask !== before.ask) await expectPush(user, peer, v);
          }
          await assertNothingElse();
          assert.equal(stateName(await stateOf(peer)), next ?? state);
        });
      }
    }
  });

  describe('§3.4 pre-approval', () => {
    for (const [state, after] of [
      ['None', 'From'],
      ['None + Pending Out', 'From + Pending Out'],
      ['To', 'Both'],
    ] as const) {
      it(`A.2.3 subscribed in "${state}" is a pre-approval: not routed, pushed with approved='true'`, async () => {
        const peer = await reach(state);
        await user.send(xml('presence', { type: 'subscribed', to: peer }));
        await expectPush(user, peer, visible(state, true));
        await assertNothingElse();
        assert.equal((await stateOf(peer)).approved, true);
      });

      it(`A.3.1 subscribe in pre-approved "${state}": answered, not delivered, becomes ${after}`, async () => {
        const peer = await reach(state, true);
        await inject('subscribe', peer);
        await expectExtras(['subscribed', 'available'], peer);
        await expectPush(user, peer, visible(after));
        await assertNothingElse();
        const now = await stateOf(peer);
        assert.equal(stateName(now), after);
        assert.equal(now.approved, false, 'a pre-approval is used once');
      });

      it(`A.2.4 unsubscribed in pre-approved "${state}" withdraws the pre-approval without routing`, async () => {
        const peer = await reach(state, true);
        await user.send(xml('presence', { type: 'unsubscribed', to: peer }));
        await expectPush(user, peer, visible(state));
        await assertNothingElse();
        assert.equal((await stateOf(peer)).approved, false);
      });
    }
  });
});

describe('conversations: subscriptions between local users (RFC 6121 §3)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  const open: ClientSession[] = [];
  const track = <T extends ClientSession[]>(cs: T): T => {
    open.push(...cs);
    return cs;
  };
  /** Two users online with their rosters requested and initial presence sent. */
  const pair = async (): Promise<[ClientSession, ClientSession]> => {
    const [a, b] = track(await loginAll(srv, [fresh('alice'), fresh('bob')]));
    await Promise.all([rosterGet(a!), rosterGet(b!)]);
    await Promise.all([available(a!), available(b!)]);
    return [a!, b!];
  };
  const isSub = (type: string, from: string) => (el: Element) =>
    el.is('presence') && el.attrs.type === type && el.attrs.from === from;

  before(async () => {
    srv = await startTestServer();
  });
  afterEach(async () => {
    await stopAll(open.splice(0));
  });
  after(async () => {
    await srv.stop();
  });

  it('subscribe, approve: pushes and presence on both sides (§3.1)', async () => {
    const [a, b] = await pair();
    await a.send(xml('presence', { type: 'subscribe', to: bare(b) }, xml('status', {}, 'hi, it is alice')));
    // §3.1.2: the user's push shows the pending request; §3.1.3: the contact gets it from the bare JID.
    await expectPush(a, bare(b), { subscription: 'none', ask: 'subscribe' });
    const req = await b.waitFor(isSub('subscribe', bare(a)));
    assert.equal(req.getChildText('status'), 'hi, it is alice', 'the request keeps its status');
    await expectNone(b, isPush(bare(a)));
    // §3.1.5: the contact approves: its push shows 'from', and the user gets the contact's presence.
    await b.send(xml('presence', { type: 'subscribed', to: bare(a) }));
    await expectPush(b, bare(a), { subscription: 'from' });
    // §3.1.6: the user's push shows 'to', then the approval and the contact's presence arrive.
    await expectPush(a, bare(b), { subscription: 'to' });
    await a.waitFor(isSub('subscribed', bare(b)));
    await expectPresence(a, b.jid);
    // The user's presence is not shared with the contact (no subscription that way).
    await expectNone(b, isPresence(a.jid));
  });

  it('mutual subscription ends in "both" on each side', async () => {
    const [a, b] = await pair();
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      await x.send(xml('presence', { type: 'subscribe', to: bare(y) }));
      await y.waitFor(isSub('subscribe', bare(x)));
      await y.send(xml('presence', { type: 'subscribed', to: bare(x) }));
      await x.waitFor(isSub('subscribed', bare(y)));
    }
    await settle(a, b);
    const items = async (c: ClientSession) => (await rosterGet(c)).getChild('query')?.getChildren('item') ?? [];
    assert.equal((await items(a))[0]?.attrs.subscription, 'both');
    assert.equal((await items(b))[0]?.attrs.subscription, 'both');
  });

  it('unsubscribe (§3.3) and unsubscribed (§3.2): pushes, and unavailable presence where presence was shared', async () => {
    const [a, b] = await pair();
    await a.send(xml('presence', { type: 'subscribe', to: bare(b) }));
    await b.waitFor(isSub('subscribe', bare(a)));
    await b.send(xml('presence', { type: 'subscribed', to: bare(a) }));
    await a.waitFor(isSub('subscribed', bare(b)));
    await settle(a, b);
    // §3.3: alice unsubscribes from bob: both pushes show 'none'; bob gets the unsubscribe, alice unavailable.
    await a.send(xml('presence', { type: 'unsubscribe', to: bare(b) }));
    await expectPush(a, bare(b), { subscription: 'none' });
    await b.waitFor(isSub('unsubscribe', bare(a)));
    await expectPush(b, bare(a), { subscription: 'none' });
    await expectPresence(a, b.jid, 'unavailable');
    // Re-subscribe, then §3.2: bob cancels alice's subscription.
    await a.send(xml('presence', { type: 'subscribe', to: bare(b) }));
    await b.waitFor(isSub('subscribe', bare(a)));
    await b.send(xml('presence', { type: 'subscribed', to: bare(a) }));
    await a.waitFor(isSub('subscribed', bare(b)));
    await settle(a, b);
    await b.send(xml('presence', { type: 'unsubscribed', to: bare(a) }));
    await expectPush(b, bare(a), { subscription: 'none' });
    await a.waitFor(isSub('unsubscribed', bare(b)));
    await expectPush(a, bare(b), { subscription: 'none' });
    await expectPresence(a, b.jid, 'unavailable');
  });

  it('a request to an offline user is kept and delivered at each login until answered (§3.1.3 rule 4)', async () => {
    const [a] = track(await loginAll(srv, [fresh('alice')]));
    const bob = fresh('bob');
    await srv.addUser(bob, `${bob}-secret`);
    await rosterGet(a!);
    await available(a!);
    await a!.send(xml('presence', { type: 'subscribe', to: `${bob}@localhost` }, xml('status', {}, 'please')));
    await expectPush(a!, `${bob}@localhost`, { subscription: 'none', ask: 'subscribe' });
    for (let round = 0; round < 2; round++) {
      const [b] = track([await login(srv, bob, `r${round}`)]);
      await b!.send(xml('presence'));
      const req = await b!.waitFor(isSub('subscribe', bare(a!)));
      assert.equal(req.getChildText('status'), 'please');
      await b!.stop();
    }
    const [b] = track([await login(srv, bob, 'final')]);
    await rosterGet(b!);
    await available(b!);
    await b!.waitFor(isSub('subscribe', bare(a!)));
    await b!.send(xml('presence', { type: 'unsubscribed', to: bare(a!) }));
    await a!.waitFor(isSub('unsubscribed', `${bob}@localhost`));
    await expectPush(a!, `${bob}@localhost`, { subscription: 'none' });
    await b!.stop();
    // Denied: the next login brings no request.
    const [b2] = track([await login(srv, bob, 'after')]);
    await available(b2!);
    await expectNone(b2!, isSub('subscribe', bare(a!)), 200);
  });

  it('a subscribe to an account that does not exist is answered with unsubscribed (§8.5.1)', async () => {
    const [a] = track(await loginAll(srv, [fresh('alice')]));
    await rosterGet(a!);
    await available(a!);
    await a!.send(xml('presence', { type: 'subscribe', to: 'nobody-here@localhost' }));
    await expectPush(a!, 'nobody-here@localhost', { subscription: 'none', ask: 'subscribe' });
    await a!.waitFor(isSub('unsubscribed', 'nobody-here@localhost'));
    await expectPush(a!, 'nobody-here@localhost', { subscription: 'none' });
  });

  it('pre-approval between local users: the later request is answered at once (§3.4)', async () => {
    const [a, b] = await pair();
    await b.send(xml('presence', { type: 'subscribed', to: bare(a) }));
    await expectPush(b, bare(a), { subscription: 'none', approved: 'true' });
    await expectNone(a, isSub('subscribed', bare(b)));
    await a.send(xml('presence', { type: 'subscribe', to: bare(b) }));
    await a.waitFor(isSub('subscribed', bare(b)));
    await expectPresence(a, b.jid);
    await expectPush(b, bare(a), { subscription: 'from' });
    await expectNone(b, isSub('subscribe', bare(a)));
  });

  it('a flood of 1,000 subscribe stanzas from one contact: the server stays up, the user gets one', async () => {
    const [a, b] = await pair();
    await Promise.all(Array.from({ length: 1000 }, () => a.send(xml('presence', { type: 'subscribe', to: bare(b) }))));
    // Alternating requests change the state each time; what reaches the user is rate-limited per contact.
    for (let i = 0; i < 100; i++) {
      void a.send(xml('presence', { type: i % 2 === 0 ? 'unsubscribe' : 'subscribe', to: bare(b) }));
    }
    await sync(a);
    await new Promise((r) => setTimeout(r, 100));
    const got = b.inbox.filter(
      (el) => el.is('presence') && (el.attrs.type === 'subscribe' || el.attrs.type === 'unsubscribe'),
    );
    assert.ok(got.length >= 1, 'the first request is delivered');
    assert.ok(got.length <= 12, `a bounded number is delivered (got ${got.length})`);
    assert.equal(got.filter((el) => el.attrs.type === 'subscribe').length <= 6, true);
    // Still serving: a fresh login and a round trip work.
    const [c] = track(await loginAll(srv, [fresh('carol')]));
    await sync(c!);
    await sync(b);
  });
});

describe('conversations: account deletion cancels subscriptions (XEP-0077 §3.2, RFC 6121 §2.5.2)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  /** Stanzas the server routed towards remote.example. */
  const sent: Element[] = [];
  const open: ClientSession[] = [];
  const isSub = (type: string | undefined, from: string) => (el: Element) =>
    el.is('presence') && el.attrs.type === type && el.attrs.from === from;
  const sentTo = (to: string) => sent.filter((el) => el.attrs.to === to).map((el) => el.attrs.type ?? 'available');
  /** Waits until the account's last session is gone from the server (its 'resource-unbind' has run). */
  const gone = async (bareJid: string): Promise<void> => {
    for (let i = 0; i < 100 && srv.server.sessions.resources(bareJid).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(srv.server.sessions.resources(bareJid).length, 0, `${bareJid} has no session left`);
    await new Promise((r) => setTimeout(r, 50));
  };
  const streamErrors = (c: ClientSession): string[] =>
    c.errors.map((e) => (e as { condition?: string }).condition ?? e.message);

  before(async () => {
    srv = await startTestServer();
    srv.server.router.setRemote((stanza) => sent.push(stanza));
  });
  afterEach(async () => {
    await stopAll(open.splice(0));
    sent.splice(0);
  });
  after(async () => {
    await srv.stop();
  });

  it('in-band <remove/>: a local contact gets unavailable, unsubscribe, unsubscribed and roster pushes', async () => {
    const [a, b] = await loginAll(srv, [fresh('alice'), fresh('bob')]);
    open.push(a!, b!);
    await Promise.all([rosterGet(a!), rosterGet(b!)]);
    await Promise.all([available(a!), available(b!)]);
    for (const [x, y] of [
      [a!, b!],
      [b!, a!],
    ] as const) {
      await x.send(xml('presence', { type: 'subscribe', to: bare(y) }));
      await y.waitFor(isSub('subscribe', bare(x)));
      await y.send(xml('presence', { type: 'subscribed', to: bare(x) }));
      await x.waitFor(isSub('subscribed', bare(y)));
    }
    await settle(a!, b!);
    const aliceBare = bare(a!);
    const aliceName = aliceBare.split('@')[0]!;
    a!.xmpp.reconnect.stop();
    const res = await a!.request(
      xml('iq', { type: 'set' }, xml('query', { xmlns: 'jabber:iq:register' }, xml('remove'))),
    );
    assert.equal(res.attrs.type, 'result');
    // XEP-0077 §3.2: the session ends with a not-authorized stream error.
    await a!.waitForDisconnect();
    assert.ok(streamErrors(a!).includes('not-authorized'), streamErrors(a!).join(' '));
    // RFC 6121 §3.2.2, §3.3.2: bob no longer sees alice, and both subscriptions are cancelled, from her bare JID.
    await b!.waitFor(isSub('unavailable', a!.jid));
    await b!.waitFor(isSub('unsubscribe', aliceBare));
    await b!.waitFor(isSub('unsubscribed', aliceBare));
    // Appendix A.3.3 (Both → To) then A.3.4 (To → None): bob's roster follows, pushed to his client.
    await expectPush(b!, aliceBare, { subscription: 'to' });
    await expectPush(b!, aliceBare, { subscription: 'none' });
    const item = (await rosterGet(b!)).getChild('query')?.getChildren('item')[0];
    assert.equal(item?.attrs.jid, aliceBare);
    assert.equal(item?.attrs.subscription, 'none');
    assert.equal(item?.attrs.ask, undefined);
    // The account and its data are gone, and its session ending wrote nothing back for it.
    assert.equal(await srv.server.accounts.exists('localhost', aliceName), false);
    await gone(aliceBare);
    assert.equal(await srv.server.storage.keyval('roster').get('localhost', aliceName), null);
    assert.equal(await srv.server.storage.keyval('last').get('localhost', aliceName), null);
    // Bob's probes are no longer answered for alice (RFC 6121 §8.5.1), and a new subscribe is refused.
    await b!.send(xml('presence', { type: 'subscribe', to: aliceBare }));
    await b!.waitFor(isSub('unsubscribed', aliceBare));
  });

  it('server-side deletion: remote contacts are told, pending requests answered, sessions closed', async () => {
    const name = fresh('leaver');
    await srv.addUser(name, `${name}-secret`);
    const user = await login(srv, name);
    open.push(user);
    user.xmpp.reconnect.stop();
    await rosterGet(user);
    await available(user);
    const userBare = bare(user);
    const both = `both-${name}@${REMOTE}`;
    const pendingIn = `asks-${name}@${REMOTE}`;
    const pendingOut = `asked-${name}@${REMOTE}`;
    const fromRemote = (type: string, peer: string) =>
      srv.server.router.route(xml('presence', { type, from: peer, to: userBare }), S2S);
    // Both ways with one contact; one contact's request pending in; one request of the user's pending out.
    await fromRemote('subscribe', both);
    await user.send(xml('presence', { type: 'subscribed', to: both }));
    await user.send(xml('presence', { type: 'subscribe', to: both }));
    await sync(user);
    await fromRemote('subscribed', both);
    await fromRemote('subscribe', pendingIn);
    await user.send(xml('presence', { type: 'subscribe', to: pendingOut }));
    // Directed presence to an entity that is no contact (RFC 6121 §4.6): it is owed an unavailable too.
    const room = `room-${name}@${REMOTE}/nick`;
    await user.send(xml('presence', { to: room }));
    await settle(user);
    sent.splice(0);

    await srv.server.accounts.delete('localhost', name);
    await user.waitForDisconnect();
    assert.ok(streamErrors(user).includes('not-authorized'), streamErrors(user).join(' '));
    await gone(userBare);
    // RFC 6121 §2.5.2 for each item: unsubscribe where the user was subscribed or asked, unsubscribed where the
    // contact was subscribed or asked, and unavailable (§3.2.2) where the contact saw the user's presence.
    assert.deepEqual(sentTo(both), ['unsubscribe', 'unsubscribed', 'unavailable']);
    assert.deepEqual(sentTo(pendingIn), ['unsubscribed']);
    assert.deepEqual(sentTo(pendingOut), ['unsubscribe']);
    assert.deepEqual(sentTo(room), ['unavailable']);
    for (const el of sent) {
      const from = el.attrs.type === 'unavailable' ? user.jid : userBare;
      assert.equal(el.attrs.from, from, el.toString());
    }
    assert.equal(sent.length, 6, sent.join(' '));
    assert.equal(await srv.server.storage.keyval('last').get('localhost', name), null);
  });
});
