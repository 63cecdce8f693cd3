// XEP-0059 Result Set Management: the <set xmlns='http://jabber.org/protocol/rsm'/> of a request and of a
// response. Pure (DESIGN §1); protocols that page (e.g. XEP-0313) embed these in their own payloads.
import { StanzaError } from '../../errors/index.js';
import { type Element, xml } from '../../xml/element.js';

export const NS_RSM = 'http://jabber.org/protocol/rsm';

/** What a requesting entity asked for. */
export interface RsmRequest {
  /** §2.1: the largest page wanted; 0 asks for the count only (§2.7). */
  max?: number;
  /** §2.2: the page starts right after this UID. */
  after?: string;
  /** §2.3: the page ends right before this UID; '' asks for the last page (§2.5). */
  before?: string;
  /** §2.6: the page starts at this index. */
  index?: number;
}

/** What a responding entity answers about the page it returned. */
export interface RsmResponse {
  /** UIDs of the first and last items of the page; both absent for an empty page (§2.2). */
  first?: string;
  last?: string;
  /** §2.2: position of the first item within the full result set, when known. */
  firstIndex?: number;
  /** §2.2: the number of items in the full result set, when known. */
  count?: number;
}

function nonNegativeInt(el: Element, what: string): number {
  const text = el.getText().trim();
  // The schema (§9) types <max/> and <index/> as xs:int; a page of a negative size means nothing.
  if (!/^\d{1,9}$/.test(text)) throw StanzaError.badRequest(`RSM <${what}/> must be a non-negative integer`);
  return Number(text);
}

/** Reads the <set/> child of a request payload; undefined when there is none. */
export function parseRsmRequest(payload: Element): RsmRequest | undefined {
  const set = payload.getChild('set', NS_RSM);
  if (!set) return undefined;
  const req: RsmRequest = {};
  const max = set.getChild('max');
  if (max) req.max = nonNegativeInt(max, 'max');
  const index = set.getChild('index');
  if (index) req.index = nonNegativeInt(index, 'index');
  const after = set.getChild('after');
  if (after) {
    const uid = after.getText();
    // §2.2: <after/> names the last item already seen; an empty one names nothing.
    if (uid === '') throw StanzaError.badRequest('RSM <after/> must contain a UID');
    req.after = uid;
  }
  const before = set.getChild('before');
  if (before) req.before = before.getText();
  if (req.after !== undefined && req.before !== undefined) {
    // XEP-0313 §4.3.2 notes that RSM leaves the combination undefined; refuse rather than guess.
    throw StanzaError.badRequest('RSM <after/> and <before/> cannot be combined');
  }
  return req;
}

export function rsmResponseElement(r: RsmResponse): Element {
  const set = xml('set', { xmlns: NS_RSM });
  if (r.first !== undefined && r.last !== undefined) {
    set.cnode(xml('first', r.firstIndex === undefined ? {} : { index: r.firstIndex }, r.first));
    set.cnode(xml('last', {}, r.last));
  }
  if (r.count !== undefined) set.cnode(xml('count', {}, String(r.count)));
  return set;
}

/** A request <set/> (clients, tests). */
export function rsmRequestElement(r: RsmRequest): Element {
  const set = xml('set', { xmlns: NS_RSM });
  if (r.max !== undefined) set.cnode(xml('max', {}, String(r.max)));
  if (r.after !== undefined) set.cnode(xml('after', {}, r.after));
  if (r.before !== undefined) set.cnode(xml('before', {}, r.before));
  if (r.index !== undefined) set.cnode(xml('index', {}, String(r.index)));
  return set;
}

/** The response <set/> of a payload (clients, tests). */
export function parseRsmResponse(payload: Element): RsmResponse | undefined {
  const set = payload.getChild('set', NS_RSM);
  if (!set) return undefined;
  const r: RsmResponse = {};
  const first = set.getChild('first');
  if (first) {
    r.first = first.getText();
    if (first.attrs.index !== undefined) r.firstIndex = Number(first.attrs.index);
  }
  const last = set.getChild('last');
  if (last) r.last = last.getText();
  const count = set.getChildText('count');
  if (count !== null) r.count = Number(count);
  return r;
}
