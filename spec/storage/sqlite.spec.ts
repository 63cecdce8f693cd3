import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex, { type Knex } from 'knex';
import type { StorageDriver } from '../../storage/api/index.js';
import { buildFindQuery } from '../../storage/knex/archive-query.js';
import { createKnexStorage } from '../../storage/knex/index.js';
import { scram, storageConformance } from './conformance.js';
import { SCALE_BASE, SCALE_ITEMS, scaleCheck } from './scale.js';

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

  const scalePath = (): string => join(dir, 'scale', 'switchboard.sqlite');
  scaleCheck(
    'sqlite',
    () => createKnexStorage({ driver: 'sqlite', path: scalePath() }),
    async () => {
      const db = inspect(scalePath());
      try {
        await db.raw(
          `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?)
           INSERT INTO archive (store, host, username, "with", "when", text, value)
           SELECT 'mam', 'example.com', 'alice', 'peer' || (x % 20) || '@example.net', ? + x * 1000,
                  'message ' || x, '{"i":' || x || '}' FROM c`,
          [SCALE_ITEMS, SCALE_BASE],
        );
      } finally {
        await db.destroy();
      }
    },
  );
});
