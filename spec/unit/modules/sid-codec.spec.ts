// Unit: XEP-0359 stanza-id codec (server/modules/xep-0359-sid/codec.ts).
import assert from 'node:assert/strict';
import { Jid } from '../../../server/jid/index.js';
import {
  NS_SID,
  stanzaIdBy,
  stanzaIds,
  withoutStanzaIds,
  withStanzaId,
} from '../../../server/modules/xep-0359-sid/codec.js';
import { parseXml } from '../../../server/xml/element.js';

const juliet = Jid.parse('juliet@capulet.lit');

describe('XEP-0359 stanza-id codec', () => {
  const forged = parseXml(
    `<message to='juliet@capulet.lit'><body>x</body><stanza-id xmlns='${NS_SID}' id='fake' by='Juliet@Capulet.lit'/>` +
      `<stanza-id xmlns='${NS_SID}' id='room1' by='room@muc.lit'/><origin-id xmlns='${NS_SID}' id='o1'/></message>`,
  );

  it('lists the stanza-ids of the direct child level (§3)', () => {
    assert.deepEqual(stanzaIds(forged), [
      { id: 'fake', by: 'Juliet@Capulet.lit' },
      { id: 'room1', by: 'room@muc.lit' },
    ]);
  });

  it('replaces the one claiming our address with our own and keeps the others (§5 rules 3, 4)', () => {
    const out = withStanzaId(forged, 'real', juliet);
    assert.deepEqual(stanzaIds(out), [
      { id: 'room1', by: 'room@muc.lit' },
      { id: 'real', by: 'juliet@capulet.lit' },
    ]);
    assert.ok(out.getChild('origin-id', NS_SID), 'origin-id is preserved');
    assert.equal(stanzaIdBy(out, juliet), 'real');
    assert.equal(stanzaIds(forged).length, 2, 'the original is not changed');
  });

  it('removes by predicate and returns the same element when nothing matches', () => {
    const out = withoutStanzaIds(forged, (by) => by?.equals(juliet) === true);
    assert.deepEqual(stanzaIds(out), [{ id: 'room1', by: 'room@muc.lit' }]);
    const none = withoutStanzaIds(forged, () => false);
    assert.equal(none, forged);
    const noBy = parseXml(`<message><stanza-id xmlns='${NS_SID}' id='x'/></message>`);
    assert.equal(stanzaIds(withoutStanzaIds(noBy, (by) => by === null)).length, 0);
  });
});
