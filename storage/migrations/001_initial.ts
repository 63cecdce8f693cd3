// Initial schema: one table per generic store kind (DESIGN §5) plus accounts.
// Every text column is `text` rather than varchar(n): JID parts may each reach 1023 bytes (RFC 7622 §3),
// and a length cap would turn a valid address into a database error.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('accounts', (t) => {
    t.text('host').notNullable();
    t.text('username').notNullable();
    // JSON object keyed by hash name; byte strings are base64 so the column stays portable text.
    t.text('scram').notNullable();
    // Milliseconds since the epoch: integers compare and index identically on SQLite and PostgreSQL,
    // unlike their date types.
    t.bigInteger('created_at').notNullable();
    t.primary(['host', 'username']);
  });

  await db.schema.createTable('keyval', (t) => {
    t.text('store').notNullable();
    t.text('host').notNullable();
    t.text('username').notNullable();
    t.text('value').notNullable();
    t.primary(['store', 'host', 'username']);
    // Account deletion clears a user across all stores, which the store-first key cannot serve.
    t.index(['host', 'username'], 'keyval_owner');
  });

  await db.schema.createTable('map', (t) => {
    t.text('store').notNullable();
    t.text('host').notNullable();
    t.text('username').notNullable();
    t.text('key').notNullable();
    t.text('value').notNullable();
    t.primary(['store', 'host', 'username', 'key']);
    t.index(['host', 'username'], 'map_owner');
  });

  await db.schema.createTable('archive', (t) => {
    // On SQLite this becomes INTEGER PRIMARY KEY AUTOINCREMENT, so ids of deleted rows are never reused:
    // clients hold them as RSM/MAM ids and must not see them point at a different message later.
    t.bigIncrements('id');
    t.text('store').notNullable();
    t.text('host').notNullable();
    t.text('username').notNullable();
    t.text('with').notNullable();
    t.bigInteger('when').notNullable();
    // Lower-cased search text; null when the item has nothing searchable.
    t.text('text').nullable();
    t.text('value').notNullable();
    // Keyset paging (id > ? / id < ? ORDER BY id) for one user, with and without a `with` filter.
    t.index(['store', 'host', 'username', 'id'], 'archive_user_id');
    t.index(['store', 'host', 'username', 'with', 'id'], 'archive_user_with_id');
    // Time-window queries and per-user retention.
    t.index(['store', 'host', 'username', 'when'], 'archive_user_when');
    // Account deletion removes the user's rows in every store.
    t.index(['host', 'username'], 'archive_owner');
  });
}
