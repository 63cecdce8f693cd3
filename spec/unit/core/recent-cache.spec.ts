// Unit: the two-generation cache used on per-stanza lookups (server/core/recent-cache.ts).
import assert from 'node:assert/strict';
import { RecentCache } from '../../../server/core/recent-cache.js';

describe('RecentCache', () => {
  it('returns what was set, and forgets what was deleted', () => {
    const c = new RecentCache<string, number>(4);
    c.set('a', 1);
    assert.equal(c.get('a'), 1);
    c.delete('a');
    assert.equal(c.get('a'), undefined);
  });

  it('never holds more than its limit, and keeps entries used in the last generation', () => {
    const c = new RecentCache<number, number>(10);
    for (let i = 0; i < 1000; i++) {
      c.set(i, i);
      assert.equal(c.get(0) ?? 0, 0); // 0 is used all the time (may have been evicted only before first reuse)
      assert.ok(c.size <= 10);
    }
    assert.equal(c.get(0), 0);
    assert.equal(c.get(999), 999);
    assert.equal(c.get(500), undefined);
  });

  it('replaces a value in place without evicting others', () => {
    const c = new RecentCache<string, number>(4);
    c.set('a', 1);
    c.set('b', 2);
    c.set('a', 3);
    assert.equal(c.get('a'), 3);
    assert.equal(c.get('b'), 2);
    assert.equal(c.size, 2);
  });
});
