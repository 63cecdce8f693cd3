// Bad input against the SIP gateway's listener (gateways/sip, mode `domain`) with raw UDP and TCP sockets: every
// malformed or unwelcome request gets the right SIP status (RFC 3261 §8.2, §21) and nothing crashes; a flood is met
// with 503 + Retry-After (§21.5.4); the gateway still delivers a good MESSAGE to an XMPP user afterwards.
import assert from 'node:assert/strict';
import { type ClientSession, fresh, login, rosterGet, stopAll, xml } from '../helpers/im-clients.js';
import { registerWithGateway } from '../helpers/irc-gateway.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { SipTcp, SipUdp, sipRequest, uniq } from '../helpers/sip.js';

const GW = 'sip.localhost';

describe('SIP gateway: bad input on the SIP listener', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let port: number;
  let authPort: number;
  let udp: SipUdp;
  const clients: ClientSession[] = [];

  before(async () => {
    port = await freePort();
    authPort = await freePort();
    const listen = (p: number) =>
      `[{ transport: udp, address: 127.0.0.1, port: ${p} }, { transport: tcp, address: 127.0.0.1, port: ${p} }]`;
    srv = await startTestServer({
      yaml: [
        'gateways:',
        `  ${GW}:`,
        '    driver: sip',
        '    options:',
        '      mode: domain',
        `      sip_listen: ${listen(port)}`,
        '      aliases: [127.0.0.1]',
        '      xmpp_domain: localhost',
        '      presence_authorization: open',
        '      timer_t1_ms: 50',
        '      rate_per_source: 20',
        '      rate_burst: 40',
        '  auth.sip.localhost:',
        '    driver: sip',
        '    options:',
        '      mode: domain',
        `      sip_listen: ${listen(authPort)}`,
        '      xmpp_domain: localhost',
        '      inbound_auth: { realm: auth.sip.localhost, users: { bob: bobpw } }',
      ].join('\n'),
    });
    udp = await SipUdp.open();
  });
  after(async () => {
    await stopAll(clients);
    await udp?.close();
    await srv?.stop();
  });

  /** A logged-in XMPP user registered with the gateway and online there. */
  async function xmppUser(): Promise<{ c: ClientSession; name: string }> {
    const name = fresh('sipbad');
    await srv.addUser(name, `${name}-secret`);
    const c = await login(srv, name);
    clients.push(c);
    await rosterGet(c);
    await c.send(xml('presence'));
    await registerWithGateway(c, GW, {});
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
    return { c, name };
  }

  const message = (to: string, body = 'hi', extra: Partial<Parameters<typeof sipRequest>[0]> = {}) =>
    sipRequest({
      method: 'MESSAGE',
      uri: `sip:${to}@localhost`,
      from: `sip:bob@127.0.0.1:${udp.port}`,
      to: `sip:${to}@localhost`,
      via: udp.via,
      body,
      contentType: 'text/plain;charset=UTF-8',
      ...extra,
    });

  async function statusOf(bytes: Buffer, timeoutMs = 3000): Promise<number> {
    const callId = /Call-ID: (\S+)/.exec(bytes.toString('latin1'))?.[1] ?? '';
    await udp.send(bytes, port);
    return (await udp.response(callId, timeoutMs)).status;
  }

  it('delivers a good MESSAGE with 200 (sanity)', async () => {
    const { c, name } = await xmppUser();
    assert.equal(await statusOf(message(name, 'hello there')), 200);
    const m = await c.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello there');
    assert.equal(m.attrs.from, `bob\\40127.0.0.1\\3a${udp.port}@${GW}`);
    assert.equal(m.attrs.type, 'normal', 'RFC 7572: SIP messages are of type normal');
  });

  it('answers 400 to a bad start line that still carries the headers', async () => {
    const bytes = Buffer.from(message('nobody').toString('latin1').replace(' SIP/2.0\r\n', ' HTTP/1.1\r\n'), 'latin1');
    assert.equal(await statusOf(bytes), 400);
  });

  it('answers 505 to another SIP version', async () => {
    const bytes = Buffer.from(message('nobody').toString('latin1').replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'), 'latin1');
    assert.equal(await statusOf(bytes), 505);
  });

  it('answers 400 to missing mandatory headers and a wrong Content-Length', async () => {
    const noFrom = message('nobody')
      .toString('latin1')
      .replace(/From: [^\r]*\r\n/, '');
    assert.equal(await statusOf(Buffer.from(noFrom, 'latin1')), 400);
    const cseq = message('nobody').toString('latin1').replace('CSeq: 1 MESSAGE', 'CSeq: one MESSAGE');
    assert.equal(await statusOf(Buffer.from(cseq, 'latin1')), 400);
    const long = message('nobody', 'abc').toString('latin1').replace('Content-Length: 3', 'Content-Length: 300');
    assert.equal(await statusOf(Buffer.from(long, 'latin1')), 400);
  });

  it('answers 513 to 64 KB of headers over UDP and over TCP (then closes the connection)', async () => {
    const big = Array.from({ length: 40 }, (_, i) => `X-Filler-${i}: ${'a'.repeat(1500)}`);
    assert.equal(await statusOf(message('nobody', 'x', { headers: big })), 513);
    const tcp = await SipTcp.connect(port);
    const callId = uniq('c');
    tcp.write(message('nobody', 'x', { headers: big, callId, transport: 'TCP', via: tcp.via }));
    assert.equal((await tcp.response(callId)).status, 513);
    await tcp.closed;
  });

  it('requires Content-Length over TCP (400, then close)', async () => {
    const tcp = await SipTcp.connect(port);
    const callId = uniq('c');
    tcp.write(message('nobody', '', { callId, transport: 'TCP', via: tcp.via, noContentLength: true }));
    assert.equal((await tcp.response(callId)).status, 400);
    await tcp.closed;
  });

  it('answers 413 to an oversized body announced over TCP', async () => {
    const tcp = await SipTcp.connect(port);
    const callId = uniq('c');
    const head = message('nobody', 'x', { callId, transport: 'TCP', via: tcp.via })
      .toString('latin1')
      .replace('Content-Length: 1', 'Content-Length: 900000');
    tcp.write(Buffer.from(head, 'latin1'));
    assert.equal((await tcp.response(callId)).status, 413);
    await tcp.closed;
  });

  it('answers 400 to a body that is not UTF-8 and 415 to another media type', async () => {
    const { c, name } = await xmppUser();
    assert.equal(await statusOf(message(name, '', { body: Buffer.from([0x68, 0xc3, 0x28, 0xff]) })), 400);
    assert.equal(await statusOf(message(name, '<b>x</b>', { contentType: 'text/html' })), 415);
    assert.equal(await statusOf(message(name, 'still fine')), 200);
    await c.waitFor((el) => el.is('message') && el.getChildText('body') === 'still fine');
    assert.ok(!c.inbox.some((el) => el.is('message') && /\uFFFD|<b>/.test(el.getChildText('body') ?? '')));
  });

  it('answers 416, 420, 483, 501 and 405 per RFC 3261 §8.2', async () => {
    // A fresh message each time: the same branch again would be a retransmission (RFC 3261 §17.2.3).
    const base = () => message('nobody').toString('latin1');
    const tel = base().replace('MESSAGE sip:nobody@localhost', 'MESSAGE tel:+1555');
    assert.equal(await statusOf(Buffer.from(tel, 'latin1')), 416);
    assert.equal(await statusOf(message('nobody', 'x', { headers: ['Require: foo-ext'] })), 420);
    assert.equal(await statusOf(Buffer.from(base().replace('Max-Forwards: 70', 'Max-Forwards: 0'), 'latin1')), 483);
    const foo = sipRequest({
      method: 'FOO',
      uri: 'sip:x@localhost',
      from: 'sip:bob@h',
      to: 'sip:x@localhost',
      via: udp.via,
    });
    assert.equal(await statusOf(foo), 501);
    const reg = sipRequest({
      method: 'REGISTER',
      uri: 'sip:localhost',
      from: 'sip:bob@h',
      to: 'sip:bob@h',
      via: udp.via,
    });
    assert.equal(await statusOf(reg), 405);
  });

  it('answers 480/600 for a registered user not online at the gateway, 403 for no such user, 404 for a non-user URI', async () => {
    // A registered user who logged out of the gateway (XEP-0100 §4.5): recipient-unavailable.
    const { c, name } = await xmppUser();
    await c.send(xml('presence', { to: GW, type: 'unavailable' }));
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === 'unavailable', 10_000);
    assert.equal(await statusOf(message(name)), 600, 'RFC 7247 §7.1: recipient-unavailable for a bare JID');
    const gr = message(name)
      .toString('latin1')
      .replace(`MESSAGE sip:${name}@localhost`, `MESSAGE sip:${name}@localhost;gr=phone`);
    assert.equal(await statusOf(Buffer.from(gr, 'latin1')), 480, 'a GRUU names a full JID');
    // No account (or none registered with the gateway): service-unavailable as RFC 6121 §8.5.1 has it, which
    // RFC 7247 §7.1 note 5 maps to 403, never 503.
    assert.equal(await statusOf(message('nobody')), 403);
    const noUser = message('nobody')
      .toString('latin1')
      .replace('MESSAGE sip:nobody@localhost', 'MESSAGE sip:localhost');
    assert.equal(await statusOf(Buffer.from(noUser, 'latin1')), 404);
  });

  it('challenges unauthenticated requests (401) and refuses wrong credentials (403)', async () => {
    const req = (extra: string[] = []) =>
      sipRequest({
        method: 'MESSAGE',
        uri: 'sip:someone@localhost',
        from: 'sip:bob@127.0.0.1',
        to: 'sip:someone@localhost',
        via: udp.via,
        body: 'x',
        contentType: 'text/plain',
        headers: extra,
      });
    const first = req();
    const callId = /Call-ID: (\S+)/.exec(first.toString())?.[1] ?? '';
    await udp.send(first, authPort);
    const challenge = await udp.response(callId);
    assert.equal(challenge.status, 401);
    const www = challenge.headers.all('WWW-Authenticate');
    assert.ok(www.some((v) => /algorithm=SHA-256/.test(v)) && www.some((v) => /algorithm=MD5/.test(v)));
    const nonce = /nonce="([^"]+)"/.exec(www[0] ?? '')?.[1];
    const bad = req([
      `Authorization: Digest username="bob", realm="auth.sip.localhost", nonce="${nonce}", uri="sip:someone@localhost", response="00000000000000000000000000000000", algorithm=MD5`,
    ]);
    const badId = /Call-ID: (\S+)/.exec(bad.toString())?.[1] ?? '';
    await udp.send(bad, authPort);
    assert.equal((await udp.response(badId)).status, 403);
  });

  it('meets a MESSAGE flood with 503 and Retry-After, without crashing, and recovers', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 150; i++) {
      const callId = uniq('flood');
      ids.push(callId);
      await udp.send(message('nobody', `flood ${i}`, { callId }), port);
    }
    const statuses = await Promise.all(ids.map((id) => udp.response(id, 10_000)));
    const busy = statuses.filter((r) => r.status === 503);
    assert.ok(busy.length > 0, 'some requests were refused for overload');
    for (const r of busy) assert.match(r.headers.get('Retry-After') ?? '', /^\d+$/);
    assert.ok(statuses.every((r) => r.status === 503 || r.status === 403));
    // The token bucket refills: after a pause the gateway answers normally again.
    await new Promise((r) => setTimeout(r, 2500));
    const { c, name } = await xmppUser();
    assert.equal(await statusOf(message(name, 'after the flood')), 200);
    await c.waitFor((el) => el.is('message') && el.getChildText('body') === 'after the flood');
  });
});
