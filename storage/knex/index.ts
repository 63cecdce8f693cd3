// SQL storage driver over knex: SQLite (default, single file, WAL) or PostgreSQL.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';
import type { ArchiveStore, KeyValueStore, MapStore, StorageDriver } from '../api/index.js';
import { runMigrations } from '../migrations/index.js';
import { knexAccountStore } from './accounts.js';
import { knexArchiveStore } from './archive.js';
import { knexKeyValueStore, knexMapStore } from './stores.js';

export type KnexStorageOptions =
  | { driver: 'sqlite'; path: string }
  | { driver: 'postgres'; url: string; pool?: { min: number; max: number } };

export interface StorageLog {
  warn(o: object, m: string): void;
}

/** How long a query may wait for a pooled connection before failing instead of hanging the caller. */
const ACQUIRE_TIMEOUT_MS = 10_000;
/** SQLite: how long a statement waits on another process's write lock before SQLITE_BUSY. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
/** PostgreSQL: server-side cap on one statement, and the client-side cap should the server not answer. */
const PG_STATEMENT_TIMEOUT_MS = 30_000;
const PG_QUERY_TIMEOUT_MS = 35_000;
const PG_CONNECT_TIMEOUT_MS = 10_000;

interface SqliteConnection {
  exec(sql: string, cb: (err: Error | null) => void): void;
}

// synchronous=NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last
// commits) and avoids an fsync per transaction. foreign_keys is off by default in SQLite.
const SQLITE_PRAGMAS = [
  'PRAGMA journal_mode = WAL',
  'PRAGMA synchronous = NORMAL',
  'PRAGMA foreign_keys = ON',
  `PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`,
].join('; ');

function sqliteConfig(path: string): Knex.Config {
  return {
    client: 'sqlite3',
    connection: { filename: path },
    // SQLite has no DEFAULT keyword for multi-row inserts; knex warns unless told to use NULL.
    useNullAsDefault: true,
    // One connection: SQLite admits a single writer, and a read transaction upgrading to a write on a second
    // connection fails with SQLITE_BUSY without waiting. Serialising in the pool is cheaper than retrying.
    pool: {
      min: 1,
      max: 1,
      // Pragmas are per connection, so they are applied whenever the pool (re)opens one.
      afterCreate: (conn: SqliteConnection, done: (err: Error | null, conn: SqliteConnection) => void) => {
        conn.exec(SQLITE_PRAGMAS, (err) => done(err, conn));
      },
    },
    acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
  };
}

function postgresConfig(url: string, pool: { min: number; max: number } | undefined): Knex.Config {
  return {
    client: 'pg',
    // Passed to pg.Client: every statement is bounded on the server and on the client.
    connection: {
      connectionString: url,
      statement_timeout: PG_STATEMENT_TIMEOUT_MS,
      query_timeout: PG_QUERY_TIMEOUT_MS,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    },
    pool: { min: pool?.min ?? 0, max: pool?.max ?? 10 },
    acquireConnectionTimeout: ACQUIRE_TIMEOUT_MS,
  };
}

/** Routes knex's own diagnostics (which otherwise go to the console) to the server log. */
function knexLogger(log: StorageLog | undefined): Knex.Logger {
  const warn = (message: unknown): void => log?.warn({ component: 'storage', detail: String(message) }, 'knex warning');
  return {
    warn,
    error: warn,
    deprecate: (method, alternative) =>
      log?.warn({ component: 'storage', method, alternative }, 'knex deprecation warning'),
    debug: () => {},
  };
}

function cache<S>(make: (store: string) => S): (store: string) => S {
  const made = new Map<string, S>();
  return (store) => {
    let s = made.get(store);
    if (s === undefined) {
      s = make(store);
      made.set(store, s);
    }
    return s;
  };
}

export async function createKnexStorage(opts: KnexStorageOptions, log?: StorageLog): Promise<StorageDriver> {
  let config: Knex.Config;
  if (opts.driver === 'sqlite') {
    if (opts.path !== ':memory:') await mkdir(dirname(opts.path), { recursive: true });
    config = sqliteConfig(opts.path);
  } else {
    config = postgresConfig(opts.url, opts.pool);
  }
  const db = knex({ ...config, log: knexLogger(log) });

  // Fail at startup, not on the first stanza, if the database cannot be opened or reached.
  try {
    await db.raw('select 1');
  } catch (err) {
    await db.destroy();
    throw err;
  }

  const accounts = knexAccountStore(db);
  // Store objects are stateless wrappers; caching just saves allocations for modules that look them up often.
  const keyvals = cache((store) => knexKeyValueStore<unknown>(db, store));
  const maps = cache((store) => knexMapStore<unknown>(db, store));
  const archives = cache((store) => knexArchiveStore<unknown>(db, opts.driver === 'sqlite', store));
  let closed = false;

  return {
    accounts,
    keyval: <T>(store: string) => keyvals(store) as KeyValueStore<T>,
    map: <T>(store: string) => maps(store) as MapStore<T>,
    archive: <T>(store: string) => archives(store) as ArchiveStore<T>,
    async migrate() {
      await runMigrations(db);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (opts.driver === 'sqlite') {
        // Lets SQLite refresh planner statistics for tables that changed a lot; cheap when nothing did.
        try {
          await db.raw('PRAGMA optimize');
        } catch (err) {
          log?.warn({ component: 'storage', err }, 'PRAGMA optimize failed on close');
        }
      }
      await db.destroy();
    },
  };
}
