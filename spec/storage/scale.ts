// Opt-in scale check (SWITCHBOARD_STORAGE_1M=1): 1,000,000 archive items of one user, queried the ways a
// MAM client pages. Every query must answer in milliseconds, whatever the page's position.
import assert from 'node:assert/strict';
import type { ArchiveQuery, StorageDriver } from '../../storage/api/index.js';

export const SCALE_ITEMS = 1_000_000;
export const SCALE_BASE = Date.UTC(2024, 0, 1);

/**
 * `seed` must insert items x = 1..SCALE_ITEMS with id x into store 'mam' for alice@example.com, with
 * with = `peer${x % 20}@example.net`, when = SCALE_BASE + x seconds, text = `message ${x}`, value = {"i": x}.
 * It runs in SQL: a million driver round-trips would measure the seeding, not the paging.
 */
export function scaleCheck(name: string, open: () => Promise<StorageDriver>, seed: () => Promise<void>): void {
  it(`pages over 1,000,000 items of one user in milliseconds (${name})`, async function () {
    if (process.env.SWITCHBOARD_STORAGE_1M !== '1') this.skip();
    this.timeout(600_000);
    const s = await open();
    let t = process.hrtime.bigint();
    const ms = (): number => {
      const now = process.hrtime.bigint();
      const d = Number(now - t) / 1e6;
      t = now;
      return d;
    };
    try {
      await s.migrate();
      await seed();
      console.log(`      seeded ${SCALE_ITEMS} rows: ${ms().toFixed(0)} ms`);
      const a = s.archive<{ i: number }>('mam');
      const at = (i: number): Date => new Date(SCALE_BASE + i * 1000);
      const cases: [string, ArchiveQuery, number][] = [
        ['first page', { limit: 50 }, 1],
        ['last page', { limit: 50, reverse: true }, 1_000_000],
        ['after id 500000', { after: '500000', limit: 50 }, 500_001],
        ['before id 500000, reverse', { before: '500000', limit: 50, reverse: true }, 499_999],
        ['with + after', { with: 'peer7@example.net', after: '600000', limit: 50 }, 600_007],
        ['narrow time window', { start: at(700_000), end: at(700_099), limit: 50 }, 700_000],
        ['wide time window', { start: at(1), end: at(999_999), limit: 50 }, 1],
        ['start only', { start: at(1), limit: 50 }, 1],
        ['recent start', { start: at(990_000), limit: 50 }, 990_000],
        ['end only, reverse', { end: at(999_000), limit: 50, reverse: true }, 999_000],
        ['old end, reverse', { end: at(5_000), limit: 50, reverse: true }, 5_000],
        ['start + after', { start: at(1), after: '800000', limit: 50 }, 800_001],
        ['with + time window', { with: 'peer3@example.net', start: at(400_000), end: at(400_100), limit: 50 }, 400_003],
      ];
      const report: string[] = [];
      for (const [label, q, first] of cases) {
        ms();
        const page = await a.find('example.com', 'alice', q);
        const d = ms();
        report.push(`${label} ${d.toFixed(1)} ms`);
        assert.equal(page[0]?.value.i, first, label);
        assert.ok(d < 100, `${label}: ${d} ms`);
      }
      let after: string | undefined = '900000';
      ms();
      for (let p = 0; p < 100; p++) after = (await a.find('example.com', 'alice', { after, limit: 50 })).at(-1)?.id;
      const perPage = ms() / 100;
      assert.equal(
        (await a.find('example.com', 'alice', { before: after, limit: 1, reverse: true }))[0]?.value.i,
        904_999,
      );
      assert.ok(perPage < 20, `${perPage} ms/page`);
      // A substring search has no index to use: it scans the user's items, so it is reported, not bounded.
      await a.find('example.com', 'alice', { text: 'message 99999', limit: 50 });
      report.push(`100 consecutive pages ${perPage.toFixed(2)} ms/page`, `unindexed text search ${ms().toFixed(0)} ms`);
      console.log(`      ${report.join(', ')}`);
    } finally {
      await s.close();
    }
  });
}
