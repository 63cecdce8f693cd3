// XEP-0160 offline messages: which messages are stored, and the stored form (a copy with an XEP-0203 delay).
import { cloneElement, type Element, parseXml, xml } from '../../xml/element.js';

export const NS_DELAY = 'urn:xmpp:delay';
export const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';
/** XEP-0160 §4: the service discovery feature. */
export const FEATURE_MSGOFFLINE = 'msgoffline';

/**
 * What to do with a message for an account that has no available resource:
 * 'store' it, 'discard' it silently, or 'refuse' it (the caller bounces it, RFC 6121 §8.5.2.2).
 */
export type OfflineDecision = 'store' | 'discard' | 'refuse';

/** XEP-0160 §3: normal and chat are stored; headline and error are not (and get no error); groupchat is refused. */
export function offlineDecision(message: Element): OfflineDecision {
  const type = message.attrs.type ?? 'normal';
  if (type === 'normal' || type === 'chat') return onlyChatState(message) ? 'discard' : 'store';
  if (type === 'groupchat') return 'refuse';
  return 'discard';
}

/**
 * XEP-0160 §3: a message that carries only XEP-0085 content (a chat state, perhaps with its <thread/>) is not
 * worth storing. Applied to type normal as well: a chat state is no more useful later whatever the type.
 */
export function onlyChatState(message: Element): boolean {
  let state = false;
  for (const child of message.children) {
    if (typeof child === 'string') {
      if (child.trim() !== '') return false;
      continue;
    }
    if (child.attrs.xmlns === NS_CHATSTATES) state = true;
    else if (child.name !== 'thread') return false;
  }
  return state;
}

/**
 * The copy that is stored: the incoming stanza is never changed (DESIGN §9.7). XEP-0160 §2 recommends, and
 * XEP-0203 §3 defines, a <delay/> stamped by the storing server with the time of storage (UTC, XEP-0082).
 */
export function withDelay(message: Element, from: string, when: Date): Element {
  const copy = cloneElement(message);
  copy.cnode(xml('delay', { xmlns: NS_DELAY, from, stamp: when.toISOString() }, 'Offline Storage'));
  return copy;
}

export function encodeOffline(message: Element): string {
  return message.toString();
}

/** The stored message; throws on stored text that is not a message (the caller drops and logs it). */
export function decodeOffline(text: string): Element {
  const el = parseXml(text);
  if (el.name !== 'message') throw new Error(`stored offline item is a <${el.name}/>, not a message`);
  return el;
}
