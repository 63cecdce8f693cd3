// Forward-only migrations, listed explicitly. A directory scan would depend on file extensions that differ
// between tsx (.ts) and the compiled build (.js), and would silently pick up stray files.
import type { Knex } from 'knex';
import * as m001 from './001_initial.js';

interface MigrationModule {
  up(db: Knex): Promise<void>;
}

/** Applied in this order; never reorder or edit an entry once released, only append. */
const MIGRATIONS: readonly { name: string; module: MigrationModule }[] = [{ name: '001_initial', module: m001 }];

export const MIGRATION_TABLE = 'switchboard_migrations';

export const migrationSource: Knex.MigrationSource<{ name: string; module: MigrationModule }> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => ({
    up: (db: Knex) => m.module.up(db),
    // knex insists on a `down`; a rollback would destroy user data, so schema changes only ever move forward.
    down: async () => {
      throw new Error(`storage: migration ${m.name} is forward-only and cannot be rolled back`);
    },
  }),
};

export async function runMigrations(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource, tableName: MIGRATION_TABLE });
}
