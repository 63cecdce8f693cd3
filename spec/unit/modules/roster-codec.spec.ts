// RFC 6121 §2 roster codec: roster set validation (§2.3.3), items as clients see them, the stored document.
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import {
  decodeDoc,
  itemElement,
  parseRosterSet,
  rosterPush,
  rosterQuery,
  sameVisible,
  snapshotOf,
  withSnapshot,
} from '../../../server/modules/rfc6121-roster/codec.js';
import { parseXml } from '../../../server/xml/element.js';

const query = (inner: string) => parseXml(`<query xmlns='jabber:iq:roster'>${inner}</query>`);
const condition = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return 'none';
};

describe('unit: roster codec (RFC 6121 §2)', () => {
  it('parses a set: prepared bare JID, name, groups; subscription other than remove is ignored', () => {
    assert.deepEqual(
      parseRosterSet(query("<item jid='Juliet@Example.COM' name='J' subscription='both'><group>A</group></item>")),
      {
        jid: 'juliet@example.com',
        remove: false,
        name: 'J',
        groups: ['A'],
      },
    );
    assert.deepEqual(parseRosterSet(query("<item jid='a@b' subscription='remove'><group>x</group></item>")), {
      jid: 'a@b',
      remove: true,
    });
  });

  it('applies the §2.3.3 error cases', () => {
    assert.equal(
      condition(() => parseRosterSet(query(''))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRosterSet(query("<item jid='a@b'/><item jid='c@d'/>"))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRosterSet(query("<foo jid='a@b'/>"))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRosterSet(query("<item jid='a@b'><group>g</group><group>g</group></item>"))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRosterSet(query("<item jid='a@b'><group> </group></item>"))),
      'not-acceptable',
    );
    assert.equal(
      condition(() => parseRosterSet(query("<item jid='a@b/r'/>"))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRosterSet(query("<item jid='@b'/>"))),
      'jid-malformed',
    );
  });

  it('measures name and group lengths in characters, not bytes', () => {
    const emoji = '😀'.repeat(1023);
    assert.equal(
      condition(() => parseRosterSet(query(`<item jid='a@b' name='${emoji}'><group>${emoji}</group></item>`))),
      'none',
    );
    assert.equal(
      condition(() => parseRosterSet(query(`<item jid='a@b' name='${emoji}😀'/>`))),
      'not-acceptable',
    );
  });

  it('shows items without pending in, approved only when set (§2.1.2)', () => {
    assert.equal(
      itemElement('a@b', { subscription: 'none', ask: 'subscribe', approved: true, groups: ['G'] }).toString(),
      '<item jid="a@b" subscription="none" ask="subscribe" approved="true"><group>G</group></item>',
    );
    assert.equal(itemElement('a@b', null).toString(), '<item jid="a@b" subscription="remove"/>');
    const doc = { ver: 7, items: { 'a@b': { subscription: 'both' as const, groups: [] } }, pending: { 'c@d': {} } };
    assert.equal(
      rosterQuery(doc, true).toString(),
      '<query xmlns="jabber:iq:roster" ver="7"><item jid="a@b" subscription="both"/></query>',
    );
    assert.equal(rosterQuery(doc, false).attrs.ver, undefined);
    const push = rosterPush('u@h/r', 'p1', 'a@b', null, 8);
    assert.equal(push.attrs.from, undefined, 'a push has no from (§2.1.6)');
    assert.equal(push.getChild('query')?.attrs.ver, '8');
  });

  it('decodes stored documents defensively', () => {
    assert.deepEqual(decodeDoc(null), { ver: 0, items: {}, pending: {} });
    assert.deepEqual(
      decodeDoc({
        ver: -1,
        items: { x: 5, 'a@b': { subscription: 'weird', groups: ['g', 3], ask: 'no' } },
        pending: { 'c@d': { stanza: 9 } },
      }),
      {
        ver: 0,
        items: { 'a@b': { subscription: 'none', groups: ['g'] } },
        pending: { 'c@d': {} },
      },
    );
  });

  it('maps Appendix A states onto items: no item is created for a plain None', () => {
    assert.deepEqual(snapshotOf(undefined, true), {
      subscription: 'none',
      pendingOut: false,
      pendingIn: true,
      approved: false,
    });
    assert.equal(
      withSnapshot(undefined, { subscription: 'none', pendingOut: false, pendingIn: true, approved: false }),
      null,
    );
    assert.deepEqual(
      withSnapshot(undefined, { subscription: 'none', pendingOut: true, pendingIn: false, approved: false }),
      {
        subscription: 'none',
        groups: [],
        ask: 'subscribe',
      },
    );
    const item = { name: 'N', subscription: 'to' as const, groups: ['G'] };
    assert.deepEqual(
      withSnapshot(item, { subscription: 'both', pendingOut: false, pendingIn: false, approved: false }),
      {
        name: 'N',
        subscription: 'both',
        groups: ['G'],
      },
    );
    assert.equal(sameVisible(item, { ...item, groups: ['G'] }), true);
    assert.equal(sameVisible(item, { ...item, approved: true }), false);
    assert.equal(sameVisible(null, undefined), true);
  });
});
