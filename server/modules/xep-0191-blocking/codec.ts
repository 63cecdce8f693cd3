// XEP-0191 Blocking Command: the <block/>, <unblock/> and <blocklist/> payloads, JID matching (§6) and the
// answers the server gives on the user's behalf (§3.3).
import { StanzaError } from '../../errors/index.js';
import { Jid } from '../../jid/index.js';
import { mayBounce } from '../../router/stanza.js';
import { type Element, xml } from '../../xml/element.js';

export const NS_BLOCKING = 'urn:xmpp:blocking';
export const NS_BLOCKING_ERRORS = 'urn:xmpp:blocking:errors';

/** The prepared JIDs of the <item/> children, without duplicates, in document order. */
export function parseBlockItems(payload: Element): string[] {
  const out = new Set<string>();
  for (const item of payload.getChildren('item', NS_BLOCKING)) {
    const raw = item.attrs.jid;
    // XML schema (§10): 'jid' is required on every item.
    if (raw === undefined || raw === '') throw StanzaError.badRequest('every <item/> needs a jid attribute');
    const jid = Jid.tryParse(raw);
    if (!jid) throw StanzaError.jidMalformed(`not a valid JID: ${raw}`);
    out.add(jid.toString());
  }
  return [...out];
}

/** §3.3: a <block/> must name at least one JID. */
export function parseBlock(payload: Element): string[] {
  const items = parseBlockItems(payload);
  if (items.length === 0) throw StanzaError.badRequest('<block/> must contain at least one <item/>');
  return items;
}

/** §3.4 / §3.5: <unblock/> with items unblocks those; an empty one unblocks every JID. */
export function parseUnblock(payload: Element): string[] | 'all' {
  const items = parseBlockItems(payload);
  return items.length === 0 ? 'all' : items;
}

/** §3.2: the blocklist result (an empty <blocklist/> when nothing is blocked). */
export function blocklistElement(items: Iterable<string>): Element {
  return xml('blocklist', { xmlns: NS_BLOCKING }, ...[...items].map((jid) => xml('item', { jid })));
}

/** §3.3: the payload of a block push. */
export function blockElement(items: readonly string[]): Element {
  return xml('block', { xmlns: NS_BLOCKING }, ...items.map((jid) => xml('item', { jid })));
}

/** §3.4 / §3.5: the payload of an unblock push; an empty <unblock/> announces that everything was unblocked. */
export function unblockElement(items: readonly string[] | 'all'): Element {
  const list = items === 'all' ? [] : items;
  return xml('unblock', { xmlns: NS_BLOCKING }, ...list.map((jid) => xml('item', { jid })));
}

/**
 * §6 (the XEP-0016 order): an item <user@domain/resource> matches only that full JID, <user@domain> any of
 * its resources, <domain/resource> only that JID, and <domain> the domain and every JID at it. So a JID is
 * blocked when its full form, its bare form or its domain is on the list.
 */
export function blockMatches(items: ReadonlySet<string>, jid: Jid): boolean {
  if (items.size === 0) return false;
  return items.has(jid.toString()) || items.has(jid.bareString) || items.has(jid.domain);
}

/**
 * The addresses of one roster contact (a bare JID) that the items cover: the contact itself when a bare or
 * domain item matches it, else the full JIDs of the contact that are listed one by one.
 */
export function coveredAddresses(items: ReadonlySet<string>, contact: string): string[] {
  const jid = Jid.tryParse(contact);
  if (!jid) return [];
  if (blockMatches(items, jid)) return [jid.bareString];
  const out: string[] = [];
  for (const item of items) {
    const j = Jid.tryParse(item);
    if (j && j.resource !== null && j.local !== null && j.bareEquals(jid)) out.push(item);
  }
  return out;
}

/**
 * §3.3, stanzas from a blocked JID to the user: presence is dropped without answer; message and iq get/set
 * get service-unavailable; iq result/error and error messages are dropped (never answer an error, RFC 6120
 * §8.3.1). Headlines are dropped too, as for an account that is offline (RFC 6121 §8.5.2.2.1), so that the
 * user appears offline to the blocked JID as §3.3 intends.
 */
export function inboundAnswer(stanza: Element): 'drop' | 'service-unavailable' {
  if (stanza.name === 'presence' || !mayBounce(stanza)) return 'drop';
  if (stanza.name === 'message' && stanza.attrs.type === 'headline') return 'drop';
  return 'service-unavailable';
}

/** §3.3: the error for a stanza the user sent to a blocked JID. */
export function blockedError(): StanzaError {
  return new StanzaError('not-acceptable', 'the recipient is on your blocklist', {
    type: 'cancel',
    app: xml('blocked', { xmlns: NS_BLOCKING_ERRORS }),
  });
}
