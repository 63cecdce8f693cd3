// End to end through the SIP gateway (mode `domain`), both ways:
// - an XMPP user's message to a SIP user agent that answers with a failure comes back as the stanza error RFC 7247
//   §7.2 (Table 3) gives that code, with the SIP code and phrase as the text; a 301 or 302 carries the Contact's
//   address as an XMPP URI in <gone/> or <redirect/> (Table 3 note 1, RFC 6120 §8.3.3.5, §8.3.3.14);
// - a SIP user agent's MESSAGE that the XMPP side refuses gets the final response RFC 7247 §7.1 (Table 2) gives the
//   XMPP error, instead of 200: a blocked sender (XEP-0191 §3.3), no such user (RFC 6121 §8.5.1), a full offline
//   store (XEP-0160), an error from the recipient's client — with the headers RFC 3261 requires of the code.
// The expected codes are the RFC's; the unit tests (spec/unit/gateways/sip-errors.spec.ts) cover every row.
import assert from 'node:assert/strict';
import {
  type ClientSession,
  type Element,
  fresh,
  login,
  NS_STANZAS,
  rosterGet,
  stopAll,
  xml,
} from '../helpers/im-clients.js';
import { registerWithGateway } from '../helpers/irc-gateway.js';
import type { TestServer } from '../helpers/server.js';
import { SIP_GW as GW, SipUdp, sipRequest, startSipGatewayServer, uniq } from '../helpers/sip.js';

/** The gateway with a one-message offline store, so a full store can be provoked. */
const gatewayServer = (options: string[] = []) =>
  startSipGatewayServer(options, ['modules:', '  offline: { max_messages: 1 }']);

describe('SIP gateway: SIP failures as XMPP errors (RFC 7247 §7.2)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let port: number;
  let ua: SipUdp;
  let c: ClientSession;
  const others: ClientSession[] = [];
  /** A second server whose gateway gives recipients' clients time to answer with an error. */
  let clientSrv: { srv: TestServer; port: number } | undefined;

  before(async () => {
    // The default: answered as soon as the user's server took or refused the message (xmpp_error_wait_ms 0).
    ({ srv, port } = await gatewayServer());
    ua = await SipUdp.open();
    const name = fresh('siperr');
    await srv.addUser(name, `${name}-secret`);
    c = await login(srv, name);
    await rosterGet(c);
    await c.send(xml('presence'));
    await registerWithGateway(c, GW, {});
    await c.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
  });
  after(async () => {
    await stopAll([c, ...others]);
    await ua?.close();
    await srv?.stop();
    await clientSrv?.srv.stop();
  });

  /** Sends a message to the user agent, answers the MESSAGE with `status`, and returns the error stanza. */
  async function failWith(status: number, reason: string, extra: string[] = []): Promise<Element> {
    const to = `bob\\40127.0.0.1\\3a${ua.port}@${GW}`;
    const id = uniq('m');
    await c.send(xml('message', { to, id, type: 'chat' }, xml('body', {}, `answer ${status}`)));
    const req = await ua.next((m) => m.kind === 'request' && m.method === 'MESSAGE', 5000, 'the MESSAGE');
    const via = req.headers.all('Via')[0] ?? '';
    await ua.reply(req, status, reason, Number(/:(\d+)/.exec(via.split(';')[0] ?? '')?.[1]), extra);
    return c.waitFor((el) => el.is('message') && el.attrs.id === id && el.attrs.type === 'error', 5000);
  }

  const conditionOf = (el: Element) =>
    el
      .getChild('error')
      ?.children.find(
        (ch): ch is Element => typeof ch !== 'string' && ch.attrs.xmlns === NS_STANZAS && ch.name !== 'text',
      )?.name;

  // A few rows of Table 3, chosen where a gateway is most likely to get them wrong, plus an unlisted code.
  const rows: [number, string, string][] = [
    [503, 'Service Unavailable', 'internal-server-error'], // note 9: not service-unavailable
    [603, 'Decline', 'recipient-unavailable'],
    [415, 'Unsupported Media Type', 'not-acceptable'],
    [404, 'Not Found', 'item-not-found'],
    [486, 'Busy Here', 'recipient-unavailable'],
    [499, 'Whatever', 'bad-request'], // not in the table: by class
  ];
  for (const [status, reason, condition] of rows) {
    it(`SIP ${status} → <${condition}/>`, async () => {
      const err = await failWith(status, reason);
      assert.equal(conditionOf(err), condition);
      assert.equal(err.getChild('error')?.getChildText('text', NS_STANZAS), `SIP ${status} ${reason}`);
    });
  }

  describe('3xx: the new address as an XMPP URI (Table 3 note 1)', () => {
    // The Contact `sip:carol@127.0.0.1:5999` is a SIP address reached through the gateway: its contact JID is
    // `carol\40127.0.0.1\3a5999@sip.localhost`, as an RFC 5122 URI with the backslashes percent-encoded.
    const contact = 'Contact: <sip:carol@127.0.0.1:5999>';
    const uri = `xmpp:carol%5C40127.0.0.1%5C3a5999@${GW}`;
    const data = (el: Element, condition: string) =>
      el.getChild('error')?.getChild(condition, NS_STANZAS)?.getText().trim();

    it('SIP 301 with Contact → <gone/> carrying the new address', async () => {
      const err = await failWith(301, 'Moved Permanently', [contact]);
      assert.equal(conditionOf(err), 'gone');
      assert.equal(data(err, 'gone'), uri);
    });

    it('SIP 302 with Contact → <redirect/> carrying the address (RFC 6120 §8.3.3.14)', async () => {
      const err = await failWith(302, 'Moved Temporarily', [contact]);
      assert.equal(conditionOf(err), 'redirect');
      assert.equal(data(err, 'redirect'), uri);
    });

    it('SIP 410 → <gone/> without an address', async () => {
      const err = await failWith(410, 'Gone');
      assert.equal(conditionOf(err), 'gone');
      assert.equal(data(err, 'gone'), '');
    });
  });

  describe('XMPP refusals as SIP final responses (RFC 7247 §7.1)', () => {
    const sender = () => `sip:bob@127.0.0.1:${ua.port}`;
    const senderJid = () => `bob\\40127.0.0.1\\3a${ua.port}@${GW}`;

    /** A user online at the gateway with `presence` (for the server) and its client. */
    async function xmppUser(
      presence = xml('presence'),
      on: TestServer = srv,
    ): Promise<{ u: ClientSession; name: string }> {
      const name = fresh('sipref');
      await on.addUser(name, `${name}-secret`);
      const u = await login(on, name);
      others.push(u);
      await rosterGet(u);
      await u.send(presence);
      await registerWithGateway(u, GW, {});
      await u.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
      return { u, name };
    }

    /** Sends a MESSAGE from the user agent to `sip:<user>@localhost` and returns the final response. */
    async function send(user: string, body: string, to = port) {
      const callId = uniq('m');
      const uri = `sip:${user}@localhost`;
      await ua.send(
        sipRequest({
          method: 'MESSAGE',
          uri,
          from: sender(),
          to: uri,
          via: ua.via,
          callId,
          body,
          contentType: 'text/plain',
        }),
        to,
      );
      return ua.response(callId, 8000);
    }

    const withBody = (body: string) => (el: Element) => el.is('message') && el.getChildText('body') === body;

    /** The recipient's client answers a message with an error stanza (RFC 6120 §8.3.1: same id, addresses swapped). */
    const answer = (u: ClientSession, m: Element, condition: string, data?: string) =>
      u.send(
        xml(
          'message',
          { to: m.attrs.from ?? '', id: m.attrs.id ?? '', type: 'error' },
          xml('error', { type: 'cancel' }, xml(condition, { xmlns: NS_STANZAS }, ...(data ? [data] : []))),
        ),
      );

    it('delivers and answers 200 when nobody refuses', async () => {
      const { u, name } = await xmppUser();
      const res = await send(name, 'accepted');
      assert.equal(res.status, 200);
      const got = await u.waitFor(withBody('accepted'), 3000);
      assert.equal(got.attrs.from, senderJid());
    });

    it('a sender the user blocked (XEP-0191: service-unavailable) → 403, never 503', async () => {
      const { u, name } = await xmppUser();
      await u.request(
        xml('iq', { type: 'set' }, xml('block', { xmlns: 'urn:xmpp:blocking' }, xml('item', { jid: senderJid() }))),
      );
      const res = await send(name, 'blocked');
      assert.equal(res.status, 403);
      assert.match(res.reason, /service-unavailable/);
      await assert.rejects(u.waitFor(withBody('blocked'), 300), 'a blocked message must not be delivered');
    });

    it('no such user (RFC 6121 §8.5.1: service-unavailable) → 403, not the 600 of an offline user', async () => {
      const res = await send(fresh('nobody'), 'to nobody');
      assert.equal(res.status, 403);
    });

    it('a full offline store (XEP-0160: resource-constraint) → 500', async () => {
      // Priority -1: the resource gets no messages to the bare JID (RFC 6121 §8.5.2.1.1), so they go offline.
      const { name } = await xmppUser(xml('presence', {}, xml('priority', {}, '-1')));
      assert.equal((await send(name, 'stored')).status, 200);
      const res = await send(name, 'store full');
      assert.equal(res.status, 500);
      assert.match(res.reason, /resource-constraint/);
    });

    describe("errors from the recipient's client (xmpp_error_wait_ms)", () => {
      before(async () => {
        clientSrv = await gatewayServer(['xmpp_error_wait_ms: 1500']);
      });

      it("the recipient's client answers feature-not-implemented → 405 with Allow (RFC 3261 §21.4.6)", async () => {
        const { u, name } = await xmppUser(xml('presence'), clientSrv?.srv);
        const pending = send(name, 'unsupported', clientSrv?.port);
        await answer(u, await u.waitFor(withBody('unsupported'), 3000), 'feature-not-implemented');
        const res = await pending;
        // Note 1: the error came from a full JID (the client's resource): 405, not 501.
        assert.equal(res.status, 405);
        const allow = (res.headers.get('Allow') ?? '').split(/\s*,\s*/);
        assert.ok(allow.includes('OPTIONS') && allow.includes('SUBSCRIBE'), `Allow: ${allow.join(', ')}`);
        assert.ok(!allow.includes('MESSAGE'), 'the refused method is not allowed');
      });

      it("the recipient's client answers <gone/> with a new address → 301 with that address as Contact", async () => {
        const { u, name } = await xmppUser(xml('presence'), clientSrv?.srv);
        const pending = send(name, 'moved', clientSrv?.port);
        await answer(u, await u.waitFor(withBody('moved'), 3000), 'gone', 'xmpp:carol@localhost');
        const res = await pending;
        assert.equal(res.status, 301);
        assert.equal(res.headers.get('Contact'), '<sip:carol@localhost>');
      });

      it("the recipient's client answers not-authorized → 403, not a 401 without a challenge", async () => {
        const { u, name } = await xmppUser(xml('presence'), clientSrv?.srv);
        const pending = send(name, 'not yours', clientSrv?.port);
        await answer(u, await u.waitFor(withBody('not yours'), 3000), 'not-authorized');
        const res = await pending;
        assert.equal(res.status, 403);
        assert.equal(res.headers.get('WWW-Authenticate'), undefined);
      });
    });
  });
});
