// Unit tests of one PIDF tuple per XMPP resource (RFC 8048 §4, RFC 3863 §4.1): the pure tuple builder
// (gateways/sip/pidf.ts resourceTuples, <contact> with the resource's GRUU per RFC 7247 §6) and the SIP session's
// view of the user's resources as the framework reports them (setResourcePresence before setPresence, driver.ts).
import assert from 'node:assert/strict';
import pino from 'pino';
import type { LegacyPresence, UpstreamSink } from '../../../gateways/core/driver.js';
import { buildPidf, NS_PIDF, parsePidf, resourceTuples } from '../../../gateways/sip/pidf.js';
import type { Registration } from '../../../gateways/sip/register.js';
import type { SipRuntime } from '../../../gateways/sip/runtime.js';
import { SipSession } from '../../../gateways/sip/session.js';
import { parseXml } from '../../../server/xml/element.js';

const on = (status: string, show?: LegacyPresence['show']): LegacyPresence => ({
  available: true,
  status,
  ...(show ? { show } : {}),
});

describe('SIP presence: one PIDF tuple per XMPP resource (RFC 8048 §4)', () => {
  describe('resourceTuples() and buildPidf()', () => {
    it('makes one tuple per available resource, most available first, with the GRUU as contact', () => {
      const tuples = resourceTuples(
        [
          ['desk', on('busy', 'dnd')],
          ['gone', { available: false }],
          ['phone', on('walking', 'away')],
          ['laptop', on('here')],
        ],
        (r) => `sip:alice@example.com;gr=${r}`,
      );
      assert.deepEqual(
        tuples.map((t) => [t.resource, t.contact]),
        [
          ['laptop', 'sip:alice@example.com;gr=laptop'],
          ['phone', 'sip:alice@example.com;gr=phone'],
          ['desk', 'sip:alice@example.com;gr=desk'],
        ],
      );
      assert.deepEqual(
        resourceTuples([['a', on('x')]], () => null),
        [{ resource: 'a', presence: on('x') }],
        'no contact when there is no GRUU',
      );
    });

    it('writes each tuple with its own basic, show, contact (after the extensions, RFC 3863 §4.1) and note', () => {
      const text = buildPidf(
        'sip:alice@example.com',
        resourceTuples(
          [
            ['laptop', on('at my desk')],
            ['phone', on('on the train', 'xa')],
          ],
          (r) => `sip:alice@example.com;gr=${r}`,
        ),
      ).toString();
      const root = parseXml(text.replace(/^<\?xml[^>]*>\s*/, ''));
      const tuples = root.getChildren('tuple', NS_PIDF);
      assert.equal(tuples.length, 2);
      const view = tuples.map((t) => ({
        order: t.getChildElements().map((c) => c.getName()),
        basic: t.getChild('status')?.getChildText('basic'),
        show: t.getChild('show', 'jabber:client')?.getText() ?? null,
        contact: t.getChildText('contact'),
        note: t.getChildText('note'),
      }));
      assert.deepEqual(view, [
        {
          order: ['status', 'contact', 'note', 'timestamp'],
          basic: 'open',
          show: null,
          contact: 'sip:alice@example.com;gr=laptop',
          note: 'at my desk',
        },
        {
          order: ['status', 'show', 'contact', 'note', 'timestamp'],
          basic: 'open',
          show: 'xa',
          contact: 'sip:alice@example.com;gr=phone',
          note: 'on the train',
        },
      ]);
      assert.notEqual(tuples[0]?.attrs.id, tuples[1]?.attrs.id);
      // The person's activity comes from the most available resource: plain available → none.
      assert.doesNotMatch(text, /activities/);
      assert.deepEqual(
        parsePidf(Buffer.from(text))?.tuples.map((t) => t.open),
        [true, true],
      );
    });
  });

  describe('SipSession.tuples()', () => {
    const updates: string[] = [];
    const rt = { notifier: { update: (u: string) => updates.push(u) }, detach: () => {} } as unknown as SipRuntime;
    const sink = {} as UpstreamSink;
    const session = (registration?: Registration) =>
      new SipSession(
        rt,
        {
          user: 'alice@example.com',
          identity: registration ? 'sip:alice@pbx.example' : 'sip:alice@example.com',
          contact: 'sip:alice@127.0.0.1:5060',
          send: {},
          ...(registration ? { registration } : {}),
          watched: new Set(),
          approved: new Set(),
          log: pino({ level: 'silent' }),
        },
        sink,
      );

    it('follows the resources the framework reports; notifies once per change, in setPresence()', async () => {
      const s = session();
      updates.splice(0);
      await s.setResourcePresence('laptop', on('at my desk'));
      assert.deepEqual(updates, [], 'recording a resource sends nothing yet');
      await s.setResourcePresence('phone', on('on the train', 'away'));
      await s.setPresence(on('on the train', 'away'));
      assert.deepEqual(updates, ['alice@example.com']);
      assert.deepEqual(
        s.tuples().map((t) => [t.resource, t.presence.status, t.contact]),
        [
          ['laptop', 'at my desk', 'sip:alice@example.com;gr=laptop'],
          ['phone', 'on the train', 'sip:alice@example.com;gr=phone'],
        ],
      );
      // One resource leaves while the other stays: only the remaining tuple.
      await s.setResourcePresence('phone', null);
      await s.setPresence(on('at my desk'));
      assert.deepEqual(
        s.tuples().map((t) => t.resource),
        ['laptop'],
      );
      // The last one goes (logout): no tuple, so the document is one closed tuple.
      await s.logout();
      assert.deepEqual(s.tuples(), []);
      assert.match(buildPidf('sip:alice@example.com', s.tuples()).toString(), /<basic>closed<\/basic>/);
    });

    it('uses the aggregate alone when no resource was reported, and no GRUU in mode `register` (RFC 5627 §3)', async () => {
      const plain = session();
      await plain.setPresence(on('somewhere'));
      assert.deepEqual(plain.tuples(), [{ presence: on('somewhere') }]);
      const registered = session({ unregister: async () => {} } as unknown as Registration);
      await registered.setResourcePresence('laptop', on('x'));
      await registered.setPresence(on('x'));
      assert.deepEqual(registered.tuples(), [{ resource: 'laptop', presence: on('x') }]);
    });
  });
});
