// Bad stanzas from bound clients and dropped connections (RFC 6120 §4.9.3, §8.1, §8.2.3, §8.3; RFC 6121 §8.5).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { NS } from '../../server/xml/ns.js';
import {
  expectServerAlive,
  expectStreamError,
  messages,
  plainPayload,
  RawStream,
  stanzaErrorCondition,
} from '../helpers/raw-stream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PING = `<ping xmlns='${NS.PING}'/>`;

describe('bad input: stanzas and dropped connections', function () {
  this.timeout(15_000);
  let ts: TestServer;
  let bob: RawStream;

  before(async () => {
    // An explicit module list without offline storage, so that RFC 6121 §8.5.2.2.1 means service-unavailable.
    ts = await startTestServer({ hostsYaml: 'hosts:\n  localhost: { modules: [ping] }' });
    for (const u of ['alice', 'bob', 'carol', 'mallory']) await ts.addUser(u, `${u}-pw`);
    bob = await RawStream.login(ts.port, 'bob', 'bob-pw', { resource: 'victim', presence: true });
  });

  after(async () => {
    bob?.close();
    await ts?.stop();
  });

  const login = (user: string, resource?: string, presence = false) =>
    RawStream.login(ts.port, user, `${user}-pw`, { resource, presence });

  /** Waits until the server no longer lists the session bound to this full JID (bounded). */
  async function waitUnbound(full: string | null): Promise<void> {
    assert.ok(full);
    const [bare = '', resource] = full.split('/');
    const listed = () => ts.server.sessions.resources(bare).some((s) => s.resource === resource);
    for (let i = 0; i < 200 && listed(); i++) await sleep(10);
    assert.ok(!listed(), `${full} is no longer bound`);
  }

  describe('spoofed from (RFC 6120 §8.1.2.1, §4.9.3.9)', () => {
    const spoofs: [string, string][] = [
      [
        'another user’s bare JID',
        "<message from='alice@localhost' to='bob@localhost' type='chat'><body>leak</body></message>",
      ],
      [
        'the victim’s own full JID',
        "<message from='bob@localhost/victim' to='bob@localhost/victim'><body>leak</body></message>",
      ],
      [
        'another domain',
        "<message from='mallory@evil.example' to='bob@localhost' type='chat'><body>leak</body></message>",
      ],
      ['the server itself', "<message from='localhost' to='bob@localhost' type='headline'><body>leak</body></message>"],
      [
        'another resource of the same account',
        "<message from='mallory@localhost/other' to='bob@localhost'><body>leak</body></message>",
      ],
      ['a malformed JID', "<message from='a@b@c' to='bob@localhost' type='chat'><body>leak</body></message>"],
      [
        'another user on an iq',
        `<iq from='alice@localhost/x' to='bob@localhost/victim' type='get' id='spoof-iq'>${PING}</iq>`,
      ],
      ['another user on a presence', "<presence from='alice@localhost/x' to='bob@localhost' type='subscribed'/>"],
    ];
    for (const [what, bytes] of spoofs) {
      it(`closes the stream with <invalid-from/> for ${what}`, async () => {
        const s = await login('mallory');
        s.send(bytes);
        await expectStreamError(s, 'invalid-from');
      });
    }

    const own: [string, string][] = [
      ['own bare JID', 'mallory@localhost'],
      ['own full JID', 'mallory@localhost/desk'],
      ['own JID in another case', 'MALLORY@LOCALHOST/desk'],
    ];
    for (const [what, from] of own) {
      it(`accepts the ${what} and stamps the full JID`, async () => {
        const s = await login('mallory', 'desk');
        const id = `own-${what.replace(/\W+/g, '-')}`;
        s.send(`<message from='${from}' to='bob@localhost/victim' id='${id}'><body>hello</body></message>`);
        const got = await bob.waitId(id);
        assert.equal(got.attrs.from, 'mallory@localhost/desk');
        await s.sync();
        s.close();
      });
    }
  });

  describe('bad addresses and shapes (RFC 6120 §8.3.3, §8.2.3)', () => {
    const malformed = [
      '@localhost',
      'bob@',
      'a@b@c',
      'bob@localhost/',
      'bob@local host',
      `${'x'.repeat(1100)}@localhost`,
    ];
    for (const to of malformed) {
      it(`answers a message to '${to.slice(0, 24)}' with jid-malformed and keeps the stream`, async () => {
        const s = await login('alice');
        s.send(`<message to='${to}' id='jm' type='chat'><body>hi</body></message>`);
        const reply = await s.waitId('jm');
        assert.equal(reply.name, 'message');
        assert.equal(reply.attrs.type, 'error');
        assert.equal(stanzaErrorCondition(reply), 'jid-malformed');
        assert.equal(reply.getChild('error')?.attrs.type, 'modify');
        // The answer's own addresses are well-formed JIDs (RFC 6120 §8.1.2).
        assert.equal(reply.attrs.to, s.jid);
        assert.ok(reply.attrs.from === undefined || !reply.attrs.from.includes(to), `from='${reply.attrs.from}'`);
        await s.sync();
        s.close();
      });
    }

    it('answers an iq to a malformed JID with jid-malformed', async () => {
      const s = await login('alice');
      s.send(`<iq to='a@b@c' type='get' id='jm-iq'>${PING}</iq>`);
      const reply = await s.waitId('jm-iq');
      assert.equal(reply.attrs.type, 'error');
      assert.equal(stanzaErrorCondition(reply), 'jid-malformed');
      s.close();
    });

    const badIq: [string, string, string][] = [
      ['an iq without id', `<iq type='get'>${PING}</iq>`, ''],
      ['an iq without type', `<iq id='no-type'>${PING}</iq>`, 'no-type'],
      ['an iq with an invalid type', `<iq type='fetch' id='bad-type'>${PING}</iq>`, 'bad-type'],
      ['an iq get with two children', `<iq type='get' id='two'>${PING}<query xmlns='${NS.VERSION}'/></iq>`, 'two'],
      ['an iq set with two children', `<iq type='set' id='two-set'>${PING}${PING}</iq>`, 'two-set'],
      ['an iq get with no child', `<iq type='get' id='none' to='localhost'/>`, 'none'],
    ];
    for (const [what, bytes, id] of badIq) {
      it(`answers ${what} with bad-request`, async () => {
        const s = await login('alice');
        const from = s.elements.length;
        s.send(bytes);
        const reply = await s.waitElement(
          (el) => el.name === 'iq' && el.attrs.type === 'error' && (el.attrs.id ?? '') === id,
          `an iq error with id '${id}'`,
          5000,
          from,
        );
        assert.equal(stanzaErrorCondition(reply), 'bad-request');
        await s.sync();
        s.close();
      });
    }

    it('answers an iq get in an unknown namespace with service-unavailable (RFC 6120 §8.4)', async () => {
      const s = await login('alice');
      s.send("<iq type='get' id='unknown-ns' to='localhost'><query xmlns='urn:example:nothing'/></iq>");
      const reply = await s.waitId('unknown-ns');
      assert.equal(stanzaErrorCondition(reply), 'service-unavailable');
      s.close();
    });

    it('delivers a message with an unknown extension as it is (RFC 6120 §8.4)', async () => {
      const s = await login('alice');
      s.send(
        "<message to='bob@localhost/victim' id='ext' type='chat'><body>x</body><thing xmlns='urn:example:thing' a='1'><y/></thing></message>",
      );
      const got = await bob.waitId('ext');
      assert.equal(got.getChild('thing', 'urn:example:thing')?.attrs.a, '1');
      s.close();
    });

    const unsupported: [string, string][] = [
      ['an unknown element in jabber:client', "<foo to='bob@localhost'><body>leak</body></foo>"],
      [
        'a message in an unknown namespace',
        "<message xmlns='urn:example:other' to='bob@localhost'><body>leak</body></message>",
      ],
      ['a message in jabber:server', "<message xmlns='jabber:server' to='bob@localhost'><body>leak</body></message>"],
      ['stream features sent by the client', '<stream:features/>'],
    ];
    for (const [what, bytes] of unsupported) {
      it(`closes the stream with <unsupported-stanza-type/> for ${what}`, async () => {
        const s = await login('alice');
        s.send(bytes);
        await expectStreamError(s, 'unsupported-stanza-type');
      });
    }
  });

  describe('never an error in reply to an error (RFC 6120 §8.3.1)', () => {
    it('answers no error stanza, whatever it was addressed to', async () => {
      const s = await login('alice');
      const before = s.elements.length;
      const targets = [
        'carol@localhost',
        'carol@localhost/gone',
        'nobody@localhost',
        'user@remote.example',
        'localhost',
        'a@b@c',
      ];
      for (const to of targets) {
        s.send(
          `<message type='error' to='${to}' id='e-msg'><error type='cancel'><item-not-found xmlns='${NS.STANZAS_ERR}'/></error></message>`,
        );
        s.send(
          `<iq type='error' to='${to}' id='e-iq'><error type='cancel'><item-not-found xmlns='${NS.STANZAS_ERR}'/></error></iq>`,
        );
        s.send(`<iq type='result' to='${to}' id='e-res'/>`);
        s.send(
          `<presence type='error' to='${to}'><error type='cancel'><gone xmlns='${NS.STANZAS_ERR}'/></error></presence>`,
        );
      }
      await s.sync();
      await sleep(100);
      await s.sync();
      const unexpected = s.elements
        .slice(before)
        .filter(
          (el) =>
            (el.name === 'message' || el.name === 'presence' || el.name === 'iq') && !el.attrs.id?.startsWith('sync'),
        );
      assert.deepEqual(
        unexpected.map((el) => el.toString()),
        [],
      );
      s.close();
    });
  });

  describe('dropped connections', () => {
    it('survives a socket destroyed in the middle of a stanza, and delivers nothing of it', async () => {
      const s = await login('alice');
      s.send("<message to='bob@localhost/victim' type='chat'><body>leak half");
      await sleep(20);
      s.destroy();
      await waitUnbound(s.jid);
      await expectServerAlive(ts.port, 'alice', 'alice-pw');
    });

    const midNegotiation: [string, (s: RawStream) => Promise<void>][] = [
      ['a stream header', async (s) => s.send("<?xml version='1.0'?><stream:stream to='local")],
      [
        'STARTTLS, after <proceed/>',
        async (s) => {
          await s.open();
          s.send(`<starttls xmlns='${NS.TLS}'/>`);
          await s.waitElement((el) => el.name === 'proceed', '<proceed/>');
        },
      ],
      [
        'a TLS handshake',
        async (s) => {
          await s.open();
          s.send(`<starttls xmlns='${NS.TLS}'/>`);
          await s.waitElement((el) => el.name === 'proceed', '<proceed/>');
          s.send(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
        },
      ],
      [
        'a SCRAM exchange',
        async (s) => {
          await s.open();
          await s.startTls();
          await s.open();
          const first = Buffer.from('n,,n=alice,r=abcdefghijklmnop').toString('base64');
          s.send(`<auth xmlns='${NS.SASL}' mechanism='SCRAM-SHA-256'>${first}</auth>`);
          await s.waitElement((el) => el.name === 'challenge', 'a SCRAM challenge');
        },
      ],
      [
        'a PLAIN exchange, before the restart',
        async (s) => {
          await s.open();
          await s.startTls();
          await s.open();
          s.send(`<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainPayload('alice', 'alice-pw')}</auth>`);
        },
      ],
      [
        'resource binding',
        async (s) => {
          await s.open();
          await s.startTls();
          await s.open();
          await s.authPlain('alice', 'alice-pw');
          await s.open();
          s.send(`<iq type='set' id='b'><bind xmlns='${NS.BIND}'><resource>half`);
        },
      ],
    ];
    for (const [what, step] of midNegotiation) {
      it(`survives a socket destroyed during ${what}`, async () => {
        const s = await RawStream.connect({ port: ts.port });
        await step(s);
        s.destroy();
        await sleep(20);
        await expectServerAlive(ts.port, 'alice', 'alice-pw');
      });
    }

    it('removes a dropped bound session: a message to its full JID bounces (RFC 6121 §8.5.3.2.1)', async () => {
      const carol = await login('carol', 'phone', true);
      carol.destroy();
      await waitUnbound(carol.jid);
      bob.send("<message to='carol@localhost/phone' type='chat' id='to-dead'><body>are you there</body></message>");
      const reply = await bob.waitId('to-dead');
      assert.equal(reply.attrs.type, 'error');
      assert.equal(stanzaErrorCondition(reply), 'service-unavailable');
      assert.equal(reply.attrs.from, 'carol@localhost/phone');
      bob.send(`<iq to='carol@localhost/phone' type='get' id='iq-to-dead'>${PING}</iq>`);
      const iqReply = await bob.waitId('iq-to-dead');
      assert.equal(stanzaErrorCondition(iqReply), 'service-unavailable');
      // A headline to the dead resource is silently dropped (RFC 6121 §8.5.3.2.1).
      bob.send("<message to='carol@localhost/phone' type='headline' id='hl-to-dead'><body>x</body></message>");
      await bob.sync();
      assert.equal(
        bob.find((el) => el.attrs.id === 'hl-to-dead'),
        undefined,
      );
    });
  });

  describe('afterwards', () => {
    it('delivered nothing refused to the bystander, which stayed connected', async () => {
      await bob.sync();
      const leaked = messages(bob).filter((m) => (m.getChildText('body') ?? '').includes('leak'));
      assert.deepEqual(
        leaked.map((m) => m.toString()),
        [],
      );
      assert.equal(
        bob.find((el) => el.attrs.id === 'spoof-iq' || el.attrs.type === 'subscribed'),
        undefined,
      );
      assert.ok(!bob.socketClosed);
      await expectServerAlive(ts.port, 'alice', 'alice-pw');
    });
  });
});
