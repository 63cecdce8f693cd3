// RFC 6121 §4 presence stanzas: classification, priority and the stanzas the server builds. Pure: no I/O.
import type { SessionInfo } from '../../core/hooks.js';
import { withAddresses } from '../../router/stanza.js';
import { type Element, parseXml, xml } from '../../xml/element.js';
import { NS_DELAY } from '../../xml/forward.js';
import { isSubscriptionType, type SubscriptionType } from './subscription.js';

/** The kinds of presence stanza RFC 6121 §4.7.1 defines ('available' is the absence of 'type'). */
export type PresenceKind = 'available' | 'unavailable' | 'probe' | 'error' | SubscriptionType;

/** RFC 6121 §4.7.1: the kind of a presence stanza, or null for a 'type' the RFC does not define. */
export function presenceKind(stanza: Element): PresenceKind | null {
  const type = stanza.attrs.type;
  if (type === undefined) return 'available';
  if (type === 'unavailable' || type === 'probe' || type === 'error' || isSubscriptionType(type)) return type;
  return null;
}

/** RFC 6121 §4.7.2.3: priority is an integer from -128 to +127; missing or invalid means 0. */
export function parsePriority(presence: Element): number {
  const text = presence.getChildText('priority');
  if (text === null || text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  if (!Number.isFinite(n)) return 0;
  return Math.max(-128, Math.min(127, n));
}

/** Records a client's own broadcast presence on its session (RFC 6121 §4.2, §4.5). */
export function applyOwnPresence(session: SessionInfo, stanza: Element): 'available' | 'unavailable' | 'other' {
  const type = stanza.attrs.type;
  if (type === undefined) {
    session.presence = stanza;
    session.priority = parsePriority(stanza);
    session.available = true;
    return 'available';
  }
  if (type === 'unavailable') {
    session.presence = null;
    session.available = false;
    return 'unavailable';
  }
  return 'other';
}

/** RFC 6121 §4.3.1: a probe goes from the user's bare JID to the contact's bare JID. */
export function probe(from: string, to: string): Element {
  return xml('presence', { type: 'probe', from, to });
}

/** A presence stanza with only a type (unavailable, subscribed, unsubscribed …). */
export function typedPresence(type: string, from: string, to: string): Element {
  return xml('presence', { type, from, to });
}

/** A copy of a presence stanza readdressed (children shared, the original untouched: DESIGN §9.7). */
export function readdress(stanza: Element, from: string, to: string): Element {
  return withAddresses(stanza, from, to);
}

/** Largest subscription request kept verbatim (its status and nick, RFC 6121 §3.1.3); larger ones lose their children. */
const MAX_KEPT_REQUEST_BYTES = 4096;

/** The subscribe stanza as kept while pending in (RFC 6121 §3.1.3: the complete stanza, with extended content). */
export function keptRequest(stanza: Element, contact: string, user: string): string {
  const copy = readdress(stanza, contact, user);
  delete copy.attrs.id;
  const text = copy.toString();
  return Buffer.byteLength(text, 'utf8') <= MAX_KEPT_REQUEST_BYTES
    ? text
    : typedPresence('subscribe', contact, user).toString();
}

/** The kept request as it is delivered again, or a bare subscribe when none was kept. */
export function pendingRequest(kept: string | null, contact: string, user: string): Element {
  if (kept !== null) {
    const el = parseXml(kept);
    if (el.name === 'presence' && el.attrs.type === 'subscribe') return readdress(el, contact, user);
  }
  return typedPresence('subscribe', contact, user);
}

/**
 * What the server remembers of an account that went offline: when (its last available resource became
 * unavailable, or its last connected resource went away) and the status text of its last unavailable presence.
 * Probe answers (RFC 6121 §4.3.2) and last activity (XEP-0012 §3) are built from it.
 */
export interface LastRecord {
  /** In ms since the epoch. */
  at: number;
  status?: string;
}

/** Reads a stored record defensively: anything malformed counts as no record. */
export function parseLastRecord(value: unknown): LastRecord | null {
  if (typeof value !== 'object' || value === null) return null;
  const { at, status } = value as { at?: unknown; status?: unknown };
  if (typeof at !== 'number' || !Number.isFinite(at)) return null;
  return typeof status === 'string' ? { at, status } : { at };
}

/** The status text of an unavailable presence; the first <status/> without another language wins. */
export function unavailableStatus(presence: Element): string | undefined {
  const statuses = presence.getChildren('status');
  const chosen = statuses.find((s) => s.attrs['xml:lang'] === undefined) ?? statuses[0];
  const text = chosen?.getText();
  return text ? text : undefined;
}

/**
 * RFC 6121 §4.3.2: the answer to a probe of an account with no available resource: unavailable from the bare
 * JID, with the status of the account's last unavailable presence and, when known, an XEP-0203 <delay/> (§3)
 * stamped with the time the account went offline (UTC, XEP-0082).
 */
export function lastUnavailable(from: string, to: string, last: LastRecord | null, host: string): Element {
  return xml(
    'presence',
    { type: 'unavailable', from, to },
    last?.status !== undefined ? xml('status', null, last.status) : null,
    last ? xml('delay', { xmlns: NS_DELAY, from: host, stamp: new Date(last.at).toISOString() }) : null,
  );
}
