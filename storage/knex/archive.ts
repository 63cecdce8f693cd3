// Archive store: time-ordered items per user, paged by keyset on the monotonic id (never OFFSET, whose cost
// grows with the page number).
import type { Knex } from 'knex';
import type { ArchiveItem, ArchiveStore } from '../api/index.js';
import { type ArchiveRow, applyFilters, findRows } from './archive-query.js';
import { chunk, decodeValue, encodeValue, foldText, parseId, toNumber } from './codec.js';

/** Ids per DELETE ... WHERE id IN (...), bounded for the same parameter-limit reason as bulk inserts. */
const DELETE_IDS_CHUNK = 500;

function toItem<T>(row: ArchiveRow): ArchiveItem<T> {
  return {
    id: String(row.id),
    with: row.with,
    when: new Date(toNumber(row.when)),
    value: decodeValue<T>(row.value),
  };
}

export function knexArchiveStore<T>(db: Knex, sqlite: boolean, store: string): ArchiveStore<T> {
  return {
    async append(host, user, item) {
      const when = item.when ?? new Date();
      const rows = (await db('archive')
        .insert({
          store,
          host,
          username: user,
          with: item.with,
          when: when.getTime(),
          text: item.text === undefined ? null : foldText(item.text),
          value: encodeValue(item.value),
        })
        .returning('id')) as { id: number | string }[];
      const row = rows[0];
      if (!row) throw new Error('storage: archive insert returned no id');
      return String(row.id);
    },

    async find(host, user, query = {}) {
      const rows = await findRows({ db, sqlite, store, host, user }, query);
      return rows.map((r) => toItem<T>(r));
    },

    async count(host, user, query = {}) {
      const qb = db('archive').where({ store, host, username: user });
      applyFilters(qb, query);
      const row = (await qb.count({ n: '*' }).first()) as { n: number | string };
      return toNumber(row.n);
    },

    async delete(host, user, query = {}) {
      const base = (): Knex.QueryBuilder => {
        const qb = db('archive').where({ store, host, username: user });
        if (query.before !== undefined) qb.where('when', '<', query.before.getTime());
        if (query.with !== undefined) qb.where('with', query.with);
        return qb;
      };
      if (query.ids === undefined) return (await base().del()) as number;
      const ids = query.ids.map(parseId).filter((n): n is number => n !== null);
      if (ids.length === 0) return 0;
      // Several statements for a long id list; one transaction keeps the deletion all-or-nothing.
      return db.transaction(async (trx) => {
        let n = 0;
        for (const slice of chunk(ids, DELETE_IDS_CHUNK)) {
          n += (await base().transacting(trx).whereIn('id', slice).del()) as number;
        }
        return n;
      });
    },

    async expire(host, olderThan) {
      return (await db('archive').where({ store, host }).where('when', '<', olderThan.getTime()).del()) as number;
    },
  };
}
