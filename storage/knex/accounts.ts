import type { Knex } from 'knex';
import type { AccountRecord, AccountStore } from '../api/index.js';
import { chunk, decodeScram, encodeScram, toNumber } from './codec.js';

/**
 * Rows per INSERT in bulk provisioning: 500 rows x 4 columns = 2,000 bound parameters, far below SQLite's
 * 32,766 (since 3.32) and PostgreSQL's 65,535, while still few enough statements to stay fast.
 */
const CREATE_MANY_CHUNK = 500;

/** Tables holding per-user data that must disappear with the account. */
const USER_TABLES = ['keyval', 'map', 'archive'] as const;

interface AccountRow {
  host: string;
  username: string;
  scram: string;
  created_at: number | string;
}

export function knexAccountStore(db: Knex): AccountStore {
  return {
    async create(host, username, scram) {
      const inserted = await db('accounts')
        .insert({ host, username, scram: encodeScram(scram), created_at: Date.now() })
        .onConflict(['host', 'username'])
        .ignore()
        .returning('username');
      return inserted.length > 0;
    },

    async createMany(host, accounts) {
      if (accounts.length === 0) return 0;
      const now = Date.now();
      const rows = accounts.map((a) => ({ host, username: a.username, scram: encodeScram(a.scram), created_at: now }));
      // One transaction: SQLite syncs once per commit, so per-row commits would make 10,000 accounts take minutes.
      return db.transaction(async (trx) => {
        let created = 0;
        for (const slice of chunk(rows, CREATE_MANY_CHUNK)) {
          // RETURNING lists only rows actually inserted, so existing accounts (and duplicates within the
          // batch) are skipped and not counted.
          const inserted = await trx('accounts')
            .insert(slice)
            .onConflict(['host', 'username'])
            .ignore()
            .returning('username');
          created += inserted.length;
        }
        return created;
      });
    },

    async get(host, username) {
      const row = (await db('accounts').where({ host, username }).first()) as AccountRow | undefined;
      if (!row) return null;
      const record: AccountRecord = {
        host: row.host,
        username: row.username,
        scram: decodeScram(row.scram),
        createdAt: new Date(toNumber(row.created_at)),
      };
      return record;
    },

    async exists(host, username) {
      const row = await db('accounts').select('username').where({ host, username }).first();
      return row !== undefined;
    },

    async setCredentials(host, username, scram) {
      const n = await db('accounts')
        .where({ host, username })
        .update({ scram: encodeScram(scram) });
      return n > 0;
    },

    async delete(host, username) {
      // One transaction so a crash never leaves a deleted account's data behind (or data without an account).
      return db.transaction(async (trx) => {
        const n = await trx('accounts').where({ host, username }).del();
        for (const table of USER_TABLES) await trx(table).where({ host, username }).del();
        return n > 0;
      });
    },

    async list(host) {
      const rows = (await db('accounts').select('username').where({ host })) as { username: string }[];
      // Sorted here rather than by ORDER BY: PostgreSQL's collation depends on the cluster locale, and callers
      // (admin listings, tests) should see the same order on every backend.
      return rows.map((r) => r.username).sort();
    },

    async count(host) {
      const row = (await db('accounts').where({ host }).count({ n: '*' }).first()) as { n: number | string };
      return toNumber(row.n);
    },
  };
}
