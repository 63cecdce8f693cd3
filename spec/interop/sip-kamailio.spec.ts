// Interop: the SIP gateway in registration mode (gateways/sip, XEP-0100 with a SIP account per user) against a real
// Kamailio 5.6 as registrar, proxy and presence server, with baresip 1.0 as a real softphone and raw SIP user agents
// (spec/helpers/sip.ts) as further SIP users; @xmpp/client on the XMPP side. Then the driver conformance suite with
// Kamailio behind the legacy peer. Missing peers → skipped with a message, or a failure with REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { sipDriver } from '../../gateways/sip/driver.js';
import { type SipOptions, SipOptionsSchema } from '../../gateways/sip/options.js';
import { driverConformance, type LegacyPeer, type PeerMessage } from '../../gateways/testkit/conformance.js';
import { type ClientSession, fresh, isPresence, login, rosterGet, stopAll, xml } from '../helpers/im-clients.js';
import { gatewayOffline, gatewayOnline, registerWithGateway } from '../helpers/irc-gateway.js';
import { baresipMissing, startBaresip } from '../helpers/peers/baresip.js';
import { type KamailioPeer, kamailioMissing, startKamailio } from '../helpers/peers/kamailio.js';
import { skipUnlessInstalled } from '../helpers/peers/peer.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { SipUdp, sendAuthenticated, sipRequest, uniq } from '../helpers/sip.js';

const GW = 'sip.localhost';
const SHA_GW = 'sha.sip.localhost';
const DOMAIN = 'kam.test';
const contactJid = (user: string) => `${user}\\40${DOMAIN}@${GW}`;
const USERS: Record<string, string> = { bob: 'bobpw', carol: 'carolpw', watcher: 'watcherpw' };
for (let i = 1; i <= 12; i++) USERS[`u${i}`] = `pw-u${i}`;

describe('interop: SIP gateway (registration mode) with Kamailio, baresip and @xmpp/client', function () {
  this.timeout(90_000);
  let kam: KamailioPeer;
  let sha: KamailioPeer;
  let srv: TestServer;
  let bob: SipUdp;
  let next = 1;
  const clients: ClientSession[] = [];

  before(async function () {
    skipUnlessInstalled(this, kamailioMissing() ?? baresipMissing());
    kam = await startKamailio({ domain: DOMAIN, users: USERS });
    sha = await startKamailio({ domain: DOMAIN, users: USERS, algorithm: 'SHA-256' });
    srv = await startTestServer({
      yaml: [
        'gateways:',
        `  ${GW}:`,
        '    driver: sip',
        '    login_timeout_seconds: 10',
        '    reconnect: { initial_seconds: 0.5, max_seconds: 2, stable_seconds: 60 }',
        '    options:',
        '      mode: register',
        `      registrar: sip:127.0.0.1:${kam.port}`,
        '      register_expires: 6',
        // Short lifetimes, so the refreshes of subscriptions and publications (RFC 6665, RFC 3903) happen in tests.
        '      subscribe_expires: 4',
        '      publish_expires: 4',
        '      timer_t1_ms: 100',
        `  ${SHA_GW}:`,
        '    driver: sip',
        '    options:',
        '      mode: register',
        `      registrar: sip:127.0.0.1:${sha.port}`,
        '      timer_t1_ms: 100',
      ].join('\n'),
    });
    bob = await SipUdp.open();
    bob.autoAnswer('MESSAGE');
    const reg = await sendAuthenticated(
      bob,
      kam.port,
      {
        method: 'REGISTER',
        uri: `sip:${DOMAIN}`,
        from: `sip:bob@${DOMAIN}`,
        to: `sip:bob@${DOMAIN}`,
        headers: [`Contact: <sip:bob@127.0.0.1:${bob.port}>`, 'Expires: 300'],
      },
      { user: 'bob', password: 'bobpw' },
    );
    assert.equal(reg.status, 200, kam.log());
  });
  after(async () => {
    await stopAll(clients);
    await bob?.close();
    await srv?.stop();
    await kam?.cleanup();
    await sha?.cleanup();
  });

  /** A local user with a fresh SIP account of Kamailio, registered with the gateway and online there. */
  async function sipUser(prefix: string, gw = GW, password?: string, presence = xml('presence')) {
    const name = fresh(prefix);
    await srv.addUser(name, `${name}-secret`);
    const c = await login(srv, name);
    clients.push(c);
    await rosterGet(c);
    await c.send(presence);
    const sip = `u${next++}`;
    await registerWithGateway(c, gw, { username: `sip:${sip}@${DOMAIN}`, password: password ?? USERS[sip] ?? '' });
    return { c, sip };
  }

  it('registers the SIP account with SHA-256 digest (RFC 7616) and shows the gateway online', async () => {
    const { c } = await sipUser('kamsha', SHA_GW);
    await c.waitFor(gatewayOnline(SHA_GW), 15_000);
  });

  it('refuses a wrong password for good: the gateway presence says why (RFC 3261 §22)', async () => {
    const { c } = await sipUser('kambad', GW, 'wrong');
    const p = await c.waitFor(gatewayOffline(GW), 15_000);
    assert.match(p.getChildText('status') ?? '', /401|403/);
  });

  it('carries MESSAGE both ways through the registrar (RFC 3428)', async () => {
    const { c, sip } = await sipUser('kammsg');
    await c.waitFor(gatewayOnline(GW), 15_000);
    const callId = uniq('c');
    await bob.send(
      sipRequest({
        method: 'MESSAGE',
        uri: `sip:${sip}@${DOMAIN}`,
        from: `sip:bob@${DOMAIN}`,
        to: `sip:${sip}@${DOMAIN}`,
        via: bob.via,
        callId,
        body: 'hi from bob',
        contentType: 'text/plain',
      }),
      kam.port,
    );
    assert.equal((await bob.response(callId)).status, 200);
    const m = await c.waitFor((el) => el.is('message') && el.getChildText('body') === 'hi from bob', 10_000);
    assert.equal(m.attrs.from, contactJid('bob'));
    await c.send(xml('message', { to: contactJid('bob'), type: 'chat' }, xml('body', {}, 'hi back, bob')));
    const got = await bob.next((x) => x.kind === 'request' && x.method === 'MESSAGE', 10_000);
    assert.equal(got.body.toString(), 'hi back, bob');
    assert.match(got.headers.get('From') ?? '', new RegExp(`sip:${sip}@${DOMAIN}`));
  });

  /** RFC 6665 §4.4.3 fetch by a raw watcher: SUBSCRIBE with Expires: 0 at Kamailio, the NOTIFY's body. */
  async function fetchAtKamailio(w: SipUdp, aor: string): Promise<string> {
    const callId = uniq('c');
    await w.send(
      sipRequest({
        method: 'SUBSCRIBE',
        uri: aor,
        from: `sip:watcher@${DOMAIN}`,
        to: aor,
        via: w.via,
        callId,
        headers: [
          'Event: presence',
          'Accept: application/pidf+xml',
          'Expires: 0',
          `Contact: <sip:watcher@127.0.0.1:${w.port}>`,
        ],
      }),
      kam.port,
    );
    const res = await w.response(callId);
    assert.ok(res.status < 300, `SUBSCRIBE: ${res.status}`);
    const n = await w.next(
      (x) => x.kind === 'request' && x.method === 'NOTIFY' && x.headers.get('Call-ID') === callId,
      5000,
    );
    return n.body.toString();
  }

  it("publishes the user's presence to the presence server (RFC 3903) for SIP watchers, and keeps it fresh", async () => {
    const { c, sip } = await sipUser('kampub');
    await c.waitFor(gatewayOnline(GW), 15_000);
    await c.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'busy now')));
    const w = await SipUdp.open();
    w.autoAnswer('NOTIFY');
    try {
      const hasState = (body: string) => /<basic>open<\/basic>/.test(body) && /busy now/.test(body);
      const deadline = Date.now() + 15_000;
      let seen = '';
      // The PUBLISH may still be on its way: fetch until the state shows.
      while (!hasState(seen)) {
        assert.ok(Date.now() < deadline, `no published state in NOTIFYs; last: ${seen}\n${kam.log()}`);
        seen = await fetchAtKamailio(w, `sip:${sip}@${DOMAIN}`);
        if (!hasState(seen)) await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(seen, /busy/, 'RPID busy (or the jabber:client show dnd) reaches the watcher');
      // publish_expires is 4 s: without refreshes (SIP-If-Match, RFC 3903 §4.3) the state would be gone by now.
      await new Promise((r) => setTimeout(r, 6000));
      assert.ok(hasState(await fetchAtKamailio(w, `sip:${sip}@${DOMAIN}`)), 'the publication was refreshed');
    } finally {
      await w.close();
    }
  });

  it('publishes one tuple per XMPP resource (RFC 8048 §4); a resource that leaves drops its tuple', async () => {
    const { c, sip } = await sipUser('kamres', GW, undefined, xml('presence', {}, xml('status', {}, 'first resource')));
    await c.waitFor(gatewayOnline(GW), 15_000);
    const second = await login(srv, c.jid.split('@')[0] ?? '', 'second');
    clients.push(second);
    await rosterGet(second);
    await second.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'second resource')));
    const w = await SipUdp.open();
    w.autoAnswer('NOTIFY');
    try {
      const tuples = (body: string) => body.match(/<tuple\b/g)?.length ?? 0;
      /** Fetches until the presence server's document satisfies `ok` (a PUBLISH may still be on its way). */
      const until = async (ok: (body: string) => boolean, what: string) => {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const body = await fetchAtKamailio(w, `sip:${sip}@${DOMAIN}`);
          if (ok(body)) return body;
          assert.ok(Date.now() < deadline, `no ${what} in NOTIFYs; last: ${body}\n${kam.log()}`);
          await new Promise((r) => setTimeout(r, 300));
        }
      };
      const both = await until(
        (b) => tuples(b) === 2 && /first resource/.test(b) && /second resource/.test(b),
        'two tuples',
      );
      assert.equal(both.match(/<basic>open<\/basic>/g)?.length, 2);
      // A registrar's AOR gets no GRUU the gateway made up (RFC 5627 §3): no `;gr=` contact in mode `register`.
      assert.doesNotMatch(both, /gr=/);
      await second.send(xml('presence', { type: 'unavailable' }));
      const one = await until((b) => tuples(b) === 1, 'one tuple');
      assert.match(one, /<basic>open<\/basic>/);
      assert.match(one, /first resource/);
      assert.doesNotMatch(one, /second resource/);
    } finally {
      await w.close();
    }
  });

  it('subscribes to a SIP contact through the presence server and shows its NOTIFYed presence (RFC 8048 §5)', async () => {
    const pidf = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      `<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@${DOMAIN}">`,
      '<tuple id="bob1"><status><basic>open</basic></status><note>gone fishing</note></tuple>',
      '<dm:person id="pb"><rpid:activities><rpid:away/></rpid:activities></dm:person>',
      '</presence>',
    ].join('\n');
    const pub = await sendAuthenticated(
      bob,
      kam.port,
      {
        method: 'PUBLISH',
        uri: `sip:bob@${DOMAIN}`,
        from: `sip:bob@${DOMAIN}`,
        to: `sip:bob@${DOMAIN}`,
        headers: ['Event: presence', 'Expires: 120'],
        body: pidf,
        contentType: 'application/pidf+xml',
      },
      { user: 'bob', password: 'bobpw' },
    );
    assert.equal(pub.status, 200, kam.log());
    const { c } = await sipUser('kamsub');
    await c.waitFor(gatewayOnline(GW), 15_000);
    await c.send(xml('presence', { to: contactJid('bob'), type: 'subscribe' }));
    await c.waitFor(isPresence(contactJid('bob'), 'subscribed'), 10_000);
    const p = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contactJid('bob') && el.attrs.type === undefined,
      10_000,
    );
    assert.equal(p.getChildText('show'), 'away');
    assert.equal(p.getChildText('status'), 'gone fishing');
    // subscribe_expires is 4 s: a change published after 6 s only arrives if the gateway refreshed (RFC 6665).
    await new Promise((r) => setTimeout(r, 6000));
    const etag = pub.headers.get('SIP-ETag') ?? '';
    const mod = await sendAuthenticated(
      bob,
      kam.port,
      {
        method: 'PUBLISH',
        uri: `sip:bob@${DOMAIN}`,
        from: `sip:bob@${DOMAIN}`,
        to: `sip:bob@${DOMAIN}`,
        headers: ['Event: presence', 'Expires: 120', `SIP-If-Match: ${etag}`],
        body: pidf.replace('gone fishing', 'back home').replace('<rpid:away/>', '<rpid:busy/>'),
        contentType: 'application/pidf+xml',
      },
      { user: 'bob', password: 'bobpw' },
    );
    assert.equal(mod.status, 200);
    const later = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contactJid('bob') && el.getChildText('status') === 'back home',
      10_000,
    );
    assert.equal(later.getChildText('show'), 'dnd');
  });

  it("answers a probe with a fetch of the contact's presence (RFC 8048 §5, RFC 6665 §4.4.3)", async () => {
    const { c } = await sipUser('kamprobe');
    await c.waitFor(gatewayOnline(GW), 15_000);
    await c.send(xml('presence', { to: contactJid('bob'), type: 'probe' }));
    const p = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contactJid('bob') && el.attrs.type === undefined,
      10_000,
    );
    assert.equal(p.getChildText('status'), 'back home');
  });

  it('exchanges MESSAGEs with baresip, a real softphone registered at the same registrar', async () => {
    const { c, sip } = await sipUser('kambs');
    await c.waitFor(gatewayOnline(GW), 15_000);
    const bs = await startBaresip({
      aor: `sip:carol@${DOMAIN}`,
      password: 'carolpw',
      proxyPort: kam.port,
      contacts: [`sip:${sip}@${DOMAIN}`],
      commands: ['/message hello from baresip'],
      seconds: 15,
    });
    try {
      const m = await c.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello from baresip', 15_000);
      assert.equal(m.attrs.from, contactJid('carol'));
      await bs.waitOutput(/SIP\/2\.0 200 OK[^#]*CSeq: \d+ REGISTER/, 10_000, 'registered');
      await c.send(
        xml('message', { to: contactJid('carol'), id: 'tobs' }, xml('body', {}, 'hello baresip, from xmpp')),
      );
      await bs.waitOutput(
        /MESSAGE sip:[^\n]*\n[\s\S]*hello baresip, from xmpp/,
        10_000,
        'the MESSAGE in its SIP trace',
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(!c.inbox.some((el) => el.attrs.id === 'tobs' && el.attrs.type === 'error'), bs.output().slice(-3000));
    } finally {
      await bs.cleanup();
    }
  });

  it('shows a registrar outage as the gateway presence and re-registers with backoff when it is back', async () => {
    const { c } = await sipUser('kamdown');
    await c.waitFor(gatewayOnline(GW), 15_000);
    await kam.stop();
    const down = await c.waitFor(gatewayOffline(GW), 20_000);
    assert.match(down.getChildText('status') ?? '', /registration|REGISTER/i);
    await kam.start();
    await c.waitFor(gatewayOnline(GW), 30_000);
  });
});

/** A raw SIP UA registered at Kamailio as the conformance suite's legacy peer (gateway in registration mode). */
class KamailioLegacyPeer implements LegacyPeer {
  kam: KamailioPeer | null = null;
  ua: SipUdp | null = null;
  readonly id = `sip:peer@${DOMAIN}`;
  readonly sampleIds = ['sip:alice@pbx.example', 'sip:a%20b@pbx.example', 'sips:x@pbx.example:5061'];
  readonly invalidAddresses = ['', 'alice', 'tel:+15551234', 'sip:pbx.example'];
  readonly invalidForms = [
    { username: 'not an address', password: 'x' },
    { username: `sip:c1@${DOMAIN}`, password: '' },
  ];
  readonly loginTimeoutMs = 8000;
  private n = 0;

  async start(): Promise<boolean> {
    if (kamailioMissing()) return false;
    const users: Record<string, string> = { peer: 'peerpw' };
    for (let i = 1; i <= 40; i++) users[`c${i}`] = 'confpw';
    this.kam = await startKamailio({ domain: DOMAIN, users });
    this.ua = await SipUdp.open();
    this.ua.autoAnswer('MESSAGE');
    const res = await sendAuthenticated(
      this.ua,
      this.kam.port,
      {
        method: 'REGISTER',
        uri: `sip:${DOMAIN}`,
        from: this.id,
        to: this.id,
        headers: [`Contact: <sip:peer@127.0.0.1:${this.ua.port}>`, 'Expires: 600'],
      },
      { user: 'peer', password: 'peerpw' },
    );
    return res.status === 200;
  }
  async stop(): Promise<void> {
    await this.ua?.close();
    await this.kam?.cleanup();
  }
  validForm(): Record<string, string> {
    return { username: `sip:c${++this.n}@${DOMAIN}`, password: 'confpw' };
  }
  async send(form: Record<string, string>, body: string): Promise<void> {
    const ua = this.ua as SipUdp;
    const callId = uniq('c');
    await ua.send(
      sipRequest({
        method: 'MESSAGE',
        uri: form.username ?? '',
        from: this.id,
        to: form.username ?? '',
        via: ua.via,
        callId,
        body,
        contentType: 'text/plain',
      }),
      this.kam?.port ?? 0,
    );
    const res = await ua.response(callId);
    if (res.status !== 200) throw new Error(`MESSAGE to ${form.username}: ${res.status}`);
  }
  async receive(timeoutMs: number): Promise<PeerMessage> {
    const m = await (this.ua as SipUdp).next((x) => x.kind === 'request' && x.method === 'MESSAGE', timeoutMs);
    return { from: m.headers.get('From') ?? '', body: m.body.toString('utf8') };
  }
}

const kamPeer = new KamailioLegacyPeer();
driverConformance(
  'sip (mode register, Kamailio)',
  () =>
    sipDriver.create({
      domain: GW,
      options: Value.Default(
        SipOptionsSchema,
        Value.Convert(SipOptionsSchema, {
          mode: 'register',
          registrar: `sip:127.0.0.1:${kamPeer.kam?.port ?? 5060}`,
          timer_t1_ms: 100,
          publish: true,
        }),
      ) as SipOptions,
      log: pino({ level: 'silent' }),
    }),
  kamPeer,
);
