// Archive store: time-ordered items per user, paged by keyset on the monotonic id (never OFFSET, whose cost
// grows with the page number).
import type { Knex } from 'knex';
import type { ArchiveItem, ArchiveQuery, ArchiveStore } from '../api/index.js';
import { chunk, decodeValue, encodeValue, foldText, LIKE_ESCAPE, likeContains, parseId, toNumber } from './codec.js';

/** Ids per DELETE ... WHERE id IN (...), bounded for the same parameter-limit reason as bulk inserts. */
const DELETE_IDS_CHUNK = 500;

/** Rows the probe in `find` examines before falling back to the planner's choice. */
const PROBE_ROWS = 1000;

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

/** Conditions that no index serves in id order: the time window and the text search. */
function applyScanFilters(qb: Knex.QueryBuilder, f: Filters): Knex.QueryBuilder {
  if (f.start !== undefined) qb.where('when', '>=', f.start.getTime());
  if (f.end !== undefined) qb.where('when', '<=', f.end.getTime());
  // The escape character is explicit because PostgreSQL defaults to backslash and SQLite to none.
  if (f.text !== undefined) qb.whereRaw('?? like ? escape ?', ['text', likeContains(f.text), LIKE_ESCAPE]);
  return qb;
}

function applyFilters(qb: Knex.QueryBuilder, f: Filters): Knex.QueryBuilder {
  if (f.with !== undefined) qb.where('with', f.with);
  return applyScanFilters(qb, f);
}

/**
 * The user's items (optionally of one `with`) between the after/before ids, in id order: a range of the
 * archive_user_id or archive_user_with_id index. Null when an id is not one of ours (nothing can match it).
 */
function idRange(db: Knex, store: string, host: string, user: string, q: ArchiveQuery): Knex.QueryBuilder | null {
  const qb = db('archive').where({ store, host, username: user });
  if (q.with !== undefined) qb.where('with', q.with);
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
  return qb.orderBy('id', q.reverse ? 'desc' : 'asc');
}

/** The plain SELECT for `find`, leaving the choice of index to the planner. Exported for query-plan tests. */
export function buildFindQuery(
  db: Knex,
  store: string,
  host: string,
  user: string,
  q: ArchiveQuery = {},
): Knex.QueryBuilder | null {
  checkLimit(q.limit);
  const qb = idRange(db, store, host, user, q);
  if (!qb) return null;
  applyScanFilters(qb.select('id', 'with', 'when', 'value'), q);
  if (q.limit !== undefined) qb.limit(q.limit);
  return qb;
}

/**
 * A bounded first attempt for queries with a time window or text search: filter only the next PROBE_ROWS
 * items in id order. Asked to order by id but filter on `when`, a planner picks the time index for a wide
 * window and then sorts every row in it (hundreds of ms over 1,000,000 items), although in a message archive
 * ids and times rise together, so the wanted page is usually among the next few items in id order. The probe
 * settles the query when it fills the page or sees the end of the range; otherwise it proves nothing and
 * the caller runs the plain query, whose time index then suits the (narrow or distant) window.
 */
function buildProbeQuery(
  db: Knex,
  store: string,
  host: string,
  user: string,
  q: ArchiveQuery & { limit: number },
): Knex.QueryBuilder | null {
  const inner = idRange(db, store, host, user, q);
  if (!inner) return null;
  inner.select('id', 'with', 'when', 'text', 'value').limit(PROBE_ROWS);
  const outer = db.select('id', 'with', 'when', 'value').from(inner.as('recent'));
  return applyScanFilters(outer, q)
    .orderBy('id', q.reverse ? 'desc' : 'asc')
    .limit(q.limit);
}

/** Whether the probe saw the whole id range, i.e. it held fewer than PROBE_ROWS items (an index-only count). */
async function probeExhausted(db: Knex, store: string, host: string, user: string, q: ArchiveQuery): Promise<boolean> {
  const range = idRange(db, store, host, user, q);
  if (!range) return true;
  const row = (await db.count({ n: '*' }).from(range.select('id').limit(PROBE_ROWS).as('recent')).first()) as {
    n: number | string;
  };
  return toNumber(row.n) < PROBE_ROWS;
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

    async find(host, user, query = {}) {
      checkLimit(query.limit);
      const { limit } = query;
      if (limit === 0) return [];
      const scanFiltered = query.start !== undefined || query.end !== undefined || query.text !== undefined;
      if (scanFiltered && limit !== undefined && limit <= PROBE_ROWS / 2) {
        const probe = buildProbeQuery(db, store, host, user, { ...query, limit });
        if (!probe) return [];
        const rows = (await probe) as ArchiveRow[];
        if (rows.length === limit || (await probeExhausted(db, store, host, user, query))) {
          return rows.map((r) => toItem<T>(r));
        }
      }
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
