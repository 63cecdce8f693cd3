// XMPP resources on the SIP side (mode `domain`, raw SIP user agents over UDP): a SIP watcher of a user with two
// resources gets one PIDF tuple per resource (RFC 8048 §4, RFC 3863), each with the resource's GRUU as contact
// (RFC 7247 §6), and the tuple of a resource that leaves goes away; a MESSAGE to `sip:user@domain;gr=resource` reaches
// that full JID only (RFC 7247 §6), or the bare JID when the resource is not online (RFC 6121 §8.5.3.2.1); a message
// from a full JID carries `;gr=` in the From (RFC 7572 §4), and a reply to that URI reaches the same resource.
import assert from 'node:assert/strict';
import { parseXml } from '../../server/xml/element.js';
import {
  available,
  type ClientSession,
  expectNone,
  fresh,
  login,
  rosterGet,
  stopAll,
  xml,
} from '../helpers/im-clients.js';
import { registerWithGateway } from '../helpers/irc-gateway.js';
import type { TestServer } from '../helpers/server.js';
import { SIP_GW as GW, SipUdp, sipRequest, startSipGatewayServer, uniq } from '../helpers/sip.js';

const NS_PIDF = 'urn:ietf:params:xml:ns:pidf';

interface TupleView {
  basic: string | null;
  contact: string | null;
  note: string | null;
  show: string | null;
}

/** The tuples of a NOTIFY's PIDF body, read by namespace. */
function tuplesOf(body: Buffer): TupleView[] {
  const root = parseXml(body.toString('utf8').replace(/^<\?xml[^>]*>\s*/, ''));
  return root.getChildren('tuple', NS_PIDF).map((t) => ({
    basic: t.getChild('status', NS_PIDF)?.getChildText('basic', NS_PIDF) ?? null,
    contact: t.getChildText('contact', NS_PIDF),
    note: t.getChildText('note', NS_PIDF),
    show: t.getChild('show', 'jabber:client')?.getText() ?? null,
  }));
}

describe('SIP gateway: one tuple per XMPP resource and GRUUs (RFC 8048 §4, RFC 7247 §6)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  let port: number;
  let ua: SipUdp;
  const clients: ClientSession[] = [];

  before(async () => {
    ({ srv, port } = await startSipGatewayServer(['presence_authorization: open']));
    ua = await SipUdp.open();
    ua.autoAnswer('NOTIFY');
  });
  after(async () => {
    await stopAll(clients);
    await ua?.close();
    await srv?.stop();
  });

  /** A user online as `laptop` (logged in to the gateway) and as `phone`, each with its own presence. */
  async function twoResources(): Promise<{ name: string; laptop: ClientSession; phone: ClientSession }> {
    const name = fresh('sipres');
    await srv.addUser(name, `${name}-secret`);
    const laptop = await login(srv, name, 'laptop');
    clients.push(laptop);
    await rosterGet(laptop);
    await laptop.send(xml('presence', {}, xml('status', {}, 'at my desk')));
    await registerWithGateway(laptop, GW, {});
    await laptop.waitFor((el) => el.is('presence') && el.attrs.from === GW && el.attrs.type === undefined, 10_000);
    const phone = await login(srv, name, 'phone');
    clients.push(phone);
    await rosterGet(phone);
    await available(phone, [xml('show', {}, 'away'), xml('status', {}, 'on the train')]);
    return { name, laptop, phone };
  }

  const me = () => `sip:w@127.0.0.1:${ua.port}`;

  /** NOTIFYs of one subscription, in order, until one whose tuples satisfy `pred`. */
  async function notifyUntil(callId: string, pred: (t: TupleView[]) => boolean, what: string): Promise<TupleView[]> {
    const deadline = Date.now() + 10_000;
    const seen: string[] = [];
    for (;;) {
      const left = deadline - Date.now();
      assert.ok(left > 0, `no NOTIFY with ${what}; got:\n${seen.join('\n---\n')}`);
      const n = await ua.next(
        (m) => m.kind === 'request' && m.method === 'NOTIFY' && m.headers.get('Call-ID') === callId,
        left,
        `a NOTIFY with ${what}`,
      );
      const tuples = tuplesOf(n.body);
      if (pred(tuples)) return tuples;
      seen.push(n.body.toString());
    }
  }

  async function message(uri: string, body: string): Promise<number> {
    const callId = uniq('m');
    await ua.send(
      sipRequest({ method: 'MESSAGE', uri, from: me(), to: uri, via: ua.via, callId, body, contentType: 'text/plain' }),
      port,
    );
    return (await ua.response(callId)).status;
  }

  const withBody = (text: string) => (el: { is(n: string): boolean; getChildText(n: string): string | null }) =>
    el.is('message') && el.getChildText('body') === text;

  it('NOTIFYs one tuple per resource with its GRUU; a resource that leaves loses its tuple, the last closes', async () => {
    const { name, laptop, phone } = await twoResources();
    const callId = uniq('s');
    await ua.send(
      sipRequest({
        method: 'SUBSCRIBE',
        uri: `sip:${name}@localhost`,
        from: me(),
        to: `sip:${name}@localhost`,
        via: ua.via,
        callId,
        headers: [`Contact: <${me()}>`, 'Event: presence', 'Accept: application/pidf+xml', 'Expires: 120'],
      }),
      port,
    );
    assert.equal((await ua.response(callId)).status, 200);
    const both = await notifyUntil(callId, (t) => t.length === 2, 'two tuples');
    const byContact = new Map(both.map((t) => [t.contact, t]));
    assert.deepEqual(byContact.get(`sip:${name}@localhost;gr=laptop`), {
      basic: 'open',
      contact: `sip:${name}@localhost;gr=laptop`,
      note: 'at my desk',
      show: null,
    });
    assert.deepEqual(byContact.get(`sip:${name}@localhost;gr=phone`), {
      basic: 'open',
      contact: `sip:${name}@localhost;gr=phone`,
      note: 'on the train',
      show: 'away',
    });

    await phone.send(xml('presence', { type: 'unavailable' }));
    const one = await notifyUntil(callId, (t) => t.length === 1, 'one tuple');
    assert.deepEqual(one, [
      { basic: 'open', contact: `sip:${name}@localhost;gr=laptop`, note: 'at my desk', show: null },
    ]);

    await laptop.send(xml('presence', { type: 'unavailable' }));
    const closed = await notifyUntil(callId, (t) => t.every((x) => x.basic === 'closed'), 'a closed document');
    assert.equal(closed.length, 1);
  });

  it('delivers a MESSAGE to `;gr=laptop` to that resource only, and to the bare JID when the resource is gone', async () => {
    const { name, laptop, phone } = await twoResources();
    const from = `w\\40127.0.0.1\\3a${ua.port}@${GW}`;
    assert.equal(await message(`sip:${name}@localhost;gr=laptop`, 'for the laptop'), 200);
    const got = await laptop.waitFor(withBody('for the laptop'), 5000);
    assert.equal(got.attrs.to, `${name}@localhost/laptop`);
    assert.equal(got.attrs.from, from);
    await expectNone(phone, withBody('for the laptop'), 400);

    assert.equal(await message(`sip:${name}@localhost;gr=phone`, 'for the phone'), 200);
    await phone.waitFor(withBody('for the phone'), 5000);
    await expectNone(laptop, withBody('for the phone'), 400);

    // RFC 6121 §8.5.3.2.1: a normal message to an unavailable full JID is handled as if sent to the bare JID (both
    // resources have priority 0, so both get it, §8.5.2.1.1).
    assert.equal(await message(`sip:${name}@localhost;gr=tablet`, 'for the tablet'), 200);
    await laptop.waitFor(withBody('for the tablet'), 5000);
    await phone.waitFor(withBody('for the tablet'), 5000);
  });

  it('sends a message from a full JID with `;gr=` in the From; a reply to that URI reaches the same resource', async () => {
    const { name, laptop, phone } = await twoResources();
    const peer = await SipUdp.open();
    try {
      await phone.send(
        xml(
          'message',
          { to: `peer\\40127.0.0.1\\3a${peer.port}@${GW}`, type: 'chat' },
          xml('body', {}, 'from the phone'),
        ),
      );
      const m = await peer.next((x) => x.kind === 'request' && x.method === 'MESSAGE', 5000);
      await peer.reply(m, 200, 'OK', port);
      const fromUri = /<([^>]+)>/.exec(m.headers.get('From') ?? '')?.[1];
      assert.equal(fromUri, `sip:${name}@localhost;gr=phone`);
      // The peer answers the GRUU it saw (RFC 7247 §6): the phone gets it, the laptop does not.
      const callId = uniq('r');
      await peer.send(
        sipRequest({
          method: 'MESSAGE',
          uri: fromUri ?? '',
          from: `sip:peer@127.0.0.1:${peer.port}`,
          to: fromUri ?? '',
          via: peer.via,
          callId,
          body: 'reply to the phone',
          contentType: 'text/plain',
        }),
        port,
      );
      assert.equal((await peer.response(callId)).status, 200);
      await phone.waitFor(withBody('reply to the phone'), 5000);
      await expectNone(laptop, withBody('reply to the phone'), 400);
    } finally {
      await peer.close();
    }
  });
});
