// Unit tests of gateways/core/bounces.ts: reading a stanza error (RFC 6120 §8.3.2) and matching the bounce of a
// message a gateway routed for a legacy contact (RFC 6120 §8.3.1: same id, addresses swapped) to the wait for it.
import assert from 'node:assert/strict';
import { Bounces, outcomeId, readStanzaError } from '../../../gateways/core/bounces.js';
import { StanzaError } from '../../../server/errors/index.js';
import { errorReply } from '../../../server/router/stanza.js';
import { type Element, xml } from '../../../server/xml/element.js';

const NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const CONTACT = 'bob\\40pbx.example@sip.example.com';

const message = (to = 'alice@example.com') =>
  xml('message', { from: CONTACT, to, id: outcomeId(), type: 'normal' }, xml('body', null, 'hi'));

const tick = () => new Promise((r) => setImmediate(r));

describe('gateway bounces', () => {
  describe('readStanzaError (RFC 6120 §8.3.2)', () => {
    it('reads condition, type, text, by and the address of <gone/>', () => {
      const el = xml(
        'message',
        { type: 'error' },
        xml(
          'error',
          { type: 'cancel', by: 'example.com' },
          xml('gone', { xmlns: NS }, '\n  xmpp:alice@other.example\n'),
          xml('text', { xmlns: NS }, 'moved'),
        ),
      );
      const e = readStanzaError(el);
      assert.equal(e?.condition, 'gone');
      assert.equal(e?.type, 'cancel');
      assert.equal(e?.text, 'moved');
      assert.equal(e?.by, 'example.com');
      assert.equal(e?.uri, 'xmpp:alice@other.example');
    });

    it('round-trips what the server sends, and takes an unknown condition as undefined-condition', () => {
      const sent = errorReply(message(), new StanzaError('resource-constraint', 'full', { type: 'wait' }));
      const e = readStanzaError(sent);
      assert.deepEqual([e?.condition, e?.type, e?.text, e?.uri], ['resource-constraint', 'wait', 'full', undefined]);
      const odd = xml('message', { type: 'error' }, xml('error', { type: 'bogus' }, xml('whatever', { xmlns: NS })));
      assert.equal(readStanzaError(odd)?.condition, 'undefined-condition');
      assert.equal(readStanzaError(odd)?.type, 'cancel');
      assert.equal(readStanzaError(xml('message', { type: 'error' })), null);
    });

    it('keeps no address on conditions other than gone and redirect', () => {
      const el = xml('message', {}, xml('error', { type: 'cancel' }, xml('forbidden', { xmlns: NS }, 'xmpp:x@y')));
      assert.equal(readStanzaError(el)?.uri, undefined);
    });
  });

  describe('Bounces', () => {
    it('resolves null once the server took the message and nothing came back', async () => {
      const b = new Bounces();
      assert.equal(await b.send(message(), async () => {}), null);
      assert.equal(b.size, 0);
    });

    it('resolves with a bounce routed during the dispatch, even one that arrives a few promises later', async () => {
      const b = new Bounces();
      const m = message();
      const refusal = await b.send(m, async () => {
        // As the router does: the bounce passes the user's pre-* hooks (promises) before it reaches the gateway.
        void Promise.resolve()
          .then(() => Promise.resolve())
          .then(() => assert.ok(b.take(errorReply(m, StanzaError.serviceUnavailable()))));
      });
      assert.equal(refusal?.error.condition, 'service-unavailable');
      assert.equal(refusal?.fromResource, false);
    });

    it("waits `waitMs` for the recipient's client, whose error comes from a full JID", async () => {
      const b = new Bounces();
      const m = message();
      const pending = b.send(m, async () => {}, { waitMs: 1000 });
      await tick();
      await tick();
      const reply = errorReply(m, StanzaError.featureNotImplemented());
      reply.attrs.from = 'alice@example.com/phone';
      assert.ok(b.take(reply));
      const refusal = await pending;
      assert.equal(refusal?.error.condition, 'feature-not-implemented');
      assert.equal(refusal?.fromResource, true);
    });

    it('ignores errors with another id, to another contact, or from a third party', async () => {
      const b = new Bounces();
      const m = message();
      const pending = b.send(m, async () => {}, { waitMs: 50 });
      const forged = (change: (e: Element) => void) => {
        const e = errorReply(m, StanzaError.forbidden());
        change(e);
        return b.take(e);
      };
      assert.equal(
        forged((e) => {
          e.attrs.id = 'other';
        }),
        false,
      );
      assert.equal(
        forged((e) => {
          e.attrs.to = 'carol\\40pbx.example@sip.example.com';
        }),
        false,
      );
      assert.equal(
        forged((e) => {
          e.attrs.from = 'mallory@evil.example';
        }),
        false,
      );
      assert.equal(await pending, null);
      // The user's server may answer from its own domain (RFC 6120 §8.3.1 when the address was unusable).
      const m2 = message();
      const p2 = b.send(m2, async () => {
        const e = errorReply(m2, StanzaError.serviceUnavailable());
        e.attrs.from = 'example.com';
        assert.ok(b.take(e));
      });
      assert.equal((await p2)?.error.condition, 'service-unavailable');
    });

    it('counts a message as taken when the server does not settle within the deadline', async () => {
      const b = new Bounces();
      const started = Date.now();
      const r = await b.send(message(), () => new Promise<void>(() => {}), { deadlineMs: 80 });
      assert.equal(r, null);
      assert.ok(Date.now() - started >= 70);
      assert.equal(b.size, 0);
    });

    it('a late bounce, after the outcome was settled, is not taken', async () => {
      const b = new Bounces();
      const m = message();
      assert.equal(await b.send(m, async () => {}), null);
      assert.equal(b.take(errorReply(m, StanzaError.forbidden())), false);
    });
  });
});
