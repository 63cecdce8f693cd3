// Bad authentication and stanzas sent too early (RFC 6120 §6.4.5, §6.5, §4.9.3.12, §7.1).
import assert from 'node:assert/strict';
import type { Element } from '../../server/xml/element.js';
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

/** The condition inside a SASL <failure/> (RFC 6120 §6.5). */
function saslCondition(el: Element): string | undefined {
  assert.equal(el.name, 'failure', `expected a SASL failure, got ${el.toString()}`);
  return el.getChildElements().find((c) => c.name !== 'text')?.name;
}

describe('bad input: authentication and stanzas before it', function () {
  this.timeout(15_000);
  let ts: TestServer;
  let bob: RawStream;

  before(async () => {
    // A roomy throttle: these tests fail on purpose, and the per-IP lockout is tested elsewhere.
    ts = await startTestServer({ yaml: 'auth: { throttle: { max_failures: 100 } }' });
    await ts.addUser('alice', 'alice-pw');
    await ts.addUser('bob', 'bob-pw');
    bob = await RawStream.login(ts.port, 'bob', 'bob-pw', { resource: 'victim', presence: true });
  });

  after(async () => {
    bob?.close();
    await ts?.stop();
  });

  /** A stream after STARTTLS, ready for SASL. */
  async function secured(): Promise<RawStream> {
    const s = await RawStream.connect({ port: ts.port });
    await s.open();
    await s.startTls();
    await s.open();
    return s;
  }

  /** A stream after SASL success and the restart, ready for bind. */
  async function authenticated(): Promise<RawStream> {
    const s = await secured();
    await s.authPlain('alice', 'alice-pw');
    await s.open();
    return s;
  }

  describe('SASL failures (RFC 6120 §6.5)', () => {
    it('answers PLAIN before STARTTLS with <encryption-required/>, and lets the client start TLS', async () => {
      const s = await RawStream.connect({ port: ts.port });
      const features = await s.open();
      assert.ok(features.getChild('starttls', NS.TLS)?.getChild('required'), 'STARTTLS is required');
      assert.equal(features.getChild('mechanisms', NS.SASL), undefined, 'no mechanisms before TLS');
      const failure = await s.auth('PLAIN', plainPayload('alice', 'alice-pw'));
      assert.equal(saslCondition(failure), 'encryption-required');
      await s.startTls();
      await s.open();
      await s.authPlain('alice', 'alice-pw');
      await s.open();
      await s.bind();
      await s.sync();
      s.close();
    });

    const cases: [string, string, string, string][] = [
      ['a mechanism that does not exist', 'X-NOT-A-MECHANISM', '', 'invalid-mechanism'],
      ['a mechanism that is not offered', 'DIGEST-MD5', '', 'invalid-mechanism'],
      ['an empty mechanism name', '', '', 'invalid-mechanism'],
      ['base64 with characters outside the alphabet', 'PLAIN', '!!!!', 'incorrect-encoding'],
      ['a PLAIN message without its NUL separators (RFC 4616 §2)', 'PLAIN', 'YWxp', 'malformed-request'],
      ['base64 with padding in the middle', 'PLAIN', 'YQ==YWxp', 'incorrect-encoding'],
      ['base64 of a bad length', 'PLAIN', 'YWx', 'incorrect-encoding'],
      ['an authzid for another user', 'PLAIN', plainPayload('alice', 'alice-pw', 'otheruser'), 'invalid-authzid'],
      [
        "an authzid for another user's JID",
        'PLAIN',
        plainPayload('alice', 'alice-pw', 'bob@localhost'),
        'invalid-authzid',
      ],
      ['a wrong password', 'PLAIN', plainPayload('alice', 'wrong'), 'not-authorized'],
      ['an unknown user', 'PLAIN', plainPayload('nobody', 'alice-pw'), 'not-authorized'],
    ];
    for (const [what, mechanism, payload, condition] of cases) {
      it(`answers ${what} with <${condition}/>`, async () => {
        const s = await secured();
        const failure = await s.auth(mechanism, payload);
        assert.equal(saslCondition(failure), condition);
        assert.equal(failure.attrs.xmlns, NS.SASL);
        // One failure is not fatal (RFC 6120 §6.4.5): the client may retry on the same stream.
        await s.authPlain('alice', 'alice-pw');
        s.close();
      });
    }

    it('accepts an authzid that names the authenticating account (RFC 6120 §6.3.8)', async () => {
      const s = await secured();
      const outcome = await s.auth('PLAIN', plainPayload('alice', 'alice-pw', 'alice@localhost'));
      assert.equal(outcome.name, 'success');
      s.close();
    });

    it('closes the stream with <policy-violation/> after too many failures (RFC 6120 §6.4.5)', async () => {
      const s = await secured();
      const conditions: (string | undefined)[] = [];
      for (let i = 0; i < 10 && !s.socketClosed && !s.streamError(); i++) {
        const from = s.elements.length;
        s.send(`<auth xmlns='${NS.SASL}' mechanism='PLAIN'>${plainPayload('alice', `wrong-${i}`)}</auth>`);
        const el = await s.waitElement(
          (e) => e.name === 'failure' || e.name === 'stream:error',
          'a failure',
          5000,
          from,
        );
        if (el.name === 'failure') conditions.push(saslCondition(el));
      }
      await expectStreamError(s, 'policy-violation');
      assert.ok(conditions.length >= 2 && conditions.length <= 5, `retries allowed: ${conditions.length}`);
      assert.ok(conditions.every((c) => c === 'not-authorized'));
    });

    it('counts failures of any kind towards the limit', async () => {
      const s = await secured();
      for (let i = 0; i < 10 && !s.socketClosed && !s.streamError(); i++) {
        const from = s.elements.length;
        s.send(`<auth xmlns='${NS.SASL}' mechanism='X-BOGUS-${i}'/>`);
        await s.waitElement((e) => e.name === 'failure' || e.name === 'stream:error', 'a failure', 5000, from);
      }
      await expectStreamError(s, 'policy-violation');
    });
  });

  describe('stanzas before authentication (RFC 6120 §4.9.3.12)', () => {
    const stanzas: [string, string][] = [
      ['a message', "<message to='bob@localhost' type='chat'><body>leak</body></message>"],
      ['a presence', "<presence to='bob@localhost' type='subscribe'/>"],
      [
        'an iq to another user',
        "<iq to='bob@localhost/victim' type='get' id='pre1'><ping xmlns='urn:xmpp:ping'/></iq>",
      ],
    ];
    for (const [what, bytes] of stanzas) {
      it(`closes with <not-authorized/> on ${what} before STARTTLS`, async () => {
        const s = await RawStream.connect({ port: ts.port });
        await s.open();
        s.send(bytes);
        await expectStreamError(s, 'not-authorized');
      });
      it(`closes with <not-authorized/> on ${what} after STARTTLS, before SASL`, async () => {
        const s = await secured();
        s.send(bytes);
        await expectStreamError(s, 'not-authorized');
      });
    }

    it('closes with <not-authorized/> on a message after SASL, before bind', async () => {
      const s = await authenticated();
      s.send("<message to='bob@localhost' type='chat'><body>leak</body></message>");
      await expectStreamError(s, 'not-authorized');
    });

    it('answers an iq other than bind after SASL with a not-authorized error, and binds afterwards', async () => {
      const s = await authenticated();
      s.send("<iq to='bob@localhost/victim' type='get' id='early'><ping xmlns='urn:xmpp:ping'/></iq>");
      const reply = await s.waitId('early');
      assert.equal(reply.attrs.type, 'error');
      assert.equal(stanzaErrorCondition(reply), 'not-authorized');
      await s.bind();
      await s.sync();
      s.close();
    });

    it('closes with <not-authorized/> on a non-stanza element before bind', async () => {
      const s = await authenticated();
      // An element no extension claims (XEP-0198 <enable/> before bind gets <failed/>: stream-management.spec).
      s.send("<enable xmlns='urn:example:unknown'/>");
      await expectStreamError(s, 'not-authorized');
    });
  });

  describe('afterwards', () => {
    it('delivered nothing from unauthenticated streams, and still accepts logins', async () => {
      await bob.sync();
      assert.deepEqual(
        messages(bob).map((m) => m.toString()),
        [],
      );
      assert.equal(
        // Bob's own initial presence comes back to him (RFC 6121 §4.2.2); nothing else may arrive.
        bob.find(
          (el) =>
            (el.name === 'presence' && el.attrs.from !== bob.jid) || el.attrs.id === 'pre1' || el.attrs.id === 'early',
        ),
        undefined,
      );
      await expectServerAlive(ts.port, 'alice', 'alice-pw');
    });
  });
});
