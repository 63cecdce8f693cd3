import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import type { StorageDriver } from '../../storage/api/index.js';
import { createKnexStorage } from '../../storage/knex/index.js';
import { buildFindQuery } from '../../storage/knex/archive.js';
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
    const id = await s.archive('mam').append('example.com', 'alice', { with: 'bob@example.com', value: 'hi', text: 'hi' });
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
      ms();
      const first = await a.find('example.com', 'alice', { limit: 50 });
      const tFirst = ms();
      const last = await a.find('example.com', 'alice', { limit: 50, reverse: true });
      const tLast = ms();
      const mid = await a.find('example.com', 'alice', { after: '500000', limit: 50 });
      const tMid = ms();
      const midBack = await a.find('example.com', 'alice', { before: '500000', limit: 50, reverse: true });
      const tMidBack = ms();
      const withMid = await a.find('example.com', 'alice', { with: 'peer7@example.net', after: '600000', limit: 50 });
      const tWith = ms();
      const window = await a.find('example.com', 'alice', {
        start: new Date(base + 700_000_000),
        end: new Date(base + 700_100_000),
        limit: 50,
      });
      const tWindow = ms();
      const startOnly = await a.find('example.com', 'alice', { start: new Date(base + 1000), limit: 50 });
      const tStart = ms();
      let after: string | undefined = '900000';
      for (let p = 0; p < 100; p++) after = (await a.find('example.com', 'alice', { after, limit: 50 })).at(-1)!.id;
      const tPages = ms() / 100;
      console.log(
        `      first ${tFirst.toFixed(1)} ms, last ${tLast.toFixed(1)} ms, middle ${tMid.toFixed(1)} ms, ` +
          `middle backward ${tMidBack.toFixed(1)} ms, with+after ${tWith.toFixed(1)} ms, ` +
          `time window ${tWindow.toFixed(1)} ms, start-only ${tStart.toFixed(1)} ms, ` +
          `100 consecutive pages ${tPages.toFixed(2)} ms/page`,
      );
      assert.equal(first[0]?.value.i, 1);
      assert.equal(last[0]?.value.i, 1_000_000);
      assert.equal(mid[0]?.value.i, 500_001);
      assert.equal(midBack[0]?.value.i, 499_999);
      assert.equal(withMid[0]?.value.i, 600_007);
      assert.equal(window.length, 50);
      assert.equal(window[0]?.value.i, 700_000);
      assert.equal(startOnly[0]?.value.i, 1);
      for (const d of [tFirst, tLast, tMid, tMidBack, tWith, tWindow, tStart, tPages]) assert.ok(d < 100, `${d} ms`);
    } finally {
      await s.close();
    }
  });
});
