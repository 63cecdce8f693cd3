// Conversations: the in-process gateway framework (gateways/core, XEP-0100) end to end, with real @xmpp/client
// sessions and the in-memory loopback driver (spec/helpers/loopback-gateway.ts) as the legacy network.
import assert from 'node:assert/strict';
import {
  available,
  bare,
  type ClientSession,
  type Element,
  errorOf,
  expectPresence,
  fresh,
  isPresence,
  login,
  rosterGet,
  stopAll,
  sync,
  xml,
} from '../helpers/im-clients.js';
import type { LoopbackNetwork as Net } from '../helpers/loopback-gateway.js';
import { LoopbackNetwork, loopbackDefinition } from '../helpers/loopback-gateway.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const GW = 'loop.localhost';
const VIP = 'vip.localhost';
const NS_REGISTER = 'jabber:iq:register';
const NS_DATA = 'jabber:x:data';
const NS_GATEWAY = 'jabber:iq:gateway';
const NS_ROSTER = 'jabber:iq:roster';

const field = (name: string, value: string) => xml('field', { var: name }, xml('value', {}, value));
const submit = (values: Record<string, string>) =>
  xml(
    'x',
    { xmlns: NS_DATA, type: 'submit' },
    field('FORM_TYPE', NS_REGISTER),
    ...Object.entries(values).map(([k, v]) => field(k, v)),
  );
const registerSet = (to: string, ...children: Element[]) =>
  xml('iq', { type: 'set', to }, xml('query', { xmlns: NS_REGISTER }, ...children));
/** The gateway's presence: available without <show/> means logged in. */
const gatewayOnline = (el: Element) =>
  el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined && !el.getChild('show');
/** The JID of a loopback address: XEP-0106 escapes its '@'. */
const contact = (id: string) => `${id.replace(/ /g, '\\20').replace('@', '\\40')}@${GW}`;
const isRemovalPush = (jid: string) => (el: Element) =>
  el.is('iq') &&
  el.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.jid === jid &&
  el.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.subscription === 'remove';

describe('conversations: gateway framework (XEP-0100 with the loopback driver)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  let net: Net;
  const clients: ClientSession[] = [];

  before(async () => {
    net = new LoopbackNetwork();
    srv = await startTestServer({
      gatewayDrivers: [loopbackDefinition(net)],
      yaml: [
        'gateways:',
        `  ${GW}:`,
        '    driver: loopback',
        '    name: Loopback',
        '    login_timeout_seconds: 2',
        '    reconnect: { initial_seconds: 0.1, max_seconds: 0.4, stable_seconds: 5 }',
        `  ${VIP}:`,
        '    driver: loopback',
        '    allow: [vip@localhost]',
      ].join('\n'),
    });
  });
  after(async () => {
    await stopAll(clients);
    await srv?.stop();
  });

  /** A logged-in, available user with a fresh name and an account on the legacy network. */
  async function user(prefix = 'gw'): Promise<ClientSession> {
    const name = fresh(prefix);
    await srv.addUser(name, `${name}-secret`);
    const c = await login(srv, name);
    clients.push(c);
    await rosterGet(c);
    await available(c);
    net.accounts.set(name, 'pw');
    return c;
  }

  /** XEP-0100 §4.1.1 from the client's side: register, approve the gateway's request, subscribe back. */
  async function register(c: ClientSession): Promise<string> {
    const name = c.jid.split('@')[0]!;
    await c.request(registerSet(GW, submit({ username: name, password: 'pw' })));
    await c.waitFor(isPresence(GW, 'subscribe'));
    await c.send(xml('presence', { to: GW, type: 'subscribed' }));
    await c.send(xml('presence', { to: GW, type: 'subscribe' }));
    await c.waitFor(isPresence(GW, 'subscribed'));
    await c.waitFor(gatewayOnline);
    return `${name}@loop.example`;
  }

  it('is listed in the host disco#items and answers disco#info as gateway/loopback', async () => {
    const c = await user();
    const items = await c.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })),
    );
    const jids = items
      .getChild('query')
      ?.getChildren('item')
      .map((i) => i.attrs.jid);
    assert.ok(jids?.includes(GW), `items: ${jids}`);
    const info = await c.request(
      xml('iq', { type: 'get', to: GW }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    const q = info.getChild('query');
    const id = q?.getChild('identity');
    assert.deepEqual([id?.attrs.category, id?.attrs.type, id?.attrs.name], ['gateway', 'loopback', 'Loopback']);
    const features = q?.getChildren('feature').map((f) => f.attrs.var) ?? [];
    for (const f of [NS_REGISTER, NS_GATEWAY, 'http://jabber.org/protocol/disco#info'])
      assert.ok(features.includes(f), f);
  });

  it('offers an XEP-0077 registration with a data form and the legacy fields', async () => {
    const c = await user();
    const res = await c.request(xml('iq', { type: 'get', to: GW }, xml('query', { xmlns: NS_REGISTER })));
    const q = res.getChild('query', NS_REGISTER)!;
    assert.ok(q.getChildText('instructions'));
    assert.equal(q.getChild('registered'), undefined);
    assert.equal(q.getChildText('username'), '');
    assert.equal(q.getChildText('password'), '');
    const form = q.getChild('x', NS_DATA)!;
    assert.equal(form.attrs.type, 'form');
    const byVar = new Map(form.getChildren('field').map((f) => [f.attrs.var, f]));
    assert.equal(byVar.get('FORM_TYPE')?.getChildText('value'), NS_REGISTER);
    assert.equal(byVar.get('password')?.attrs.type, 'text-private');
    assert.ok(byVar.get('username')?.getChild('required'));
    assert.deepEqual(
      byVar
        .get('server')
        ?.getChildren('option')
        .map((o) => o.getChildText('value')),
      ['loop.example', 'other.example'],
    );
  });

  it('rejects bad registrations: missing fields, driver refusal, bad options', async () => {
    const c = await user();
    assert.equal(await errorOf(c.request(registerSet(GW, submit({ username: 'x' })))), 'not-acceptable');
    assert.equal(
      await errorOf(c.request(registerSet(GW, submit({ username: 'Bad Name', password: 'pw' })))),
      'not-acceptable',
    );
    assert.equal(
      await errorOf(c.request(registerSet(GW, submit({ username: 'x', password: 'pw', server: 'evil' })))),
      'not-acceptable',
    );
    // Not registered: messages and login presence are refused with registration-required (XEP-0100 §4.4.2).
    assert.equal(await errorOf(c.request(registerSet(GW, xml('remove')))), 'registration-required');
    await c.send(xml('message', { to: contact('bob@loop.example'), type: 'chat', id: 'm1' }, xml('body', {}, 'hi')));
    const err = await c.waitFor((el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'm1');
    assert.ok(err.getChild('error')?.getChild('registration-required'));
  });

  it('registers with a real client, appears in the roster, logs in on presence and shows its state', async () => {
    const c = await user();
    const name = c.jid.split('@')[0]!;
    // Legacy elements (XEP-0077 §3.1) work as well as the form.
    await c.request(registerSet(GW, xml('username', {}, name), xml('password', {}, 'pw')));
    const sub = await c.waitFor(isPresence(GW, 'subscribe'));
    assert.equal(sub.attrs.to, bare(c));
    await c.send(xml('presence', { to: GW, type: 'subscribed' }));
    const connecting = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === GW && el.getChildText('show') === 'xa',
    );
    assert.equal(connecting.getChildText('status'), 'connecting…');
    await c.waitFor(gatewayOnline);
    assert.ok(net.online.has(`${name}@loop.example`));
    const roster = await rosterGet(c);
    const item = roster
      .getChild('query')
      ?.getChildren('item')
      .find((i) => i.attrs.jid === GW);
    assert.equal(item?.attrs.subscription, 'from');
    const reg = await c.request(xml('iq', { type: 'get', to: GW }, xml('query', { xmlns: NS_REGISTER })));
    const q = reg.getChild('query')!;
    assert.ok(q.getChild('registered'));
    assert.equal(q.getChildText('username'), name);
    assert.equal(q.getChildText('password'), '', 'the stored password is never echoed');
  });

  it('carries messages both ways, with XEP-0106 escaped contact JIDs', async () => {
    const c = await user();
    const me = await register(c);
    await c.send(xml('message', { to: contact('bob@loop.example'), type: 'chat' }, xml('body', {}, 'hello bob')));
    const [out] = await net.sentTo('bob@loop.example', 1);
    assert.deepEqual(out, { from: me, to: 'bob@loop.example', body: 'hello bob' });
    net.deliver('bob smith@other.example', me, 'hi there');
    const msg = await c.waitFor((el) => el.is('message') && el.getChildText('body') === 'hi there');
    assert.equal(msg.attrs.from, 'bob\\20smith\\40other.example@loop.localhost');
    assert.equal(msg.attrs.type, 'chat');
    // A refusal of the legacy network comes back as an error on that message.
    await c.send(xml('message', { to: contact('nobody@loop.example'), id: 'nb' }, xml('body', {}, 'x')));
    const err = await c.waitFor((el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'nb');
    assert.ok(err.getChild('error')?.getChild('item-not-found'));
  });

  it('keeps messages to one peer in order although the driver sends asynchronously', async () => {
    const c = await user();
    await register(c);
    net.sendJitterMs = 25;
    const bodies = Array.from({ length: 25 }, (_, i) => `m${i}`);
    for (const b of bodies) await c.send(xml('message', { to: contact('ordered@loop.example') }, xml('body', {}, b)));
    const got = await net.sentTo('ordered@loop.example', bodies.length, 10_000);
    net.sendJitterMs = 15;
    assert.deepEqual(
      got.map((s) => s.body),
      bodies,
    );
  });

  it('maps legacy subscription requests (XEP-0172 nick) and presence', async () => {
    const c = await user();
    const me = await register(c);
    const friend = contact('friend@loop.example');
    net.askSubscription('friend@loop.example', me, 'Friend');
    const req = await c.waitFor(isPresence(friend, 'subscribe'));
    assert.equal(req.getChildText('nick', 'http://jabber.org/protocol/nick'), 'Friend');
    await c.send(xml('presence', { to: friend, type: 'subscribed' }));
    await c.send(xml('presence', { to: friend, type: 'subscribe' }));
    await c.waitFor(isPresence(friend, 'subscribed'));
    net.presence('friend@loop.example', me, { available: true, show: 'dnd', status: 'busy' });
    const p = await expectPresence(c, friend);
    assert.equal(p.getChildText('show'), 'dnd');
    assert.equal(p.getChildText('status'), 'busy');
  });

  it('translates legacy addresses with jabber:iq:gateway (XEP-0100 §6.3)', async () => {
    const c = await user();
    const get = await c.request(xml('iq', { type: 'get', to: GW }, xml('query', { xmlns: NS_GATEWAY })));
    assert.equal(get.getChild('query')?.getChildText('prompt'), 'Loopback address');
    assert.ok(get.getChild('query')?.getChildText('desc'));
    const set = await c.request(
      xml(
        'iq',
        { type: 'set', to: GW },
        xml('query', { xmlns: NS_GATEWAY }, xml('prompt', {}, ' Bob Smith@Loop.Example ')),
      ),
    );
    assert.equal(set.getChild('query')?.getChildText('jid'), 'bob\\20smith\\40loop.example@loop.localhost');
    const bad = c.request(
      xml('iq', { type: 'set', to: GW }, xml('query', { xmlns: NS_GATEWAY }, xml('prompt', {}, 'no-at'))),
    );
    assert.equal(await errorOf(bad), 'not-acceptable');
  });

  it('logs out after the last resource goes unavailable, not before', async () => {
    const c = await user();
    const me = await register(c);
    const r2 = await login(srv, c.jid.split('@')[0]!, 'r2');
    clients.push(r2);
    await available(r2);
    await sync(r2);
    const before = net.logouts;
    await c.send(xml('presence', { type: 'unavailable' }));
    await sync(c);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(net.online.has(me), 'still logged in while r2 is available');
    await r2.send(xml('presence', { type: 'unavailable' }));
    await sync(r2);
    const deadline = Date.now() + 2000;
    while (net.online.has(me) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!net.online.has(me), 'logged out');
    assert.equal(net.logouts, before + 1);
  });

  it('reconnects with exponential backoff and jitter, showing the state as the gateway presence', async () => {
    const c = await user();
    const me = await register(c);
    net.down = true;
    const from = net.attempts.length;
    net.drop(me, 'connection reset by peer');
    const lost = await c.waitFor(
      (el) => isPresence(GW, 'unavailable')(el) && el.getChildText('status') === 'connection reset by peer',
    );
    assert.ok(lost);
    while (net.attempts.length < from + 4) await new Promise((r) => setTimeout(r, 20));
    net.down = false;
    await c.waitFor(gatewayOnline, 3000);
    const at = net.attempts.slice(from, from + 4);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // Base delays 200, 400 (capped) ms after the first 100: equal jitter keeps each within [base/2, base].
    assert.ok(gaps[0]! >= 90 && gaps[0]! <= 400 + 100, `gap ${gaps[0]}`);
    assert.ok(gaps[1]! >= 190 && gaps[1]! <= 400 + 100, `gap ${gaps[1]}`);
    assert.ok(gaps[2]! >= 190 && gaps[2]! <= 400 + 100, `capped gap ${gaps[2]}`);
  });

  it('stops retrying after a permanent login failure and says why', async () => {
    const c = await user();
    const name = c.jid.split('@')[0]!;
    net.accounts.set(name, 'other-password');
    await c.request(registerSet(GW, submit({ username: name, password: 'pw' })));
    await c.waitFor(isPresence(GW, 'subscribe'));
    const from = net.attempts.length;
    await c.send(xml('presence', { to: GW, type: 'subscribed' }));
    const failed = await c.waitFor(
      (el) => isPresence(GW, 'unavailable')(el) && el.getChildText('status') === 'wrong password',
    );
    assert.ok(failed);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(net.attempts.length, from + 1, 'no retry after not-authorized');
  });

  it('refuses users outside the allow-list', async () => {
    const c = await user();
    const get = c.request(xml('iq', { type: 'get', to: VIP }, xml('query', { xmlns: NS_REGISTER })));
    assert.equal(await errorOf(get), 'forbidden');
    const set = c.request(registerSet(VIP, submit({ username: 'x', password: 'pw' })));
    assert.equal(await errorOf(set), 'forbidden');
    await c.send(xml('message', { to: `a\\40b@${VIP}`, id: 'vip1' }, xml('body', {}, 'x')));
    const err = await c.waitFor((el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'vip1');
    assert.ok(err.getChild('error')?.getChild('forbidden'));
    await srv.addUser('vip', 'vip-secret');
    const vip = await login(srv, 'vip');
    clients.push(vip);
    const ok = await vip.request(xml('iq', { type: 'get', to: VIP }, xml('query', { xmlns: NS_REGISTER })));
    assert.ok(ok.getChild('query', NS_REGISTER)?.getChild('x', NS_DATA));
  });

  it('unregisters: purges legacy contacts, logs out and forgets the credentials (XEP-0100 §4.3)', async () => {
    const c = await user();
    const me = await register(c);
    const friend = contact('pal@loop.example');
    net.askSubscription('pal@loop.example', me);
    await c.waitFor(isPresence(friend, 'subscribe'));
    await c.send(xml('presence', { to: friend, type: 'subscribed' }));
    await sync(c);
    const roster = await rosterGet(c);
    assert.ok(
      roster
        .getChild('query')
        ?.getChildren('item')
        .some((i) => i.attrs.jid === friend),
    );
    await c.request(registerSet(GW, xml('remove')));
    await c.waitFor(isRemovalPush(friend));
    await c.waitFor(isPresence(GW, 'unsubscribe'));
    await c.waitFor(isPresence(GW, 'unsubscribed'));
    assert.ok(!net.online.has(me));
    const after = await rosterGet(c);
    assert.ok(
      !after
        .getChild('query')
        ?.getChildren('item')
        .some((i) => i.attrs.jid === friend),
    );
    const reg = await c.request(xml('iq', { type: 'get', to: GW }, xml('query', { xmlns: NS_REGISTER })));
    assert.equal(reg.getChild('query')?.getChild('registered'), undefined);
  });

  it('edits a registration without retyping the password (XEP-0100 §4.2)', async () => {
    const c = await user();
    const me = await register(c);
    const name = c.jid.split('@')[0]!;
    await c.request(registerSet(GW, submit({ username: name })));
    // New credentials take effect by logging in again.
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.getChildText('show') === 'xa');
    await c.waitFor(gatewayOnline);
    assert.ok(net.online.has(me));
  });
});
