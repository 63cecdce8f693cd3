// Unit: XEP-0313 query execution over the memory store (server/modules/xep-0313-mam/query.ts): RSM paging
// (XEP-0059) both ways, filters, id bounds, counts and errors.
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import { Jid } from '../../../server/jid/index.js';
import type { MamQuery } from '../../../server/modules/xep-0313-mam/codec.js';
import { ArchiveIds } from '../../../server/modules/xep-0313-mam/ids.js';
import { runQuery, type Scope } from '../../../server/modules/xep-0313-mam/query.js';
import { parseXml } from '../../../server/xml/element.js';
import { createMemoryStorage } from '../../../storage/memory/index.js';

const N = 1000;
const BASE = Date.UTC(2024, 0, 1);
const ids = new ArchiveIds(Buffer.alloc(16, 3));

async function conditionOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  throw new Error('no error');
}

describe('XEP-0313 query execution', () => {
  const archive = createMemoryStorage().archive<string>('mam');
  const storeIds: string[] = [];
  const scope: Scope = {
    archive,
    host: 'localhost',
    user: 'alice',
    ids,
    defaultMax: 50,
    hardMax: 250,
    withFull: (value, jid) => parseXml(value).attrs.from === jid.toString(),
  };
  const body = (i: number) => `message ${i}`;
  const run = (q: Partial<MamQuery>) => runQuery(scope, { flip: false, ...q });
  const bodies = (items: { value: string }[]) => items.map((i) => parseXml(i.value).getChildText('body'));

  before(async () => {
    // Another user's items interleave, to check that nothing leaks between archives.
    for (let i = 0; i < N; i++) {
      const peer = `peer${i % 3}@x`;
      const value = `<message from='${peer}/r${i % 2}' to='alice@localhost'><body>${body(i)}</body></message>`;
      const when = new Date(BASE + i * 1000);
      storeIds.push(await archive.append('localhost', 'alice', { with: peer, value, when, text: body(i) }));
      await archive.append('localhost', 'bob', { with: peer, value, when, text: body(i) });
    }
  });

  it('pages forwards with after: every item once, in order, complete at the end', async () => {
    const seen: (string | null)[] = [];
    let after: string | undefined;
    for (let page = 0; ; page++) {
      const r = await run({ rsm: { max: 100, ...(after ? { after } : {}) } });
      seen.push(...bodies(r.items));
      assert.equal(r.rsm.count, N);
      assert.equal(r.rsm.firstIndex, page === 0 ? 0 : page === 9 ? N - 100 : undefined);
      after = r.rsm.last;
      if (r.complete) break;
      assert.ok(page < 10);
    }
    assert.deepEqual(
      seen,
      Array.from({ length: N }, (_, i) => body(i)),
    );
  });

  it('pages backwards from the last page (empty before): every item once, pages in chronological order', async () => {
    const pages: (string | null)[][] = [];
    let before = '';
    for (;;) {
      const r = await run({ rsm: { max: 150, before } });
      pages.unshift(bodies(r.items));
      if (r.complete) {
        assert.equal(r.rsm.firstIndex, 0);
        break;
      }
      before = r.rsm.first ?? '';
    }
    assert.equal(pages.length, Math.ceil(N / 150));
    assert.deepEqual(
      pages.flat(),
      Array.from({ length: N }, (_, i) => body(i)),
    );
  });

  it('uses the default page size and caps the page at the hard maximum', async () => {
    assert.equal((await run({})).items.length, 50);
    const big = await run({ rsm: { max: 100_000 } });
    assert.equal(big.items.length, 250);
    assert.equal(big.complete, false);
  });

  it('answers a count-only request with max 0 (XEP-0059 §2.7)', async () => {
    const r = await run({ rsm: { max: 0 } });
    assert.equal(r.items.length, 0);
    assert.deepEqual(r.rsm, { count: N });
  });

  it('filters by bare JID, by full JID, by time window and by text', async () => {
    const w = await run({ with: Jid.parse('peer1@x'), rsm: { max: 250 } });
    assert.equal(w.rsm.count, 333);
    assert.ok(w.items.every((i) => i.with === 'peer1@x'));
    const full = await run({ with: Jid.parse('peer1@x/r0'), rsm: { max: 20 } });
    assert.equal(full.items.length, 20);
    // i % 3 === 1 and i % 2 === 0: i = 4, 10, 16 …
    assert.deepEqual(bodies(full.items).slice(0, 3), [body(4), body(10), body(16)]);
    assert.equal(full.rsm.count, undefined);
    const t = await run({ start: new Date(BASE + 100_000), end: new Date(BASE + 109_000), rsm: { max: 50 } });
    assert.deepEqual(
      bodies(t.items),
      Array.from({ length: 10 }, (_, i) => body(100 + i)),
    );
    assert.equal(t.complete, true);
    const text = await run({ text: 'MESSAGE 99', rsm: { max: 50 } });
    assert.equal(text.rsm.count, undefined, 'a text search is not counted');
    assert.deepEqual(bodies(text.items), [
      body(99),
      body(990),
      body(991),
      body(992),
      body(993),
      body(994),
      body(995),
      body(996),
      body(997),
      body(998),
      body(999),
    ]);
  });

  it('limits by after-id and before-id (exclusive) and retrieves single items by id', async () => {
    const id = (i: number) => ids.encode(storeIds[i] ?? '');
    const r = await run({ afterId: id(10), beforeId: id(15) });
    assert.deepEqual(bodies(r.items), [body(11), body(12), body(13), body(14)]);
    assert.equal(r.rsm.count, undefined);
    const single = await run({ ids: [id(7), id(3)] });
    assert.deepEqual(bodies(single.items), [body(3), body(7)]);
  });

  it('answers item-not-found for ids that are not in this archive, feature-not-implemented for an index', async () => {
    assert.equal(await conditionOf(run({ rsm: { after: 'nonsense' } })), 'item-not-found');
    const bobs = await archive.find('localhost', 'bob', { limit: 1 });
    const foreign = ids.encode(bobs[0]?.id ?? '');
    assert.equal(await conditionOf(run({ rsm: { before: foreign } })), 'item-not-found');
    assert.equal(await conditionOf(run({ afterId: foreign })), 'item-not-found');
    assert.equal(await conditionOf(run({ ids: [foreign] })), 'item-not-found');
    assert.equal(await conditionOf(run({ rsm: { index: 3 } })), 'feature-not-implemented');
  });
});
