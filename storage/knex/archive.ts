// Archive store: time-ordered items per user, paged by keyset on the monotonic id (never OFFSET, whose cost
// grows with the page number).
import type { Knex } from 'knex';
import type { ArchiveItem, ArchiveQuery, ArchiveStore } from '../api/index.js';
import { chunk, decodeValue, encodeValue, foldText, LIKE_ESCAPE, likeContains, parseId, toNumber } from './codec.js';

/** Ids per DELETE ... WHERE id IN (...), bounded for the same parameter-limit reason as bulk inserts. */
const DELETE_IDS_CHUNK = 500;

type Filters = Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'text'>;

interface ArchiveRow {
  id: number | string;
  with: string;
  when: number | string;
  value: string;
}

function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new RangeError(`storage: archive limit must be a non-negative integer, got ${limit}`);
  }
}

function applyFilters(qb: Knex.QueryBuilder, f: Filters): Knex.QueryBuilder {
  if (f.with !== undefined) qb.where('with', f.with);
  if (f.start !== undefined) qb.where('when', '>=', f.start.getTime());
  if (f.end !== undefined) qb.where('when', '<=', f.end.getTime());
  // The escape character is explicit because PostgreSQL defaults to backslash and SQLite to none.
  if (f.text !== undefined) qb.whereRaw('?? like ? escape ?', ['text', likeContains(f.text), LIKE_ESCAPE]);
  return qb;
}

/**
 * Builds the SELECT for `find`; null when an after/before id is not one of ours (nothing can match it).
 * Exported so tests can inspect the query plan.
 */
export function buildFindQuery(
  db: Knex,
  store: string,
  host: string,
  user: string,
  q: ArchiveQuery = {},
): Knex.QueryBuilder | null {
  checkLimit(q.limit);
  const qb = db('archive').select('id', 'with', 'when', 'value').where({ store, host, username: user });
  applyFilters(qb, q);
  if (q.after !== undefined) {
    const after = parseId(q.after);
    if (after === null) return null;
    qb.where('id', '>', after);
  }
  if (q.before !== undefined) {
    const before = parseId(q.before);
    if (before === null) return null;
    qb.where('id', '<', before);
  }
  qb.orderBy('id', q.reverse ? 'desc' : 'asc');
  if (q.limit !== undefined) qb.limit(q.limit);
  return qb;
}

function toItem<T>(row: ArchiveRow): ArchiveItem<T> {
  return {
    id: String(row.id),
    with: row.with,
    when: new Date(toNumber(row.when)),
    value: decodeValue<T>(row.value),
  };
}

export function knexArchiveStore<T>(db: Knex, store: string): ArchiveStore<T> {
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

    async find(host, user, query) {
      if (query?.limit === 0) return [];
      const qb = buildFindQuery(db, store, host, user, query);
      if (!qb) return [];
      const rows = (await qb) as ArchiveRow[];
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
