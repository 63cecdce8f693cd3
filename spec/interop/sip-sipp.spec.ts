// Interop: the SIP gateway (gateways/sip, mode `domain`: the gateway is the SIP side of `localhost`, RFC 7247) with
// SIPp as the SIP user agent and @xmpp/client as the XMPP user: MESSAGE both ways (RFC 3428, RFC 7572), a SIP watcher
// subscribing to an XMPP user's presence (RFC 6665, RFC 3856, PIDF per RFC 8048), and an XMPP user seeing the
// presence a SIP UA PUBLISHed to the gateway (RFC 3903). Then the driver conformance suite with a raw SIP UA as the
// legacy peer. sipp missing → skipped with a message, or a failure with REQUIRE_PEERS=1.
import assert from 'node:assert/strict';
import { Value } from '@sinclair/typebox/value';
import pino from 'pino';
import { sipDriver } from '../../gateways/sip/driver.js';
import { type SipOptions, SipOptionsSchema } from '../../gateways/sip/options.js';
import { driverConformance, type LegacyPeer, type PeerMessage } from '../../gateways/testkit/conformance.js';
import { type ClientSession, fresh, isPresence, login, rosterGet, stopAll, xml } from '../helpers/im-clients.js';
import { registerWithGateway } from '../helpers/irc-gateway.js';
import { skipUnlessInstalled } from '../helpers/peers/peer.js';
import { runSipp, type SippRun, sippMissing } from '../helpers/peers/sipp.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';
import { SipUdp, sipRequest } from '../helpers/sip.js';

const GW = 'sip.localhost';

describe('interop: SIP gateway (same-domain mode) with SIPp and @xmpp/client', function () {
  this.timeout(60_000);
  let srv: TestServer;
  let port: number;
  const clients: ClientSession[] = [];
  const runs: SippRun[] = [];

  before(async function () {
    skipUnlessInstalled(this, sippMissing());
    port = await freePort();
    srv = await startTestServer({
      yaml: [
        'gateways:',
        `  ${GW}:`,
        '    driver: sip',
        '    options:',
        '      mode: domain',
        `      sip_listen: [{ transport: udp, address: 127.0.0.1, port: ${port} }, { transport: tcp, address: 127.0.0.1, port: ${port} }]`,
        '      aliases: [127.0.0.1]',
        '      xmpp_domain: localhost',
        '      presence_authorization: open',
        '      min_expires: 10',
        '      timer_t1_ms: 100',
      ].join('\n'),
    });
  });
  after(async () => {
    await Promise.all(runs.map((r) => r.cleanup()));
    await stopAll(clients);
    await srv?.stop();
  });

  async function xmppUser(prefix: string, presence = xml('presence')): Promise<{ c: ClientSession; name: string }> {
    const name = fresh(prefix);
    await srv.addUser(name, `${name}-secret`);
    const c = await login(srv, name);
    clients.push(c);
    await rosterGet(c);
    await c.send(presence);
    await registerWithGateway(c, GW, {});
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
    return { c, name };
  }

  async function sipp(o: Parameters<typeof runSipp>[0]): Promise<SippRun> {
    const r = await runSipp(o);
    runs.push(r);
    return r;
  }

  async function passed(r: SippRun): Promise<void> {
    const code = await r.exited;
    assert.equal(code, 0, `sipp failed (exit ${code}):\n${r.log()}`);
  }

  it('a SIP UA sends a MESSAGE to an XMPP user: 200, and the user gets it (RFC 7572 §5)', async () => {
    const { c, name } = await xmppUser('sipin');
    const r = await sipp({
      scenario: 'uac-message.xml',
      remote: `127.0.0.1:${port}`,
      keys: { to_user: name, domain: 'localhost', body: 'héllo from sipp' },
    });
    await passed(r);
    // sipp ends the body with the line's CRLF (and counts it in Content-Length): the text arrives as sent.
    const m = await c.waitFor(
      (el) => el.is('message') && el.getChildText('body')?.trim() === 'héllo from sipp',
      10_000,
    );
    assert.equal(m.attrs.from, `sipp\\40127.0.0.1\\3a${r.port}@${GW}`);
    assert.equal(m.attrs.type, 'normal');
    assert.equal(m.getChildText('subject'), 'from sipp');
    assert.equal(m.attrs['xml:lang'], 'en');
    assert.ok(m.getChildText('thread'), 'the Call-ID becomes the thread');
  });

  it("an XMPP user's message reaches a SIP UA as MESSAGE: text/plain, Subject, Content-Language, thread as Call-ID", async () => {
    const { c } = await xmppUser('sipout');
    const r = await sipp({ scenario: 'uas-message.xml' });
    await new Promise((res) => setTimeout(res, 300)); // let sipp bind its port
    const to = `uas\\40127.0.0.1\\3a${r.port}@${GW}`;
    await c.send(
      xml(
        'message',
        { to, type: 'chat', id: 'm1', 'xml:lang': 'de' },
        xml('subject', {}, 'greetings'),
        xml('body', {}, 'hello from xmpp, sipp'),
        xml('thread', {}, 'thread-42'),
      ),
    );
    await passed(r);
    assert.ok(!c.inbox.some((el) => el.is('message') && el.attrs.type === 'error'), 'no error came back');
  });

  it('maps a SIP failure to an XMPP error (RFC 7247 §7.2): nobody listening → remote-server-timeout', async () => {
    const { c } = await xmppUser('sipfail');
    const dead = await freePort();
    await c.send(xml('message', { to: `nobody\\40127.0.0.1\\3a${dead}@${GW}`, id: 'lost' }, xml('body', {}, 'x')));
    const err = await c.waitFor(
      (el) => el.is('message') && el.attrs.type === 'error' && el.attrs.id === 'lost',
      20_000,
    );
    const cond = err.getChild('error')?.getChildElements()[0]?.getName();
    assert.ok(cond === 'remote-server-timeout' || cond === 'remote-server-not-found', `condition ${cond}`);
  });

  it("a SIP watcher SUBSCRIBEs to an XMPP user and gets PIDF NOTIFYs as the user's presence changes", async () => {
    const { c, name } = await xmppUser(
      'sippres',
      xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'out for lunch')),
    );
    const r = await sipp({
      scenario: 'uac-subscribe.xml',
      remote: `127.0.0.1:${port}`,
      keys: { to_user: name, domain: 'localhost' },
      timeoutS: 30,
    });
    const step = (n: number) =>
      r.waitReceived('NOTIFY', n).catch((e: Error) => assert.fail(`${e.message}\n${r.log()}`));
    await step(1);
    await c.send(xml('presence', {}, xml('show', {}, 'dnd'), xml('status', {}, 'on a call')));
    await step(2);
    await c.send(xml('presence', { type: 'unavailable' }));
    await passed(r);
  });

  it('an XMPP user subscribes to a SIP UA and sees the presence it PUBLISHed (RFC 3903, RFC 4480 by namespace)', async () => {
    const r = await sipp({
      scenario: 'uac-publish.xml',
      remote: `127.0.0.1:${port}`,
      keys: { aor_user: 'bob', aor_domain: 'pbx.test' },
    });
    await passed(r);
    const { c } = await xmppUser('sipwatch');
    const contact = `bob\\40pbx.test@${GW}`;
    await c.send(xml('presence', { to: contact, type: 'subscribe' }));
    await c.waitFor(isPresence(contact, 'subscribed'), 10_000);
    const p = await c.waitFor(
      (el) => el.is('presence') && el.attrs.from === contact && el.attrs.type === undefined,
      10_000,
    );
    assert.equal(p.getChildText('show'), 'dnd', 'RPID on-the-phone → dnd');
    assert.equal(p.getChildText('status'), 'in the garden');
  });

  it('splits a long message into datagram-sized MESSAGEs when the UA has no TCP (RFC 3428 §4)', async () => {
    const { c } = await xmppUser('sipbig');
    const ua = await SipUdp.open();
    try {
      const text = `${'lorem ipsum dolor sit amet '.repeat(120)}end`;
      await c.send(xml('message', { to: `big\\40127.0.0.1\\3a${ua.port}@${GW}` }, xml('body', {}, text)));
      let got = '';
      while (got.length < text.length) {
        const m = await ua.next((x) => x.kind === 'request' && x.method === 'MESSAGE', 10_000);
        await ua.reply(m, 200, 'OK', port);
        got += m.body.toString('utf8');
      }
      assert.equal(got, text);
    } finally {
      await ua.close();
    }
  });
});

/** A raw SIP UA on UDP (spec/helpers/sip.ts) as the conformance suite's legacy peer (gateway in mode `domain`). */
class RawUaPeer implements LegacyPeer {
  ua: SipUdp | null = null;
  gwPort = 0;
  id = '';
  readonly sampleIds = [
    'sip:alice@pbx.example',
    'sip:a%20b@pbx.example',
    "sip:o'hara@pbx.example:5070",
    'sips:x@pbx.example',
  ];
  readonly invalidAddresses = ['', 'alice', 'tel:+15551234', 'sip:pbx.example', 'a@b c'];
  readonly invalidForms = [{ nick: 'two\nlines' }];
  readonly loginTimeoutMs = 5000;
  private inbox: PeerMessage[] = [];

  async start(): Promise<boolean> {
    // A raw UDP user agent needs nothing installed: this conformance run never skips.
    this.ua = await SipUdp.open();
    this.ua.autoAnswer('MESSAGE');
    this.gwPort = await freePort();
    this.id = `sip:peer@127.0.0.1:${this.ua.port}`;
    return true;
  }
  async stop(): Promise<void> {
    await this.ua?.close();
  }
  validForm(): Record<string, string> {
    return {};
  }
  async send(_form: Record<string, string>, body: string): Promise<void> {
    const ua = this.ua as SipUdp;
    await ua.send(
      sipRequest({
        method: 'MESSAGE',
        uri: 'sip:conformance@localhost',
        from: this.id,
        to: 'sip:conformance@localhost',
        via: ua.via,
        body,
        contentType: 'text/plain',
      }),
      this.gwPort,
    );
  }
  async receive(timeoutMs: number): Promise<PeerMessage> {
    const ua = this.ua as SipUdp;
    if (this.inbox.length === 0) {
      const m = await ua.next((x) => x.kind === 'request' && x.method === 'MESSAGE', timeoutMs);
      this.inbox.push({ from: m.headers.get('From') ?? '', body: m.body.toString('utf8') });
    }
    return this.inbox.shift() as PeerMessage;
  }
}

const peer = new RawUaPeer();
driverConformance(
  'sip (mode domain)',
  () =>
    sipDriver.create({
      domain: GW,
      options: Value.Default(
        SipOptionsSchema,
        Value.Convert(SipOptionsSchema, {
          mode: 'domain',
          sip_listen: [{ transport: 'udp', address: '127.0.0.1', port: peer.gwPort }],
          xmpp_domain: 'localhost',
          timer_t1_ms: 100,
        }),
      ) as SipOptions,
      log: pino({ level: 'silent' }),
    }),
  peer,
);
