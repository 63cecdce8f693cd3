// Unit: XEP-0059 Result Set Management codec (server/modules/xep-0059-rsm/codec.ts).
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import {
  NS_RSM,
  parseRsmRequest,
  parseRsmResponse,
  rsmRequestElement,
  rsmResponseElement,
} from '../../../server/modules/xep-0059-rsm/codec.js';
import { parseXml } from '../../../server/xml/element.js';

const query = (set: string) => parseXml(`<query xmlns='urn:q'>${set}</query>`);
const set = (inner: string) => `<set xmlns='${NS_RSM}'>${inner}</set>`;
const condition = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  throw new Error('no error thrown');
};

describe('XEP-0059 RSM codec', () => {
  it('is undefined without a <set/>', () => {
    assert.equal(parseRsmRequest(query('')), undefined);
    assert.equal(parseRsmRequest(query("<set xmlns='urn:other'><max>1</max></set>")), undefined);
  });

  it('reads max, after, before, an empty before (§2.5: last page) and index', () => {
    assert.deepEqual(parseRsmRequest(query(set('<max>10</max><after>a1</after>'))), { max: 10, after: 'a1' });
    assert.deepEqual(parseRsmRequest(query(set('<max>0</max><before>b2</before>'))), { max: 0, before: 'b2' });
    assert.deepEqual(parseRsmRequest(query(set('<before/>'))), { before: '' });
    assert.deepEqual(parseRsmRequest(query(set('<max>5</max><index>371</index>'))), { max: 5, index: 371 });
  });

  it('refuses a negative or non-numeric max, an empty after and after with before', () => {
    assert.equal(
      condition(() => parseRsmRequest(query(set('<max>-1</max>')))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRsmRequest(query(set('<max>ten</max>')))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRsmRequest(query(set('<after/>')))),
      'bad-request',
    );
    assert.equal(
      condition(() => parseRsmRequest(query(set('<after>x</after><before>y</before>')))),
      'bad-request',
    );
  });

  it('writes first (with index), last and count, and only count for an empty page (§2.2)', () => {
    const full = rsmResponseElement({ first: 'f', last: 'l', firstIndex: 0, count: 20 });
    assert.equal(
      full.toString(),
      `<set xmlns="${NS_RSM}"><first index="0">f</first><last>l</last><count>20</count></set>`,
    );
    assert.equal(rsmResponseElement({ count: 7 }).toString(), `<set xmlns="${NS_RSM}"><count>7</count></set>`);
    assert.deepEqual(parseRsmResponse(parseXml(`<fin>${full.toString()}</fin>`)), {
      first: 'f',
      last: 'l',
      firstIndex: 0,
      count: 20,
    });
  });

  it('round-trips a request element', () => {
    const el = rsmRequestElement({ max: 3, before: '' });
    assert.deepEqual(parseRsmRequest(query(el.toString())), { max: 3, before: '' });
  });
});
