// Presence on the SIP gateway's listener (mode `domain`) with raw SIP user agents: the notifier's rules (RFC 6665
// §4.2: Event, Accept, Expires, fetch, pending watchers under the `contacts` policy and their approval, RFC 8048 §5)
// and the presence agent's (RFC 3903 §6: entity-tags, 412, 415, publishing for oneself only).
import assert from 'node:assert/strict';
import { type ClientSession, fresh, isPresence, login, rosterGet, stopAll, xml } from '../helpers/im-clients.js';
import { registerWithGateway } from '../helpers/irc-gateway.js';
import type { TestServer } from '../helpers/server.js';
import { SIP_GW as GW, type RequestParts, SipUdp, sipRequest, startSipGatewayServer, uniq } from '../helpers/sip.js';

const PIDF = (entity: string, note: string) =>
  `<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="${entity}"><tuple id="a1"><status><basic>open</basic></status><note>${note}</note></tuple></presence>`;

describe('SIP gateway: presence rules on the SIP side (RFC 6665, RFC 3903)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let port: number;
  let ua: SipUdp;
  const clients: ClientSession[] = [];

  before(async () => {
    ({ srv, port } = await startSipGatewayServer(['presence_authorization: contacts', 'min_expires: 30']));
    ua = await SipUdp.open();
    ua.autoAnswer('NOTIFY');
  });
  after(async () => {
    await stopAll(clients);
    await ua?.close();
    await srv?.stop();
  });

  async function xmppUser(): Promise<{ c: ClientSession; name: string }> {
    const name = fresh('sippres');
    await srv.addUser(name, `${name}-secret`);
    const c = await login(srv, name);
    clients.push(c);
    await rosterGet(c);
    await c.send(xml('presence', {}, xml('status', {}, 'around')));
    await registerWithGateway(c, GW, {});
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
    return { c, name };
  }

  const me = () => `sip:w@127.0.0.1:${ua.port}`;

  async function send(p: Omit<RequestParts, 'via' | 'callId'>, callId = uniq('c')) {
    await ua.send(sipRequest({ ...p, via: ua.via, callId }), port);
    return { res: await ua.response(callId), callId };
  }

  const subscribe = (user: string, headers: string[]) =>
    send({
      method: 'SUBSCRIBE',
      uri: `sip:${user}@localhost`,
      from: me(),
      to: `sip:${user}@localhost`,
      headers: [`Contact: <${me()}>`, ...headers],
    });

  const notifyFor = (callId: string) =>
    ua.next((m) => m.kind === 'request' && m.method === 'NOTIFY' && m.headers.get('Call-ID') === callId, 5000);

  it('checks Event (489), Accept (406) and Expires (423 with Min-Expires)', async () => {
    const { name } = await xmppUser();
    assert.equal((await subscribe(name, ['Event: dialog', 'Expires: 60'])).res.status, 489);
    const acc = await subscribe(name, ['Event: presence', 'Accept: text/html', 'Expires: 60']);
    assert.equal(acc.res.status, 406);
    const brief = await subscribe(name, ['Event: presence', 'Expires: 5']);
    assert.equal(brief.res.status, 423);
    assert.equal(brief.res.headers.get('Min-Expires'), '30');
  });

  it('keeps an unknown watcher pending and asks the user; `subscribed` approves, `unsubscribed` rejects (RFC 8048 §5)', async () => {
    const { c, name } = await xmppUser();
    const { res, callId } = await subscribe(name, ['Event: presence', 'Accept: application/pidf+xml', 'Expires: 60']);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('Contact'), 'the 200 names the notifier (RFC 6665 §4.2.1.1)');
    const pending = await notifyFor(callId);
    assert.match(pending.headers.get('Subscription-State') ?? '', /^pending/);
    assert.equal(pending.body.length, 0, 'no state while pending (RFC 6665 §4.2.2)');
    const watcherJid = `w\\40127.0.0.1\\3a${ua.port}@${GW}`;
    await c.waitFor(isPresence(watcherJid, 'subscribe'), 5000);
    await c.send(xml('presence', { to: watcherJid, type: 'subscribed' }));
    const active = await notifyFor(callId);
    assert.match(active.headers.get('Subscription-State') ?? '', /^active;expires=\d+/);
    assert.match(active.body.toString(), /<basic>open<\/basic>[\s\S]*<note>around<\/note>/);
    await c.send(xml('presence', { to: watcherJid, type: 'unsubscribed' }));
    const ended = await notifyFor(callId);
    assert.match(ended.headers.get('Subscription-State') ?? '', /^terminated;reason=rejected/);
    assert.equal(ended.body.length, 0, 'a rejected watcher gets no state');
  });

  it('subscribes to a SIP notifier, shows its NOTIFYs, and turns `rejected` into unsubscribed (RFC 8048 §5)', async () => {
    const { c } = await xmppUser();
    const notifier = await SipUdp.open();
    try {
      const contact = `n\\40127.0.0.1\\3a${notifier.port}@${GW}`;
      await c.send(xml('presence', { to: contact, type: 'subscribe' }));
      const sub = await notifier.next((m) => m.kind === 'request' && m.method === 'SUBSCRIBE', 5000);
      assert.equal(sub.headers.get('Event'), 'presence');
      assert.equal(sub.headers.get('Accept'), 'application/pidf+xml');
      const toTag = uniq('nt');
      const gwContact = /<([^>]+)>/.exec(sub.headers.get('Contact') ?? '')?.[1] ?? '';
      const gwPort = Number(/:(\d+)/.exec(gwContact.replace(/^sip:[^@]*@/, ''))?.[1]);
      await notifier.reply(
        sub,
        200,
        'OK',
        gwPort,
        [`Expires: 60`, `Contact: <sip:n@127.0.0.1:${notifier.port}>`].concat([]),
        toTag,
      );
      await c.waitFor(isPresence(contact, 'subscribed'), 5000);
      const notify = (state: string, body?: string) =>
        notifier.send(
          sipRequest({
            method: 'NOTIFY',
            uri: gwContact,
            from: `sip:n@127.0.0.1:${notifier.port}`,
            fromTag: toTag,
            to: /<([^>]+)>/.exec(sub.headers.get('From') ?? '')?.[1] ?? '',
            toTag: /tag=([^;>\s]+)/.exec(sub.headers.get('From') ?? '')?.[1] ?? '',
            callId: sub.headers.get('Call-ID') ?? '',
            cseq: state.startsWith('active') ? 1 : 2,
            via: notifier.via,
            headers: ['Event: presence', `Subscription-State: ${state}`, `Contact: <sip:n@127.0.0.1:${notifier.port}>`],
            ...(body ? { body, contentType: 'application/pidf+xml' } : {}),
          }),
          gwPort,
        );
      await notify('active;expires=60', PIDF(`sip:n@127.0.0.1:${notifier.port}`, 'reachable'));
      const p = await c.waitFor(
        (el) => el.is('presence') && el.attrs.from === contact && el.attrs.type === undefined,
        5000,
      );
      assert.equal(p.getChildText('status'), 'reachable');
      await notify('terminated;reason=rejected');
      await c.waitFor(isPresence(contact, 'unsubscribed'), 5000);
    } finally {
      await notifier.close();
    }
  });

  it('answers a fetch (Expires: 0) with one terminated NOTIFY, without state for an unapproved watcher', async () => {
    const { c, name } = await xmppUser();
    const { res, callId } = await subscribe(name, ['Event: presence', 'Expires: 0']);
    assert.equal(res.status, 200);
    const n = await notifyFor(callId);
    assert.match(n.headers.get('Subscription-State') ?? '', /^terminated/);
    assert.equal(n.body.length, 0, 'the contacts policy shows nothing to a stranger (RFC 6665 §4.4.3, §4.2.2)');
    // Approved (the user subscribed to the watcher), a fetch carries the state.
    const watcherJid = `w\\40127.0.0.1\\3a${ua.port}@${GW}`;
    await c.send(xml('presence', { to: watcherJid, type: 'subscribe' }));
    await c.waitFor(isPresence(watcherJid, 'subscribed'), 10_000);
    const again = await subscribe(name, ['Event: presence', 'Expires: 0']);
    assert.match((await notifyFor(again.callId)).body.toString(), /<basic>open<\/basic>/);
  });

  it('answers 481 to a NOTIFY or in-dialog SUBSCRIBE for no subscription, 200 with Allow to OPTIONS', async () => {
    const notify = await send({
      method: 'NOTIFY',
      uri: 'sip:x@localhost',
      from: me(),
      to: 'sip:x@localhost;tag=nope',
      headers: ['Event: presence', 'Subscription-State: active'],
    });
    assert.equal(notify.res.status, 481);
    const resub = await send({
      method: 'SUBSCRIBE',
      uri: 'sip:x@localhost',
      from: me(),
      to: 'sip:x@localhost>;tag=nope<',
      headers: ['Event: presence', `Contact: <${me()}>`],
    });
    assert.ok([400, 481].includes(resub.res.status));
    const opt = await send({ method: 'OPTIONS', uri: 'sip:x@localhost', from: me(), to: 'sip:x@localhost' });
    assert.equal(opt.res.status, 200);
    assert.match(opt.res.headers.get('Allow') ?? '', /PUBLISH/);
  });

  it('runs PUBLISH per RFC 3903 §6: ETag, refresh, 412, 415, 400, remove, and for oneself only', async () => {
    const aor = 'sip:pub@pbx.test';
    const publish = (headers: string[], body?: string, contentType = 'application/pidf+xml', from = aor) =>
      send({
        method: 'PUBLISH',
        uri: aor,
        from,
        to: aor,
        headers: ['Event: presence', ...headers],
        ...(body !== undefined ? { body, contentType } : {}),
      });
    assert.equal(
      (await publish(['Expires: 60'], PIDF(aor, 'x'), 'application/pidf+xml', 'sip:other@pbx.test')).res.status,
      403,
    );
    assert.equal((await publish(['Expires: 60'])).res.status, 400, 'an initial PUBLISH needs a body');
    assert.equal((await publish(['Expires: 60'], 'hello', 'text/plain')).res.status, 415);
    assert.equal((await publish(['Expires: 60'], '<presence xmlns="urn:other"/>')).res.status, 400);
    assert.equal((await publish(['Expires: 60', 'SIP-If-Match: nope'])).res.status, 412);
    const first = await publish(['Expires: 60'], PIDF(aor, 'first'));
    assert.equal(first.res.status, 200);
    const etag = first.res.headers.get('SIP-ETag') ?? '';
    assert.ok(etag);
    const refresh = await publish(['Expires: 60', `SIP-If-Match: ${etag}`]);
    assert.equal(refresh.res.status, 200);
    const etag2 = refresh.res.headers.get('SIP-ETag') ?? '';
    assert.notEqual(etag2, etag);
    assert.equal((await publish(['Expires: 60', `SIP-If-Match: ${etag}`])).res.status, 412, 'the old tag is gone');
    // An XMPP user subscribing to the publisher sees the published state.
    const { c } = await xmppUser();
    const contact = `pub\\40pbx.test@${GW}`;
    await c.send(xml('presence', { to: contact, type: 'subscribe' }));
    const p = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contact && el.attrs.type === undefined,
      5000,
    );
    assert.equal(p.getChildText('status'), 'first');
    assert.equal((await publish(['Expires: 0', `SIP-If-Match: ${etag2}`])).res.status, 200);
    await c.waitFor((el) => el.is('presence') && el.attrs.from === contact && el.attrs.type === 'unavailable', 5000);
  });
});
