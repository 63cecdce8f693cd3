// RFC 6121 §2 roster: XML ⇄ typed items, roster set validation and the stored document. Pure: no I/O.
import { StanzaError } from '../../errors/index.js';
import { Jid, JidError } from '../../jid/index.js';
import { type Element, xml } from '../../xml/element.js';
import type { RosterItem, SubscriptionSnapshot, SubscriptionState } from './types.js';

export const NS_ROSTER = 'jabber:iq:roster';
/** RFC 6121 §2.6.1: stream feature for roster versioning. */
export const NS_ROSTER_VER = 'urn:xmpp:features:rosterver';
/** RFC 6121 §3.4.1: stream feature for subscription pre-approval. */
export const NS_PRE_APPROVAL = 'urn:xmpp:features:pre-approval';

/** Server-configured limits for §2.3.3 (not-acceptable): name and group lengths, in characters. */
export const MAX_NAME_LENGTH = 1023;
export const MAX_GROUP_LENGTH = 1023;

/** An item as stored: the visible attributes only (the JID is the key). */
export interface StoredItem {
  name?: string;
  subscription: SubscriptionState;
  ask?: 'subscribe';
  approved?: boolean;
  groups: string[];
}

/** One JSON document per user: items, the inbound requests pending in (§3.1.3) and the version counter (§2.6). */
export interface RosterDoc {
  ver: number;
  items: Record<string, StoredItem>;
  pending: Record<string, { stanza?: string }>;
}

export function emptyDoc(): RosterDoc {
  return { ver: 0, items: {}, pending: {} };
}

const SUBSCRIPTIONS: readonly SubscriptionState[] = ['none', 'to', 'from', 'both'];

/** Reads a stored document defensively: anything malformed is dropped rather than trusted. */
export function decodeDoc(raw: unknown): RosterDoc {
  const doc = emptyDoc();
  if (typeof raw !== 'object' || raw === null) return doc;
  const r = raw as Partial<Record<keyof RosterDoc, unknown>>;
  if (typeof r.ver === 'number' && Number.isSafeInteger(r.ver) && r.ver >= 0) doc.ver = r.ver;
  if (typeof r.items === 'object' && r.items !== null) {
    for (const [jid, v] of Object.entries(r.items as Record<string, unknown>)) {
      const item = decodeItem(v);
      if (item) doc.items[jid] = item;
    }
  }
  if (typeof r.pending === 'object' && r.pending !== null) {
    for (const [jid, v] of Object.entries(r.pending as Record<string, unknown>)) {
      const stanza = typeof v === 'object' && v !== null ? (v as { stanza?: unknown }).stanza : undefined;
      doc.pending[jid] = typeof stanza === 'string' ? { stanza } : {};
    }
  }
  return doc;
}

function decodeItem(v: unknown): StoredItem | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const subscription = SUBSCRIPTIONS.includes(o.subscription as SubscriptionState)
    ? (o.subscription as SubscriptionState)
    : 'none';
  const item: StoredItem = {
    subscription,
    groups: Array.isArray(o.groups) ? o.groups.filter((g): g is string => typeof g === 'string') : [],
  };
  if (typeof o.name === 'string') item.name = o.name;
  if (o.ask === 'subscribe') item.ask = 'subscribe';
  if (o.approved === true) item.approved = true;
  return item;
}

/** The service's view of a stored item. */
export function toRosterItem(jid: string, s: StoredItem, pendingIn: boolean): RosterItem {
  const item: RosterItem = { jid, subscription: s.subscription, groups: [...s.groups] };
  if (s.name !== undefined) item.name = s.name;
  if (s.ask) item.ask = s.ask;
  if (s.approved) item.approved = true;
  if (pendingIn) item.pendingIn = true;
  return item;
}

export function toStoredItem(item: RosterItem): StoredItem {
  const s: StoredItem = { subscription: item.subscription, groups: [...item.groups] };
  if (item.name !== undefined) s.name = item.name;
  if (item.ask) s.ask = item.ask;
  if (item.approved) s.approved = true;
  return s;
}

/** Appendix A state of a contact, from its item (if any) and whether a request is pending in. */
export function snapshotOf(item: StoredItem | undefined, pendingIn: boolean): SubscriptionSnapshot {
  return {
    subscription: item?.subscription ?? 'none',
    pendingOut: item?.ask === 'subscribe',
    pendingIn,
    approved: item?.approved === true,
  };
}

/** The item after a state change; null when there was no item and the new state needs none. */
export function withSnapshot(item: StoredItem | undefined, s: SubscriptionSnapshot): StoredItem | null {
  if (!item && s.subscription === 'none' && !s.pendingOut && !s.approved) return null;
  const next: StoredItem = { subscription: s.subscription, groups: item ? [...item.groups] : [] };
  if (item?.name !== undefined) next.name = item.name;
  if (s.pendingOut) next.ask = 'subscribe';
  if (s.approved) next.approved = true;
  return next;
}

/** Whether two items look the same to a client (a push is needed otherwise). */
export function sameVisible(a: StoredItem | null | undefined, b: StoredItem | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return (
    a.name === b.name &&
    a.subscription === b.subscription &&
    a.ask === b.ask &&
    (a.approved === true) === (b.approved === true) &&
    a.groups.length === b.groups.length &&
    a.groups.every((g, i) => g === b.groups[i])
  );
}

/** A parsed roster set (RFC 6121 §2.3, §2.5). */
export type RosterSet = { jid: string; remove: true } | { jid: string; remove: false; name?: string; groups: string[] };

/** Validates a roster set's query (RFC 6121 §2.3.3 error cases); throws the StanzaError to answer with. */
export function parseRosterSet(query: Element): RosterSet {
  const items = query.getChildElements();
  // §2.3.3: exactly one <item/>.
  if (items.length !== 1 || items[0]?.name !== 'item')
    throw StanzaError.badRequest('a roster set contains exactly one <item/>');
  const el = items[0];
  const jid = parseItemJid(el.attrs.jid);
  // §2.1.2.5: only 'remove' has a meaning in a set; other values (and 'ask', 'approved') are ignored.
  if (el.attrs.subscription === 'remove') return { jid, remove: true };
  const set: RosterSet = { jid, remove: false, groups: parseGroups(el) };
  const name = el.attrs.name;
  if (name !== undefined) {
    // §2.3.3: a name longer than the server's limit is not-acceptable.
    if ([...name].length > MAX_NAME_LENGTH)
      throw StanzaError.notAcceptable(`the name is longer than ${MAX_NAME_LENGTH} characters`);
    set.name = name;
  }
  return set;
}

function parseItemJid(raw: string | undefined): string {
  if (raw === undefined || raw === '') throw StanzaError.badRequest("the item has no 'jid'");
  let jid: Jid;
  try {
    jid = Jid.parse(raw);
  } catch (err) {
    if (!(err instanceof JidError)) throw err;
    throw StanzaError.jidMalformed(err.message);
  }
  // Subscriptions are between bare JIDs (RFC 6121 §3.1.1), so roster items are too.
  if (jid.resource !== null) throw StanzaError.badRequest('roster items are bare JIDs');
  return jid.toString();
}

function parseGroups(item: Element): string[] {
  const groups: string[] = [];
  for (const g of item.getChildren('group')) {
    const text = g.getText();
    // §2.3.3: empty or over-long group names are not-acceptable; duplicates are bad-request.
    if (text.trim() === '') throw StanzaError.notAcceptable('a group name is empty');
    if ([...text].length > MAX_GROUP_LENGTH)
      throw StanzaError.notAcceptable(`a group name is longer than ${MAX_GROUP_LENGTH} characters`);
    if (groups.includes(text)) throw StanzaError.badRequest(`duplicate group "${text}"`);
    groups.push(text);
  }
  return groups;
}

/** RFC 6121 §2.1.2: an <item/> as clients see it (pending in is never shown). */
export function itemElement(jid: string, item: StoredItem | null): Element {
  if (!item) return xml('item', { jid, subscription: 'remove' });
  return xml(
    'item',
    {
      jid,
      name: item.name,
      subscription: item.subscription,
      ask: item.ask,
      approved: item.approved ? 'true' : undefined,
    },
    ...item.groups.map((g) => xml('group', null, g)),
  );
}

/** RFC 6121 §2.1.4 roster result; `ver` only for clients that use versioning (§2.6.3). */
export function rosterQuery(doc: RosterDoc, withVer: boolean): Element {
  return xml(
    'query',
    { xmlns: NS_ROSTER, ver: withVer ? String(doc.ver) : undefined },
    ...Object.entries(doc.items).map(([jid, item]) => itemElement(jid, item)),
  );
}

/** RFC 6121 §2.1.6 roster push: no 'from' (it comes from the account itself). */
export function rosterPush(to: string, id: string, jid: string, item: StoredItem | null, ver: number | null): Element {
  return xml(
    'iq',
    { type: 'set', id, to },
    xml('query', { xmlns: NS_ROSTER, ver: ver === null ? undefined : String(ver) }, itemElement(jid, item)),
  );
}
