// Conversations: RFC 6121 §2 roster management over real TCP + TLS: get, set, pushes, remove, versioning (§2.6),
// the §2.3.3 / §2.5.3 error cases, and clients trying to use or forge what only the server may.
import assert from 'node:assert/strict';
import {
  available,
  bare,
  type ClientSession,
  type Element,
  errorOf,
  expectNone,
  expectPresence,
  expectPush,
  fresh,
  isPush,
  items,
  login,
  loginAll,
  NS_ROSTER,
  rosterGet,
  rosterSet,
  settle,
  stopAll,
  subscribe,
  sync,
  xml,
} from '../helpers/im-clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const errorCondition = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;

describe('conversations: roster (RFC 6121 §2)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  const open: ClientSession[] = [];
  const track = <T extends ClientSession[]>(cs: T): T => {
    open.push(...cs);
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

  it('get, set and update: pushes go to every interested resource, not to one that never asked (§2.1.6)', async () => {
    const name = fresh('alice');
    await srv.addUser(name, `${name}-secret`);
    const [r1, r2, r3] = track(
      await Promise.all([login(srv, name, 'r1'), login(srv, name, 'r2'), login(srv, name, 'r3')]),
    );
    // §2.1.3: an empty roster is an empty query.
    const empty = await rosterGet(r1!);
    assert.equal(empty.attrs.type, 'result');
    assert.deepEqual(items(empty.getChild('query', NS_ROSTER)), []);
    await rosterGet(r2!);
    // §2.3.2: the set is answered with an empty result and pushed to both interested resources.
    const res = await rosterSet(r1!, { jid: 'nurse@example.com', name: 'Nurse' }, ['Servants']);
    assert.equal(res.attrs.type, 'result');
    assert.equal(res.getChildElements().length, 0);
    for (const r of [r1!, r2!]) {
      const push = await expectPush(r, 'nurse@example.com', { subscription: 'none', name: 'Nurse' });
      assert.deepEqual(
        push
          .getChild('query')
          ?.getChild('item')
          ?.getChildren('group')
          .map((g) => g.getText()),
        ['Servants'],
      );
    }
    await expectNone(r3!, isPush('nurse@example.com'));
    // §2.4: an update replaces name and groups; the client cannot set subscription, ask or approved (§2.1.2).
    await rosterSet(r2!, { jid: 'nurse@example.com', subscription: 'both', ask: 'subscribe', approved: 'true' }, [
      'A',
      'B',
    ]);
    for (const r of [r1!, r2!]) {
      const push = await expectPush(r, 'nurse@example.com', { subscription: 'none' });
      const item = push.getChild('query')?.getChild('item');
      assert.equal(item?.attrs.name, undefined, 'no name in the set removes the name');
      assert.deepEqual(
        item?.getChildren('group').map((g) => g.getText()),
        ['A', 'B'],
      );
    }
    const got = items((await rosterGet(r3!)).getChild('query', NS_ROSTER));
    assert.equal(got.length, 1);
    assert.equal(got[0]?.attrs.jid, 'nurse@example.com');
    assert.equal(got[0]?.attrs.subscription, 'none');
    assert.equal(got[0]?.attrs.ask, undefined);
  });

  it('remove (§2.5): pushed with subscription="remove", gone from the next get', async () => {
    const [a] = track(await loginAll(srv, [fresh('alice')]));
    await rosterGet(a!);
    await rosterSet(a!, { jid: 'romeo@example.net' });
    await expectPush(a!, 'romeo@example.net', { subscription: 'none' });
    await rosterSet(a!, { jid: 'romeo@example.net', subscription: 'remove' });
    await expectPush(a!, 'romeo@example.net', { subscription: 'remove' });
    assert.deepEqual(items((await rosterGet(a!)).getChild('query', NS_ROSTER)), []);
    // §2.5.3: removing what is not there is item-not-found.
    assert.equal(await errorOf(rosterSet(a!, { jid: 'romeo@example.net', subscription: 'remove' })), 'item-not-found');
  });

  describe('roster set error cases (§2.3.3)', () => {
    let a: ClientSession;
    before(async () => {
      [a] = (await loginAll(srv, [fresh('alice')])) as [ClientSession];
      await rosterGet(a);
    });
    after(async () => {
      await a?.stop();
    });
    const setQuery = (...children: Element[]) =>
      a.request(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_ROSTER }, ...children)));
    const cases: [string, () => Promise<unknown>, string][] = [
      [
        'more than one item',
        () => setQuery(xml('item', { jid: 'a@example.com' }), xml('item', { jid: 'b@example.com' })),
        'bad-request',
      ],
      ['no item', () => setQuery(), 'bad-request'],
      ['duplicate groups', () => rosterSet(a, { jid: 'c@example.com' }, ['G', 'G']), 'bad-request'],
      ['an empty group', () => rosterSet(a, { jid: 'c@example.com' }, ['']), 'not-acceptable'],
      [
        'a group of 1024 characters',
        () => rosterSet(a, { jid: 'c@example.com' }, ['g'.repeat(1024)]),
        'not-acceptable',
      ],
      [
        'a name of 1024 characters',
        () => rosterSet(a, { jid: 'c@example.com', name: 'n'.repeat(1024) }),
        'not-acceptable',
      ],
      ["the user's own JID", () => rosterSet(a, { jid: bare(a) }), 'not-allowed'],
      ['a malformed JID', () => rosterSet(a, { jid: 'a@b@c' }), 'jid-malformed'],
      ['a full JID', () => rosterSet(a, { jid: 'c@example.com/phone' }), 'bad-request'],
      ['no JID', () => rosterSet(a, { name: 'x' }), 'bad-request'],
    ];
    for (const [what, run, condition] of cases) {
      it(`${what} → ${condition}, nothing pushed`, async () => {
        assert.equal(await errorOf(run()), condition);
        await expectNone(a, (el) => el.is('iq') && el.attrs.type === 'set', 50);
      });
    }
    it('limits that hold: a name and a group of 1023 characters are accepted', async () => {
      await rosterSet(a, { jid: 'long@example.com', name: 'n'.repeat(1023) }, ['g'.repeat(1023)]);
      await expectPush(a, 'long@example.com', { subscription: 'none', name: 'n'.repeat(1023) });
    });
  });

  it("refuses another user's roster: get and set to a bare JID that is not the sender's (§2.1.3, §2.3.3)", async () => {
    const [a, b] = track(await loginAll(srv, [fresh('alice'), fresh('bob')]));
    await rosterGet(b!);
    await rosterSet(b!, { jid: 'friend@example.com' });
    await settle(b!);
    const get = a!.request(xml('iq', { type: 'get', to: bare(b!) }, xml('query', { xmlns: NS_ROSTER })));
    assert.equal(await errorOf(get), 'forbidden');
    const set = a!.request(
      xml(
        'iq',
        { type: 'set', to: bare(b!) },
        xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'evil@example.com' })),
      ),
    );
    assert.equal(await errorOf(set), 'forbidden');
    await expectNone(b!, (el) => el.is('iq') && el.attrs.type === 'set');
    const list = items((await rosterGet(b!)).getChild('query', NS_ROSTER)).map((i) => i.attrs.jid);
    assert.deepEqual(list, ['friend@example.com']);
  });

  it("refuses a roster set carrying another user's 'from' (RFC 6120 §8.1.2.1: invalid-from stream error)", async () => {
    const [victim] = track(await loginAll(srv, [fresh('bob')]));
    const attacker = fresh('mallory');
    await srv.addUser(attacker, `${attacker}-secret`);
    const raw = await RawClient.login({
      port: srv.port,
      username: attacker,
      password: `${attacker}-secret`,
      resource: 'x',
    });
    try {
      raw.send(
        `<iq type='set' id='spoof1' from='${victim!.jid}'><query xmlns='${NS_ROSTER}'><item jid='evil@example.com'/></query></iq>`,
      );
      assert.equal(await raw.waitForStreamError(), 'invalid-from');
    } finally {
      raw.destroy();
    }
    assert.deepEqual(items((await rosterGet(victim!)).getChild('query', NS_ROSTER)), []);
  });

  it('a client cannot send a roster push: an iq set jabber:iq:roster to a full JID is refused, not delivered (§2.1.6)', async () => {
    const name = fresh('bob');
    const [b] = track(await loginAll(srv, [name]));
    const [b2] = track([await login(srv, name, 'r2')]);
    const mallory = fresh('mallory');
    await srv.addUser(mallory, `${mallory}-secret`);
    const raw = await RawClient.login({
      port: srv.port,
      username: mallory,
      password: `${mallory}-secret`,
      resource: 'x',
    });
    try {
      await rosterGet(b!);
      // From another account, to the victim's full JID.
      const reply = await raw.iq(
        `<iq type='set' id='ID' to='${b!.jid}'><query xmlns='${NS_ROSTER}'><item jid='evil@example.com'/></query></iq>`,
      );
      assert.equal(reply.attrs.type, 'error');
      assert.equal(errorCondition(reply), 'forbidden');
    } finally {
      raw.destroy();
    }
    // From the victim's own other resource, to its full JID: also refused.
    const own = b2!.request(
      xml(
        'iq',
        { type: 'set', to: b!.jid },
        xml('query', { xmlns: NS_ROSTER }, xml('item', { jid: 'evil@example.com' })),
      ),
    );
    assert.equal(await errorOf(own), 'forbidden');
    await expectNone(b!, (el) => el.is('iq') && el.attrs.type === 'set');
  });

  it('versioning (§2.6): the feature, ver on results and pushes, an empty result when the client is current', async () => {
    const name = fresh('alice');
    await srv.addUser(name, `${name}-secret`);
    const raw = await RawClient.login({ port: srv.port, username: name, password: `${name}-secret`, noBind: true });
    try {
      assert.ok(
        raw.features?.getChild('ver', 'urn:xmpp:features:rosterver'),
        'rosterver is offered after authentication',
      );
      assert.ok(raw.features?.getChild('sub', 'urn:xmpp:features:pre-approval'), 'pre-approval is offered (§3.4.1)');
    } finally {
      raw.destroy();
    }
    const [a] = track([await login(srv, name)]);
    const first = (await rosterGet(a!, '')).getChild('query', NS_ROSTER);
    assert.ok(first?.attrs.ver !== undefined, 'a full roster with its version');
    const v0 = first.attrs.ver;
    // Current: an empty result (no query).
    const current = await rosterGet(a!, v0);
    assert.equal(current.getChildElements().length, 0);
    // A change: the push carries the new version.
    await rosterSet(a!, { jid: 'juliet@example.com' });
    const push = await expectPush(a!, 'juliet@example.com', { subscription: 'none' });
    const v1 = push.getChild('query', NS_ROSTER)?.attrs.ver;
    assert.ok(v1 !== undefined && v1 !== v0);
    // An old version gets the whole roster and the new version.
    const full = (await rosterGet(a!, v0)).getChild('query', NS_ROSTER);
    assert.equal(full?.attrs.ver, v1);
    assert.deepEqual(
      items(full).map((i) => i.attrs.jid),
      ['juliet@example.com'],
    );
    assert.equal((await rosterGet(a!, v1)).getChildElements().length, 0);
    // A client that does not use versioning sees no 'ver'.
    assert.equal((await rosterGet(a!)).getChild('query', NS_ROSTER)?.attrs.ver, undefined);
  });

  it('removing a contact with a mutual subscription sends unsubscribe and unsubscribed (§2.5.2)', async () => {
    const [a, b] = track(await loginAll(srv, [fresh('alice'), fresh('bob')]));
    await Promise.all([rosterGet(a!), rosterGet(b!)]);
    await Promise.all([available(a!), available(b!)]);
    await subscribe(a!, b!);
    await subscribe(b!, a!);
    await settle(a!, b!);
    await rosterSet(a!, { jid: bare(b!), subscription: 'remove' });
    await expectPush(a!, bare(b!), { subscription: 'remove' });
    // Bob's server processes both: unsubscribe (Both → To), then unsubscribed (To → None).
    await b!.waitFor((el) => el.is('presence') && el.attrs.type === 'unsubscribe' && el.attrs.from === bare(a!));
    await b!.waitFor((el) => el.is('presence') && el.attrs.type === 'unsubscribed' && el.attrs.from === bare(a!));
    await expectPush(b!, bare(a!), { subscription: 'to' });
    await expectPush(b!, bare(a!), { subscription: 'none' });
    // Each side stops seeing the other.
    await expectPresence(b!, a!.jid, 'unavailable');
    await expectPresence(a!, b!.jid, 'unavailable');
    await sync(b!);
  });

  it('max_items: a roster set beyond the limit is refused with not-allowed', async () => {
    const small = await startTestServer({ yaml: 'modules:\n  roster: { max_items: 2 }' });
    try {
      const [a] = await loginAll(small, ['alice']);
      try {
        await rosterGet(a!);
        await rosterSet(a!, { jid: 'one@example.com' });
        await rosterSet(a!, { jid: 'two@example.com' });
        assert.equal(await errorOf(rosterSet(a!, { jid: 'three@example.com' })), 'not-allowed');
        // Updating an existing item is still fine; so is a subscribe to a contact already there.
        await rosterSet(a!, { jid: 'two@example.com', name: 'Two' });
        // A subscribe that would add a third item is refused too, with a presence error.
        await a!.send(xml('presence', { type: 'subscribe', to: 'four@example.com' }));
        const err = await a!.waitFor((el) => el.is('presence') && el.attrs.type === 'error');
        assert.equal(errorCondition(err), 'not-allowed');
        assert.equal(items((await rosterGet(a!)).getChild('query', NS_ROSTER)).length, 2);
      } finally {
        await a!.stop();
      }
    } finally {
      await small.stop();
    }
  });
});
