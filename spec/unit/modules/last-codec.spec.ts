// Unit: XEP-0012 codec (server/modules/xep-0012-last/codec.ts) and the last presence record it answers from
// (server/modules/rfc6121-presence/codec.ts).
import assert from 'node:assert/strict';
import { parseLastRecord, unavailableStatus } from '../../../server/modules/rfc6121-presence/codec.js';
import { lastResult, NS_LAST, secondsSince } from '../../../server/modules/xep-0012-last/codec.js';
import { parseXml } from '../../../server/xml/element.js';

describe('unit: last activity codec (XEP-0012)', () => {
  it('builds a query with whole seconds and optional text (§2, §3)', () => {
    assert.equal(lastResult(903.7).toString(), `<query xmlns="${NS_LAST}" seconds="903"/>`);
    assert.equal(
      lastResult(903, 'Heading Home').toString(),
      `<query xmlns="${NS_LAST}" seconds="903">Heading Home</query>`,
    );
    assert.equal(lastResult(-5).attrs.seconds, '0');
  });

  it('counts whole seconds and never goes negative', () => {
    assert.equal(secondsSince(1_000, 4_999), 3);
    assert.equal(secondsSince(10_000, 5_000), 0);
  });

  it('takes the status of an unavailable presence, preferring the one without a language', () => {
    const p = parseXml(
      "<presence type='unavailable'><status xml:lang='de'>Nach Hause</status><status>Heading Home</status></presence>",
    );
    assert.equal(unavailableStatus(p), 'Heading Home');
    assert.equal(
      unavailableStatus(parseXml("<presence type='unavailable'><status xml:lang='fr'>Maison</status></presence>")),
      'Maison',
    );
    assert.equal(unavailableStatus(parseXml("<presence type='unavailable'/>")), undefined);
    assert.equal(unavailableStatus(parseXml("<presence type='unavailable'><status/></presence>")), undefined);
  });

  it('reads stored records defensively', () => {
    assert.deepEqual(parseLastRecord({ at: 5, status: 'x' }), { at: 5, status: 'x' });
    assert.deepEqual(parseLastRecord({ at: 5, status: 7 }), { at: 5 });
    assert.equal(parseLastRecord({ at: 'soon' }), null);
    assert.equal(parseLastRecord(null), null);
    assert.equal(parseLastRecord('x'), null);
  });
});
