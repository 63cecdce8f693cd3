// Runs the conformance suite against PostgreSQL when SWITCHBOARD_PG_URL names a database that may be wiped:
//   export SWITCHBOARD_PG_URL=$(scripts/pg-test-cluster.sh)
import assert from 'node:assert/strict';
import knex, { type Knex } from 'knex';
import { createKnexStorage } from '../../storage/knex/index.js';
import { scram, storageConformance } from './conformance.js';
import { SCALE_BASE, SCALE_ITEMS, scaleCheck } from './scale.js';

const url = process.env.SWITCHBOARD_PG_URL;
const HOW = 'set SWITCHBOARD_PG_URL (e.g. export SWITCHBOARD_PG_URL=$(scripts/pg-test-cluster.sh))';

describe('storage: postgres', () => {
  if (!url) {
    it(`needs a PostgreSQL database: ${HOW}`, function () {
      // In CI a missing peer must not pass silently as a skipped suite.
      if (process.env.REQUIRE_PEERS === '1') throw new Error(`REQUIRE_PEERS=1 but SWITCHBOARD_PG_URL is unset: ${HOW}`);
      this.skip();
    });
    return;
  }

  let admin: Knex;
  before(async () => {
    admin = knex({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
    // Start from an empty schema, including the migration bookkeeping, so migrations themselves are tested.
    await admin.raw(
      'drop table if exists accounts, keyval, map, archive, switchboard_migrations, switchboard_migrations_lock',
    );
  });
  after(async () => {
    await admin?.destroy();
  });

  storageConformance('postgres', async () => {
    const s = await createKnexStorage({ driver: 'postgres', url, pool: { min: 0, max: 8 } });
    await s.migrate();
    // Ids keep rising across tests (no RESTART IDENTITY): the suite must not depend on their values.
    await admin.raw('truncate accounts, keyval, map, archive');
    return s;
  });

  it('keeps data across close and reopen', async () => {
    let s = await createKnexStorage({ driver: 'postgres', url });
    await s.migrate();
    await admin.raw('truncate accounts, keyval, map, archive');
    const creds = scram();
    await s.accounts.create('example.com', 'alice', creds);
    const id = await s.archive('mam').append('example.com', 'alice', { with: 'bob@example.com', value: { n: 1 } });
    await s.close();
    s = await createKnexStorage({ driver: 'postgres', url });
    try {
      await s.migrate();
      assert.ok((await s.accounts.get('example.com', 'alice'))?.scram.sha1?.serverKey.equals(creds.sha1!.serverKey));
      assert.deepEqual(
        (await s.archive('mam').find('example.com', 'alice')).map((i) => [i.id, i.value]),
        [[id, { n: 1 }]],
      );
    } finally {
      await s.close();
    }
  });

  it('fails fast when the server cannot be reached', async () => {
    const t0 = Date.now();
    await assert.rejects(createKnexStorage({ driver: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' }));
    assert.ok(Date.now() - t0 < 15_000);
  });

  scaleCheck(
    'postgres',
    () => createKnexStorage({ driver: 'postgres', url }),
    async () => {
      await admin.raw('truncate archive restart identity');
      await admin.raw(
        `INSERT INTO archive (store, host, username, "with", "when", text, value)
         SELECT 'mam', 'example.com', 'alice', 'peer' || (x % 20) || '@example.net', ?::bigint + x * 1000::bigint,
                'message ' || x, '{"i":' || x || '}' FROM generate_series(1, ?::int) AS x`,
        [SCALE_BASE, SCALE_ITEMS],
      );
      // Autovacuum would gather planner statistics eventually; a server would have them, so gather them now.
      await admin.raw('analyze archive');
    },
  );
});
