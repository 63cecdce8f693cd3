import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import type { ArchiveQuery, StorageDriver } from '../../storage/api/index.js';
import { buildFindQuery } from '../../storage/knex/archive-query.js';
import { createKnexStorage } from '../../storage/knex/index.js';
import { scram, storageConformance } from './conformance.js';

describe('storage: sqlite', () => {
  let dir: string;
  let n = 0;
  const freshPath = (): string => join(dir, `db${n++}`, 'switchboard.sqlite'); // parent dir created by the driver

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-sqlite-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  storageConformance('sqlite', () => createKnexStorage({ driver: 'sqlite', path: freshPath() }));

  /** A bare knex handle on the same file, for inspecting what the driver wrote. */
  function inspect(path: string): Knex {
    return knex({ client: 'sqlite3', connection: { filename: path }, useNullAsDefault: true });
  }

  it('keeps data across close and reopen, in WAL mode', async () => {
    const path = freshPath();
    let s: StorageDriver = await createKnexStorage({ driver: 'sqlite', path });
    await s.migrate();
    const creds = scram();
    await s.accounts.create('example.com', 'alice', creds);
    await s.keyval('prefs').set('example.com', 'alice', { lang: 'de' });
    await s.map('roster').set('example.com', 'alice', 'bob@example.com', { name: 'Bob' });
    const id = await s
      .archive('mam')
      .append('example.com', 'alice', { with: 'bob@example.com', value: 'hi', text: 'hi' });
    await s.close();
    await s.close(); // idempotent

    s = await createKnexStorage({ driver: 'sqlite', path });
    try {
      await s.migrate();
      const rec = await s.accounts.get('example.com', 'alice');
      assert.ok(rec?.scram.sha256?.storedKey.equals(creds.sha256!.storedKey));
      assert.deepEqual(await s.keyval('prefs').get('example.com', 'alice'), { lang: 'de' });
      assert.deepEqual(await s.map('roster').get('example.com', 'alice', 'bob@example.com'), { name: 'Bob' });
      const items = await s.archive('mam').find('example.com', 'alice', { text: 'HI' });
      assert.deepEqual(
        items.map((i) => [i.id, i.value]),
        [[id, 'hi']],
      );
      const next = await s.archive('mam').append('example.com', 'alice', { with: '', value: 'again' });
      assert.ok(BigInt(next) > BigInt(id));
    } finally {
      await s.close();
    }

    const db = inspect(path);
    try {
      const [mode] = (await db.raw('PRAGMA journal_mode')) as { journal_mode: string }[];
      assert.equal(mode?.journal_mode, 'wal');
      const stored = (await db('accounts').first()) as { scram: string };
      assert.equal(JSON.parse(stored.scram).sha256.storedKey, creds.sha256!.storedKey.toString('base64'));
    } finally {
      await db.destroy();
    }
  });

  it('archive queries are served by an index in id order (no full scan, no sort)', async () => {
    const path = freshPath();
    const s = await createKnexStorage({ driver: 'sqlite', path });
    await s.migrate();
    await s.close();
    const db = inspect(path);
    try {
      const cases = [
        {},
        { after: '100', limit: 50 },
        { before: '100', limit: 50, reverse: true },
        { with: 'bob@example.com', after: '100', limit: 50 },
        { with: 'bob@example.com', before: '100', limit: 50, reverse: true },
        { text: 'x', after: '5', limit: 10 },
      ];
      for (const q of cases) {
        const { sql, bindings } = buildFindQuery(db, 'mam', 'example.com', 'alice', q)!.toSQL();
        const plan = (await db.raw(`EXPLAIN QUERY PLAN ${sql}`, bindings as Knex.RawBinding[])) as { detail: string }[];
        const text = plan.map((p) => p.detail).join(' | ');
        assert.match(text, /USING (COVERING )?INDEX archive_user_(with_)?id/, `${JSON.stringify(q)}: ${text}`);
        assert.doesNotMatch(text, /TEMP B-TREE/, `${JSON.stringify(q)}: ${text}`);
      }
    } finally {
      await db.destroy();
    }
  });

  it('fails fast when the database cannot be opened', async () => {
    const t0 = Date.now();
    // The path names a directory, so SQLite cannot open it as a database file.
    await assert.rejects(createKnexStorage({ driver: 'sqlite', path: dir }), /SQLITE_CANTOPEN/);
    assert.ok(Date.now() - t0 < 5_000);
  });

  // Opt-in scale check (SWITCHBOARD_STORAGE_1M=1): 1,000,000 items for one user, paged by keyset.
  it('pages over 1,000,000 items of one user in milliseconds', async function () {
    if (process.env.SWITCHBOARD_STORAGE_1M !== '1') this.skip();
    this.timeout(300_000);
    const path = freshPath();
    const s = await createKnexStorage({ driver: 'sqlite', path });
    await s.migrate();
    const db = inspect(path);
    const base = Date.UTC(2024, 0, 1);
    let t = process.hrtime.bigint();
    const ms = (): number => {
      const now = process.hrtime.bigint();
      const d = Number(now - t) / 1e6;
      t = now;
      return d;
    };
    try {
      // Seeded in SQL: a million driver round-trips would measure the seeding, not the paging.
      await db.raw(
        `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)
         INSERT INTO archive (store, host, username, "with", "when", text, value)
         SELECT 'mam', 'example.com', 'alice', 'peer' || (x % 20) || '@example.net', ? + x * 1000,
                'message ' || x, '{"i":' || x || '}' FROM c`,
        [base],
      );
      console.log(`      seeded 1,000,000 rows: ${ms().toFixed(0)} ms`);
    } finally {
      await db.destroy();
    }
    const a = s.archive<{ i: number }>('mam');
    try {
      const alice = 'alice';
      const at = (i: number): Date => new Date(base + i * 1000);
      const timed: [string, ArchiveQuery, number][] = [
        ['first page', { limit: 50 }, 1],
        ['last page', { limit: 50, reverse: true }, 1_000_000],
        ['after id 500000', { after: '500000', limit: 50 }, 500_001],
        ['before id 500000, reverse', { before: '500000', limit: 50, reverse: true }, 499_999],
        ['with + after', { with: 'peer7@example.net', after: '600000', limit: 50 }, 600_007],
        ['narrow time window', { start: at(700_000), end: at(700_099), limit: 50 }, 700_000],
        ['wide time window', { start: at(1), end: at(999_999), limit: 50 }, 1],
        ['start only', { start: at(1), limit: 50 }, 1],
        ['end only, reverse', { end: at(999_000), limit: 50, reverse: true }, 999_000],
        ['start + after', { start: at(1), after: '800000', limit: 50 }, 800_001],
        ['with + time window', { with: 'peer3@example.net', start: at(400_000), end: at(400_100), limit: 50 }, 400_003],
      ];
      const report: string[] = [];
      for (const [label, q, firstValue] of timed) {
        ms();
        const page = await a.find('example.com', alice, q);
        const d = ms();
        report.push(`${label} ${d.toFixed(1)} ms`);
        assert.equal(page[0]?.value.i, firstValue, label);
        assert.ok(d < 100, `${label}: ${d} ms`);
      }
      let after: string | undefined = '900000';
      ms();
      for (let p = 0; p < 100; p++) after = (await a.find('example.com', alice, { after, limit: 50 })).at(-1)!.id;
      const perPage = ms() / 100;
      assert.equal(after, '905000');
      assert.ok(perPage < 20);
      // A substring search has no index to use: it is a scan of the user's items, reported but not bounded.
      await a.find('example.com', alice, { text: 'message 99999', limit: 50 });
      report.push(`100 consecutive pages ${perPage.toFixed(2)} ms/page`, `unindexed text search ${ms().toFixed(0)} ms`);
      console.log(`      ${report.join(', ')}`);
    } finally {
      await s.close();
    }
  });
});
