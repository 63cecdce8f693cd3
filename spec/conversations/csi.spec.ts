// Conversations: XEP-0352 client state indication over real TCP + TLS with @xmpp/client: while a client is
// inactive, its contacts' presence updates wait, collapsed to the latest per contact; messages and iqs go through.
import assert from 'node:assert/strict';
import {
  available,
  bare,
  type ClientSession,
  dropConnection,
  type Element,
  expectNone,
  fresh,
  login,
  rosterGet,
  settle,
  stopAll,
  subscribe,
  sync,
  xml,
} from '../helpers/im-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eventually, isHibernating, NS_CSI } from '../helpers/sm-client.js';

const status = (text: string) => xml('presence', {}, xml('status', {}, text));
const isPresenceFrom = (c: ClientSession) => (el: Element) => el.is('presence') && el.attrs.from === c.jid;
const presenceLog = (c: ClientSession, contacts: ClientSession[]) =>
  c.inbox
    .filter((el) => el.is('presence') && contacts.some((k) => k.jid === el.attrs.from))
    .map((el) => `${el.attrs.from?.split('@')[0]?.replace(/[0-9]+$/, '')}:${el.getChildText('status')}`);

describe('conversations: client state indication (XEP-0352)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  const open: ClientSession[] = [];

  /**
   * Alice (a mobile-like client: stream management and CSI), subscribed to the presence of each contact, all
   * available, inboxes empty.
   */
  const setup = async (...contacts: string[]): Promise<ClientSession[]> => {
    const names = ['alice', ...contacts].map(fresh);
    await Promise.all(names.map((n) => srv.addUser(n, `${n}-secret`)));
    const cs = await Promise.all(names.map((n, i) => login(srv, n, 'r1', { streamManagement: i === 0 })));
    open.push(...cs);
    await Promise.all(cs.map((c) => rosterGet(c)));
    await Promise.all(cs.map((c) => available(c)));
    const [alice, ...others] = cs;
    for (const k of others) await subscribe(alice!, k);
    await settle(...cs);
    return cs;
  };
  const inactive = async (c: ClientSession) => {
    await c.send(xml('inactive', { xmlns: NS_CSI }));
    await sync(c);
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

  it('holds 100 presence changes while inactive and delivers the latest per contact on <active/> (§3.2, §5.1)', async () => {
    const [alice, bob, carol] = await setup('bob', 'carol');
    await inactive(alice!);
    for (let i = 0; i < 50; i++) {
      await bob!.send(status(`b${i}`));
      await carol!.send(status(`c${i}`));
    }
    await Promise.all([sync(bob!), sync(carol!)]);
    await expectNone(alice!, (el) => el.is('presence'), 200);
    // A chat state alone passes at once and leaves the presence held.
    await bob!.send(
      xml(
        'message',
        { to: alice!.jid, type: 'chat' },
        xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' }),
      ),
    );
    await alice!.waitFor((el) => el.is('message') && el.attrs.from === bob!.jid);
    await expectNone(alice!, (el) => el.is('presence'), 100);
    // Requests and answers are not held either.
    await sync(alice!);
    // §5.1: what <active/> releases is on the wire before the answer to the next request.
    await alice!.send(xml('active', { xmlns: NS_CSI }));
    await sync(alice!);
    assert.deepEqual(presenceLog(alice!, [bob!, carol!]), ['bob:b49', 'carol:c49']);
    await expectNone(
      alice!,
      (el) => el.is('presence') && el.getChildText('status') !== 'b49' && el.getChildText('status') !== 'c49',
      200,
    );
    // Active again: every update arrives as it happens.
    alice!.inbox.splice(0);
    await bob!.send(status('live'));
    await alice!.waitFor((el) => isPresenceFrom(bob!)(el) && el.getChildText('status') === 'live');
  });

  it('a message with a body passes while inactive, after the presence held before it', async () => {
    const [alice, bob, carol] = await setup('bob', 'carol');
    await inactive(alice!);
    await carol!.send(status('carol away'));
    await bob!.send(status('bob typing'));
    await bob!.send(status('bob writing'));
    await Promise.all([sync(bob!), sync(carol!)]);
    await expectNone(alice!, (el) => el.is('presence'), 150);
    await bob!.send(xml('message', { to: alice!.jid, type: 'chat' }, xml('body', {}, 'hello')));
    await alice!.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello');
    // The held presence came first, collapsed, in the order of their latest updates.
    assert.deepEqual(presenceLog(alice!, [bob!, carol!]), ['carol:carol away', 'bob:bob writing']);
    // Still inactive: new updates are held again.
    alice!.inbox.splice(0);
    await carol!.send(status('carol back'));
    await sync(carol!);
    await expectNone(alice!, (el) => el.is('presence'), 150);
    await alice!.send(xml('active', { xmlns: NS_CSI }));
    await alice!.waitFor((el) => isPresenceFrom(carol!)(el) && el.getChildText('status') === 'carol back');
  });

  it('unavailable collapses with the updates before it, and a resumed stream is active again (§5.2)', async () => {
    const [alice, bob] = await setup('bob');
    assert.ok(alice!.xmpp.streamManagement.enabled, 'xmpp.js enabled stream management');
    await inactive(alice!);
    await bob!.send(status('one'));
    await bob!.send(xml('presence', { type: 'unavailable' }));
    await sync(alice!);
    await expectNone(alice!, (el) => el.is('presence'), 150);
    // The connection drops while inactive; the resumed stream starts active and gets what was held.
    dropConnection(alice!);
    await eventually(() => isHibernating(srv, bare(alice!)), 'the session hibernates');
    const resumed = new Promise<void>((resolve) => alice!.xmpp.streamManagement.once('resumed', () => resolve()));
    await alice!.xmpp.reconnect.reconnect();
    await resumed;
    const got = await alice!.waitFor((el) => el.is('presence') && el.attrs.from === bob!.jid);
    assert.equal(got.attrs.type, 'unavailable', got.toString());
    await expectNone(alice!, (el) => el.is('presence') && el.attrs.from === bob!.jid, 150);
  });
});
