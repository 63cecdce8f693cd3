// External components over the XEP-0114 accept protocol: handshake, routing both ways, address checks on what
// a component sends, limits, and bounces while it is away. The component is a raw socket speaking the protocol.
import assert from 'node:assert/strict';
import { NS } from '../../server/xml/ns.js';
import { componentDigest, componentHeader, connectComponent, openComponent } from '../helpers/raw-component.js';
import {
  expectServerAlive,
  expectStreamError,
  messages,
  RawStream,
  stanzaErrorCondition,
} from '../helpers/raw-stream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const DOMAIN = 'irc.localhost';
const SECRET = 'component-secret';

describe('XEP-0114 components', function () {
  this.timeout(15_000);
  let ts: TestServer;
  let port: number;
  let alice: RawStream;

  before(async () => {
    process.env.SB_TEST_COMPONENT_SECRET = SECRET;
    ts = await startTestServer({
      listeners: ['{ type: component, address: 127.0.0.1, port: 0 }'],
      yaml: [
        'components:',
        `  ${DOMAIN}: { secret: "\${SB_TEST_COMPONENT_SECRET}", name: IRC gateway }`,
        '  other.example: { secret: other-secret }',
        'limits: { c2s_stanza_bytes: 10000, component_stanza_bytes: 40000 }',
      ].join('\n'),
    });
    port = ts.server.port('component');
    await ts.addUser('alice', 'alice-pw');
    alice = await RawStream.login(ts.port, 'alice', 'alice-pw', { resource: 'desk', presence: true });
  });

  after(async () => {
    alice?.close();
    await ts?.stop();
    delete process.env.SB_TEST_COMPONENT_SECRET;
  });

  /**
   * Closes a component stream politely (RFC 6120 §4.4) and waits for the server's closing tag: the server drops
   * the component's route before it writes that tag, so the domain is offline once it has arrived.
   */
  async function closeComponent(c: RawStream): Promise<void> {
    c.close();
    await c.waitFor(() => c.streamClosed, "the server's closing tag");
    await c.waitClosed();
  }

  /** Sends a stanza from alice and returns the reply with that id. */
  async function aliceRequest(bytes: string, id: string): Promise<ReturnType<RawStream['find']>> {
    alice.send(bytes);
    return alice.waitId(id);
  }

  describe('handshake (XEP-0114 §3)', () => {
    it('answers the header with the component name and a stream id, and a good handshake with <handshake/>', async () => {
      const c = await connectComponent(port, DOMAIN, SECRET);
      try {
        const header = c.headers[0]!;
        assert.equal(header.from, DOMAIN);
        assert.equal(header.xmlns, NS.COMPONENT);
        assert.ok(header.id && header.id.length >= 16, 'a stream id to compute the handshake over');
        assert.equal(header.version, undefined, 'XEP-0114 streams have no version and no features');
        assert.equal(
          c.find((el) => el.name === 'stream:features'),
          undefined,
        );
      } finally {
        await closeComponent(c);
      }
    });

    it('closes the stream with <not-authorized/> on a wrong secret', async () => {
      const { s, id } = await openComponent(port, DOMAIN);
      s.send(`<handshake>${componentDigest(id, 'wrong-secret')}</handshake>`);
      await expectStreamError(s, 'not-authorized');
      assert.equal(
        s.find((el) => el.name === 'handshake'),
        undefined,
      );
    });

    it('refuses a digest computed over another stream id (no replay)', async () => {
      const { s } = await openComponent(port, DOMAIN);
      s.send(`<handshake>${componentDigest('3BF96D32', SECRET)}</handshake>`);
      await expectStreamError(s, 'not-authorized');
    });

    it('refuses the secret of another component', async () => {
      const { s, id } = await openComponent(port, DOMAIN);
      s.send(`<handshake>${componentDigest(id, 'other-secret')}</handshake>`);
      await expectStreamError(s, 'not-authorized');
    });

    it('answers an unknown component name with <host-unknown/>', async () => {
      const { s } = await openComponent(port, 'nobody.localhost');
      await expectStreamError(s, 'host-unknown');
    });

    it('refuses a local host as component name with <host-unknown/>', async () => {
      const { s } = await openComponent(port, 'localhost');
      await expectStreamError(s, 'host-unknown');
    });

    it('refuses a client stream on the component port with <invalid-namespace/>', async () => {
      const s = await RawStream.connect({ port });
      s.sendHeader(componentHeader(DOMAIN, NS.CLIENT));
      await expectStreamError(s, 'invalid-namespace');
    });

    it('refuses a stanza before the handshake with <not-authorized/>', async () => {
      const { s } = await openComponent(port, DOMAIN);
      s.send(`<message from='${DOMAIN}' to='alice@localhost'><body>early</body></message>`);
      await expectStreamError(s, 'not-authorized');
      await alice.sync();
      assert.equal(messages(alice).filter((m) => m.getChildText('body') === 'early').length, 0);
    });

    it('answers malformed XML with <not-well-formed/>', async () => {
      const c = await connectComponent(port, DOMAIN, SECRET);
      c.send(`<message from='${DOMAIN}' to='alice@localhost'><body>x</bod></message>`);
      await expectStreamError(c, 'not-well-formed');
    });

    it('refuses a second stream for a connected component with <conflict/> and keeps the first', async () => {
      const first = await connectComponent(port, DOMAIN, SECRET);
      try {
        const { s } = await openComponent(port, DOMAIN);
        await expectStreamError(s, 'conflict');
        first.send(
          `<message from='bot@${DOMAIN}' to='alice@localhost/desk' id='still'><body>still here</body></message>`,
        );
        await alice.waitElement((el) => el.attrs.id === 'still', 'the first component still routes');
      } finally {
        await closeComponent(first);
      }
    });
  });

  describe('routing', () => {
    let c: RawStream;
    beforeEach(async () => {
      c = await connectComponent(port, DOMAIN, SECRET);
    });
    afterEach(async () => {
      if (!c.socketClosed) await closeComponent(c);
    });

    it('delivers stanzas for its domain and any JID at it, stamped with the sender', async () => {
      alice.send(`<message to='#chan%irc.example@${DOMAIN}' id='m1' type='groupchat'><body>hi irc</body></message>`);
      const m = await c.waitElement((el) => el.attrs.id === 'm1', 'the message at the component');
      assert.equal(m.attrs.from, 'alice@localhost/desk');
      assert.equal(m.attrs.to, `#chan%irc.example@${DOMAIN}`);
      assert.equal(m.getChildText('body'), 'hi irc');
      alice.send(`<presence to='${DOMAIN}' id='p1'/>`);
      const p = await c.waitElement((el) => el.attrs.id === 'p1', 'the presence at the component');
      assert.equal(p.attrs.from, 'alice@localhost/desk');
    });

    it('carries a message to a local user and back, and an iq round trip', async () => {
      alice.send(`<message to='echo@${DOMAIN}' id='ping1' type='chat'><body>marco</body></message>`);
      const got = await c.waitElement((el) => el.attrs.id === 'ping1', 'alice’s message');
      c.send(
        `<message from='echo@${DOMAIN}/bot' to='${got.attrs.from}' id='pong1' type='chat'><body>polo</body></message>`,
      );
      const back = await alice.waitId('pong1');
      assert.equal(back.attrs.from, `echo@${DOMAIN}/bot`);
      assert.equal(back.getChildText('body'), 'polo');

      alice.send(`<iq to='${DOMAIN}' type='get' id='info1'><query xmlns='${NS.DISCO_INFO}'/></iq>`);
      const iq = await c.waitElement((el) => el.attrs.id === 'info1', 'the disco#info request');
      c.send(
        `<iq from='${DOMAIN}' to='${iq.attrs.from}' type='result' id='info1'><query xmlns='${NS.DISCO_INFO}'><identity category='gateway' type='irc'/></query></iq>`,
      );
      const result = await alice.waitId('info1');
      assert.equal(result.attrs.type, 'result');
      assert.equal(result.attrs.from, DOMAIN);
      assert.equal(result.getChild('query')?.getChild('identity')?.attrs.type, 'irc');
    });

    it('lets the component ask the server and get the answer (iq to a local host)', async () => {
      c.send(`<iq from='${DOMAIN}' to='localhost' type='get' id='srv1'><ping xmlns='${NS.PING}'/></iq>`);
      const r = await c.waitId('srv1');
      assert.equal(r.attrs.type, 'result');
      assert.equal(r.attrs.to, DOMAIN);
    });

    it('is listed in the disco#items of the host whose subdomain it is', async () => {
      const r = await aliceRequest(
        `<iq to='localhost' type='get' id='items1'><query xmlns='${NS.DISCO_ITEMS}'/></iq>`,
        'items1',
      );
      const items = r?.getChild('query')?.getChildren('item') ?? [];
      const item = items.find((i) => i.attrs.jid === DOMAIN);
      assert.ok(item, `disco#items lists ${DOMAIN}: ${r?.toString()}`);
      assert.equal(item.attrs.name, 'IRC gateway');
    });

    it('answers a stanza without a to with bad-request and one with a bad to with jid-malformed', async () => {
      c.send(`<message from='${DOMAIN}' id='noto'><body>x</body></message>`);
      const e1 = await c.waitId('noto');
      assert.equal(e1.attrs.type, 'error');
      assert.equal(stanzaErrorCondition(e1), 'bad-request');
      c.send(`<iq from='${DOMAIN}' to='a@b@c' type='get' id='badto'><ping xmlns='${NS.PING}'/></iq>`);
      const e2 = await c.waitId('badto');
      assert.equal(stanzaErrorCondition(e2), 'jid-malformed');
      // The stream stays up after stanza errors.
      c.send(`<message from='${DOMAIN}' to='alice@localhost/desk' id='after'><body>ok</body></message>`);
      await alice.waitId('after');
    });

    const foreign: [string, string][] = [
      ['a local user', 'alice@localhost'],
      ['the server itself', 'localhost'],
      ['a subdomain of the component', `x.${DOMAIN}`],
      ['another component', 'other.example'],
      ['a malformed JID', 'a@b@c'],
    ];
    for (const [what, from] of foreign) {
      it(`closes the stream with <invalid-from/> for a from at ${what}, delivering nothing`, async () => {
        c.send(`<message from='${from}' to='alice@localhost/desk' id='spoof'><body>spoof</body></message>`);
        await expectStreamError(c, 'invalid-from');
        await alice.sync();
        assert.equal(
          alice.find((el) => el.attrs.id === 'spoof'),
          undefined,
          'nothing was delivered',
        );
      });
    }

    it('closes the stream with <invalid-from/> for a stanza without from', async () => {
      c.send(`<message to='alice@localhost/desk' id='nofrom'><body>x</body></message>`);
      await expectStreamError(c, 'invalid-from');
      await alice.sync();
      assert.equal(
        alice.find((el) => el.attrs.id === 'nofrom'),
        undefined,
      );
    });

    it('accepts stanzas up to limits.component_stanza_bytes, larger than the client limit', async () => {
      const body = 'x'.repeat(20_000);
      c.send(`<message from='big@${DOMAIN}' to='alice@localhost/desk' id='big'><body>${body}</body></message>`);
      const m = await alice.waitId('big');
      assert.equal(m.getChildText('body')?.length, 20_000);
      c.send(`<message from='big@${DOMAIN}' to='alice@localhost/desk'><body>${'y'.repeat(50_000)}</body></message>`);
      await expectStreamError(c, 'policy-violation');
    });
  });

  describe('while the component is away', () => {
    it('bounces messages and iqs with service-unavailable, and drops it from disco#items', async () => {
      const c = await connectComponent(port, DOMAIN, SECRET);
      await closeComponent(c);
      alice.send(`<message to='room@${DOMAIN}' id='away1' type='chat'><body>anyone?</body></message>`);
      const m = await alice.waitId('away1');
      assert.equal(m.attrs.type, 'error');
      assert.equal(m.attrs.from, `room@${DOMAIN}`);
      assert.equal(stanzaErrorCondition(m), 'service-unavailable');
      const iq = await aliceRequest(
        `<iq to='${DOMAIN}' type='get' id='away2'><ping xmlns='${NS.PING}'/></iq>`,
        'away2',
      );
      assert.equal(iq ? stanzaErrorCondition(iq) : undefined, 'service-unavailable');
      const r = await aliceRequest(
        `<iq to='localhost' type='get' id='items2'><query xmlns='${NS.DISCO_ITEMS}'/></iq>`,
        'items2',
      );
      const listed = (r?.getChild('query')?.getChildren('item') ?? []).some((i) => i.attrs.jid === DOMAIN);
      assert.equal(listed, false);
      await expectServerAlive(ts.port, 'alice', 'alice-pw');
    });

    it('delivers again once the component is back', async () => {
      const c = await connectComponent(port, DOMAIN, SECRET);
      try {
        alice.send(`<message to='room@${DOMAIN}' id='back1'><body>back?</body></message>`);
        await c.waitElement((el) => el.attrs.id === 'back1', 'the message after reconnecting');
      } finally {
        await closeComponent(c);
      }
    });
  });
});
