// Archive SELECTs. Results are in id order, but a time window or text search is a condition no id-ordered
// index can seek to, so `findRows` chooses between two strategies as it goes (see there).
import type { Knex } from 'knex';
import type { ArchiveQuery } from '../api/index.js';
import { LIKE_ESCAPE, likeContains, parseId, toNumber } from './codec.js';

export interface ArchiveRow {
  id: number | string;
  with: string;
  when: number | string;
  value: string;
}

export interface ArchiveScope {
  db: Knex;
  /** SQLite needs an index hint where its planner, lacking statistics, would pick the wrong index. */
  sqlite: boolean;
  store: string;
  host: string;
  user: string;
}

type Filters = Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'text'>;

/** Exclusive id bounds, already parsed. */
interface Bounds {
  after?: number;
  before?: number;
}

/** Items examined by the first id-order probe; each further probe examines four times as many. */
const FIRST_PROBE = 1000;

export function checkLimit(limit: number | undefined): void {
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

export function applyFilters(qb: Knex.QueryBuilder, f: Filters): Knex.QueryBuilder {
  if (f.with !== undefined) qb.where('with', f.with);
  return applyScanFilters(qb, f);
}

/** Null when an id is not one of ours: ids are opaque to clients, and a foreign one can match nothing. */
function parseBounds(q: ArchiveQuery): Bounds | null {
  const b: Bounds = {};
  if (q.after !== undefined) {
    const after = parseId(q.after);
    if (after === null) return null;
    b.after = after;
  }
  if (q.before !== undefined) {
    const before = parseId(q.before);
    if (before === null) return null;
    b.before = before;
  }
  return b;
}

/** The user's items (of one `with`, if given) strictly between the bounds: one range of an id-ordered index. */
function userRange(
  s: ArchiveScope,
  q: ArchiveQuery,
  b: Bounds,
  from: string | Knex.Raw = 'archive',
): Knex.QueryBuilder {
  const qb = s.db.from(from).where({ store: s.store, host: s.host, username: s.user });
  if (q.with !== undefined) qb.where('with', q.with);
  if (b.after !== undefined) qb.where('id', '>', b.after);
  if (b.before !== undefined) qb.where('id', '<', b.before);
  return qb;
}

function plainQuery(s: ArchiveScope, q: ArchiveQuery, b: Bounds, limit: number | undefined): Knex.QueryBuilder {
  const qb = applyScanFilters(userRange(s, q, b).select('id', 'with', 'when', 'value'), q);
  qb.orderBy('id', q.reverse ? 'desc' : 'asc');
  if (limit !== undefined) qb.limit(limit);
  return qb;
}

/**
 * The same SELECT, made to read the (small) time window through archive_user_when and sort it. Ordering by
 * `id + 0` stops PostgreSQL from walking the id index in order and filtering, which its planner favours under
 * a LIMIT because it assumes matches are spread evenly; SQLite, often without statistics, is told the index.
 */
function windowQuery(s: ArchiveScope, q: ArchiveQuery, b: Bounds, limit: number): Knex.QueryBuilder {
  const from = s.sqlite ? s.db.raw('?? indexed by ??', ['archive', 'archive_user_when']) : 'archive';
  const qb = applyScanFilters(userRange(s, q, b, from).select('id', 'with', 'when', 'value'), q);
  return qb.orderByRaw(`?? + 0 ${q.reverse ? 'desc' : 'asc'}`, ['id']).limit(limit);
}

/** The plain SELECT, leaving the choice of index to the planner. Exported for query-plan tests. */
export function buildFindQuery(db: Knex, store: string, host: string, user: string, q: ArchiveQuery = {}) {
  checkLimit(q.limit);
  const b = parseBounds(q);
  return b && plainQuery({ db, sqlite: false, store, host, user }, q, b, q.limit);
}

/**
 * Whether fewer than `cap` of the user's items fall in the time window, ignoring the id bounds and `with`:
 * reading the window through archive_user_when costs its whole size even when those conditions discard most
 * of it, and leaving them out keeps this count an index-only read of at most `cap` entries.
 */
async function windowSmallerThan(s: ArchiveScope, q: ArchiveQuery, cap: number): Promise<boolean> {
  const from = s.sqlite ? s.db.raw('?? indexed by ??', ['archive', 'archive_user_when']) : 'archive';
  const window = { start: q.start, end: q.end };
  // Selecting a constant lets PostgreSQL answer from the index alone too.
  const inner = applyScanFilters(userRange(s, {}, {}, from).select(s.db.raw('1 as ??', ['x'])), window).limit(cap);
  const row = (await s.db.count({ n: '*' }).from(inner.as('w')).first()) as { n: number | string };
  return toNumber(row.n) < cap;
}

/** Filters the next `cap` items in id order; reports the matches, how many items it saw and the last id seen. */
async function probe(s: ArchiveScope, q: ArchiveQuery, b: Bounds, cap: number, limit: number) {
  const slice = (): Knex.QueryBuilder =>
    userRange(s, q, b)
      .orderBy('id', q.reverse ? 'desc' : 'asc')
      .limit(cap);
  const outer = s.db
    .select('id', 'with', 'when', 'value')
    .from(slice().select('id', 'with', 'when', 'text', 'value').as('p'));
  const rows = (await applyScanFilters(outer, q)
    .orderBy('id', q.reverse ? 'desc' : 'asc')
    .limit(limit)) as ArchiveRow[];
  if (rows.length === limit) return { rows, seen: cap, edge: null };
  const edge = q.reverse ? s.db.raw('min(??) as ??', ['id', 'edge']) : s.db.raw('max(??) as ??', ['id', 'edge']);
  const summary = (await s.db
    .select(s.db.raw('count(*) as ??', ['n']), edge)
    .from(slice().select('id').as('p'))
    .first()) as { n: number | string; edge: number | string | null };
  return { rows, seen: toNumber(summary.n), edge: summary.edge === null ? null : toNumber(summary.edge) };
}

/**
 * Rows for `find`. Without a time window or text search this is a single range of an id-ordered index.
 * With one, two strategies compete, and each round gives both a budget four times the last:
 *  - scan onward in id order and filter (cost: the distance from the paging position to the matches), or
 *  - once the window is known to hold fewer items than the budget, read it through the time index and sort
 *    it (cost: the window's size).
 * The cost is thus a small multiple of the cheaper strategy, which the planner alone cannot achieve: for
 * `when <= T ORDER BY id DESC LIMIT 50` it would sort every item up to T, although in an archive ids and
 * times rise together and the answer is usually within the first items scanned. Rows found by the scan
 * are kept, and later rounds continue after the last id scanned, so the result is exact whatever the data.
 */
export async function findRows(s: ArchiveScope, q: ArchiveQuery): Promise<ArchiveRow[]> {
  checkLimit(q.limit);
  const { limit } = q;
  if (limit === 0) return [];
  const b = parseBounds(q);
  if (!b) return [];
  const filtered = q.start !== undefined || q.end !== undefined || q.text !== undefined;
  if (!filtered || limit === undefined) return (await plainQuery(s, q, b, limit)) as ArchiveRow[];

  // A text search without a time window has only the scan.
  const windowed = q.start !== undefined || q.end !== undefined;
  const rows: ArchiveRow[] = [];
  for (let cap = FIRST_PROBE; ; cap *= 4) {
    if (windowed && (await windowSmallerThan(s, q, cap))) {
      rows.push(...((await windowQuery(s, q, b, limit - rows.length)) as ArchiveRow[]));
      return rows;
    }
    const found = await probe(s, q, b, cap, limit - rows.length);
    rows.push(...found.rows);
    if (rows.length === limit || found.seen < cap || found.edge === null) return rows;
    if (q.reverse) b.before = found.edge;
    else b.after = found.edge;
  }
}
