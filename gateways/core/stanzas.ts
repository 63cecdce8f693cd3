// Pure builders and readers between the driver's plain values and XMPP stanzas (DESIGN §1 "pure codecs").
import type { Jid } from '../../server/jid/index.js';
import { type Element, xml } from '../../server/xml/element.js';
import type { LegacyMessage, LegacyPresence, LegacyState, PresenceShow } from './driver.js';

const NS_NICK = 'http://jabber.org/protocol/nick';
const SHOWS: ReadonlySet<string> = new Set(['away', 'chat', 'dnd', 'xa']);

/** Status text shown while the legacy connection is being set up. */
export const CONNECTING_STATUS = 'connecting…';

/** The gateway's own presence for a connection state (DESIGN §6; XEP-0100 §4.4.1 available after login). */
export function gatewayPresence(domain: string, to: string, state: LegacyState | 'idle', detail?: string): Element {
  switch (state) {
    case 'online':
      return xml('presence', { from: domain, to }, detail ? xml('status', null, detail) : null);
    case 'connecting':
      return xml(
        'presence',
        { from: domain, to },
        xml('show', null, 'xa'),
        xml('status', null, detail ?? CONNECTING_STATUS),
      );
    default:
      // XEP-0100 §4.5.1 (logout) and §4.4.2 (login failed): unavailable, with the reason as status.
      return xml('presence', { from: domain, to, type: 'unavailable' }, detail ? xml('status', null, detail) : null);
  }
}

/** XEP-0100 §5.3: a legacy contact's message to the user (groupchat: from the room JID with the nick). */
export function contactMessage(from: Jid, to: string, m: LegacyMessage): Element {
  const sender = m.type === 'groupchat' && m.nick ? from.withResource(m.nick).toString() : from.toString();
  return xml(
    'message',
    { from: sender, to, type: m.type ?? 'chat', id: m.id, 'xml:lang': m.lang },
    m.subject !== undefined ? xml('subject', null, m.subject) : null,
    // XEP-0045 §7.2.15 / §8.1: a subject change carries no body.
    m.subject !== undefined && m.body === '' ? null : xml('body', null, m.body),
    m.thread !== undefined ? xml('thread', null, m.thread) : null,
  );
}

/** A legacy contact's presence (RFC 6121 §4.7). */
export function contactPresence(from: Jid, to: string, p: LegacyPresence): Element {
  return xml(
    'presence',
    { from: from.toString(), to, type: p.available ? undefined : 'unavailable' },
    p.available && p.show ? xml('show', null, p.show) : null,
    p.status ? xml('status', null, p.status) : null,
  );
}

/** XEP-0100 §5.1: a legacy contact asks to be in the user's roster; XEP-0172 §4.2 nick in the request. */
export function subscriptionRequest(from: Jid, to: string, nick?: string): Element {
  return xml(
    'presence',
    { from: from.toString(), to, type: 'subscribe' },
    nick ? xml('nick', { xmlns: NS_NICK }, nick) : null,
  );
}

/** A subscription answer or request from the gateway or a contact (RFC 6121 §3). */
export function typedPresence(type: string, from: string, to: string): Element {
  return xml('presence', { from, to, type });
}

/** The user's presence as the driver sees it (RFC 6121 §4.7.2: show and status; priority is XMPP-only). */
export function readPresence(el: Element): LegacyPresence {
  const show = el.getChildText('show') ?? undefined;
  const status = el.getChildText('status') ?? undefined;
  return {
    available: el.attrs.type !== 'unavailable',
    ...(show !== undefined && SHOWS.has(show) ? { show: show as PresenceShow } : {}),
    ...(status !== undefined ? { status } : {}),
  };
}

/**
 * A user's message as the driver sees it; null when it carries no body (chat states, receipts). A groupchat
 * message with only a subject is a subject change (XEP-0045 §8.1) and comes through with an empty body.
 */
export function readMessage(el: Element): LegacyMessage | null {
  const type = el.attrs.type;
  const subject = el.getChildText('subject');
  const body = el.getChildText('body') ?? (type === 'groupchat' && subject !== null ? '' : null);
  if (body === null) return null;
  const m: { -readonly [K in keyof LegacyMessage]: LegacyMessage[K] } = { body };
  if (type === 'chat' || type === 'groupchat' || type === 'normal' || type === 'headline') m.type = type;
  if (el.attrs.id !== undefined) m.id = el.attrs.id;
  if (subject !== null) m.subject = subject;
  const thread = el.getChildText('thread');
  if (thread !== null && thread !== '') m.thread = thread;
  if (el.attrs['xml:lang'] !== undefined) m.lang = el.attrs['xml:lang'];
  return m;
}
