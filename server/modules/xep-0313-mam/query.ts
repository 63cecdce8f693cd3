// Runs one archive query (XEP-0313 §4) against the store: filters, id bounds and RSM paging (XEP-0059) become a
// keyset range of the store's index, never an OFFSET, so every page costs the same wherever it is.
import type { ArchiveItem, ArchiveQuery, ArchiveStore } from '../../../storage/api/index.js';
import { StanzaError } from '../../errors/index.js';
import type { Jid } from '../../jid/index.js';
import type { RsmResponse } from '../xep-0059-rsm/codec.js';
import type { MamQuery } from './codec.js';
import type { ArchiveIds } from './ids.js';

export interface Scope {
  archive: ArchiveStore<string>;
  host: string;
  user: string;
  ids: ArchiveIds;
  /** Page size when the client names none, and the largest page served whatever it asks (§4.3.1). */
  defaultMax: number;
  hardMax: number;
  /** Whether a stored message was exchanged with exactly this full JID (§4.1.1 'with' of a full JID). */
  withFull(value: string, jid: Jid): boolean;
}

export interface QueryOutcome {
  /** The page, in chronological order (the caller flips it for §4.3.4). */
  items: ArchiveItem<string>[];
  complete: boolean;
  rsm: RsmResponse;
}

type Filters = Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'text'>;

/** The item with this store id in the user's archive, if any: a one-row range of the id index. */
async function itemById(s: Scope, storeId: string): Promise<ArchiveItem<string> | undefined> {
  const n = BigInt(storeId);
  if (n < 1n) return undefined;
  const q: ArchiveQuery = { before: (n + 1n).toString(), limit: 1, reverse: true };
  if (n > 1n) q.after = (n - 1n).toString();
  const [item] = await s.archive.find(s.host, s.user, q);
  return item;
}

/** §4.1.3 / §4.3.2: an id the client names must be one of this archive's items, else item-not-found. */
async function resolve(s: Scope, id: string): Promise<bigint> {
  const storeId = s.ids.decode(id);
  if (storeId === null || !(await itemById(s, storeId))) throw StanzaError.itemNotFound(`no archived item ${id}`);
  return BigInt(storeId);
}

const maxOf = (a: bigint | undefined, b: bigint): bigint => (a === undefined || b > a ? b : a);
const minOf = (a: bigint | undefined, b: bigint): bigint => (a === undefined || b < a ? b : a);

/**
 * Reads up to `want` matching items from the bounds onward (backward: newest first), in batches when a
 * predicate discards some, continuing after the last id read so that nothing is skipped or read twice.
 */
async function collect(
  s: Scope,
  filters: Filters,
  bounds: { after?: bigint; before?: bigint },
  backward: boolean,
  want: number,
  keep?: (item: ArchiveItem<string>) => boolean,
): Promise<ArchiveItem<string>[]> {
  const out: ArchiveItem<string>[] = [];
  let { after, before } = bounds;
  const batch = keep ? Math.max(want, 100) : want;
  for (;;) {
    const q: ArchiveQuery = { ...filters, limit: batch, reverse: backward };
    if (after !== undefined) q.after = after.toString();
    if (before !== undefined) q.before = before.toString();
    const found = await s.archive.find(s.host, s.user, q);
    for (const item of found) {
      if (keep && !keep(item)) continue;
      out.push(item);
      if (out.length === want) return out;
    }
    const edge = found[found.length - 1];
    if (found.length < batch || !edge) return out;
    if (backward) before = BigInt(edge.id);
    else after = BigInt(edge.id);
  }
}

/** §4.1.3: single-item retrieval; the items come in archive order whatever the order of the ids. */
async function byIds(s: Scope, ids: string[]): Promise<QueryOutcome> {
  if (ids.length > s.hardMax) throw StanzaError.policyViolation(`at most ${s.hardMax} ids per query`);
  const items: ArchiveItem<string>[] = [];
  for (const id of ids) {
    const storeId = s.ids.decode(id);
    const item = storeId === null ? undefined : await itemById(s, storeId);
    if (!item) throw StanzaError.itemNotFound(`no archived item ${id}`);
    if (!items.some((i) => i.id === item.id)) items.push(item);
  }
  items.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  return { items, complete: true, rsm: pageIds(s, items, { count: items.length, firstIndex: 0 }) };
}

function pageIds(s: Scope, items: ArchiveItem<string>[], extra: RsmResponse): RsmResponse {
  const first = items[0];
  const last = items[items.length - 1];
  if (!first || !last) return extra.count === undefined ? {} : { count: extra.count };
  return { ...extra, first: s.ids.encode(first.id), last: s.ids.encode(last.id) };
}

export async function runQuery(s: Scope, q: MamQuery): Promise<QueryOutcome> {
  // XEP-0059 §2.6: paging by index would need an OFFSET scan; the spec allows declining it.
  if (q.rsm?.index !== undefined) throw StanzaError.featureNotImplemented('RSM <index/> is not supported');
  if (q.ids) return byIds(s, q.ids);

  // §4.1.3 before-id / after-id and the RSM UIDs are all exclusive bounds on the same id order.
  let after: bigint | undefined;
  let before: bigint | undefined;
  if (q.afterId !== undefined) after = await resolve(s, q.afterId);
  if (q.beforeId !== undefined) before = await resolve(s, q.beforeId);
  if (q.rsm?.after !== undefined) after = maxOf(after, await resolve(s, q.rsm.after));
  if (q.rsm?.before) before = minOf(before, await resolve(s, q.rsm.before));

  const filters: Filters = {};
  if (q.with) filters.with = q.with.bareString;
  if (q.start) filters.start = q.start;
  if (q.end) filters.end = q.end;
  if (q.text !== undefined) filters.text = q.text;
  const full = q.with && q.with.resource !== null ? q.with : undefined;
  const keep = full ? (item: ArchiveItem<string>) => s.withFull(item.value, full) : undefined;

  // The count covers the whole result set (XEP-0059 §2.2); it is exact only without id bounds and post-filters.
  // A text search is left uncounted: counting it reads the user's whole archive on every page, which §2.2
  // allows to omit as "exceptionally resource intensive" (measured: half a second over a million items).
  const countable = q.afterId === undefined && q.beforeId === undefined && !full && q.text === undefined;
  const count = countable ? await s.archive.count(s.host, s.user, filters) : undefined;

  const max = Math.min(q.rsm?.max ?? s.defaultMax, s.hardMax);
  // XEP-0059 §2.5: <before/> (empty or not) pages backwards from the end of the range.
  const backward = q.rsm?.before !== undefined;
  const found = max === 0 ? [] : await collect(s, filters, { after, before }, backward, max + 1, keep);
  const more = found.length > max;
  const items = found.slice(0, max);
  if (backward) items.reverse();
  // §4.3.2: complete when no further page exists in the paging direction; a count-only request (§2.7) is
  // complete only for an empty set.
  const complete = max === 0 ? count === 0 : !more;

  let firstIndex: number | undefined;
  if (items.length > 0) {
    const startsSet = backward ? !more && after === undefined : after === undefined;
    const endsSet = backward ? before === undefined : !more && before === undefined;
    if (startsSet) firstIndex = 0;
    else if (endsSet && count !== undefined) firstIndex = count - items.length;
  }
  const extra: RsmResponse = {};
  if (count !== undefined) extra.count = count;
  if (firstIndex !== undefined) extra.firstIndex = firstIndex;
  return { items, complete, rsm: pageIds(s, items, extra) };
}
