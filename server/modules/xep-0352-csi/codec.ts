// XEP-0352 Client State Indication: which stanzas an inactive client can wait for. Pure, no I/O.
import type { Element } from '../../xml/element.js';

export const NS_CSI = 'urn:xmpp:csi:0';
const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';

/**
 * What the filter does with a stanza while the client is inactive:
 * - 'hold': an availability update (presence without type, or unavailable), kept until needed, only the latest
 *   per sender (XEP-0352 §3.2: "suppress presence updates until the client becomes active again; on becoming
 *   active, push the latest presence from each contact");
 * - 'flush': something the user will look at (a message with content, a subscription request or answer, a
 *   presence error): the held presence goes first so the client sees a consistent picture, then this;
 * - 'pass': sent at once, leaving held presence where it is (iq requests and answers, chat-state-only messages).
 */
export type CsiDecision = 'hold' | 'flush' | 'pass';

export function csiDecision(el: Element): CsiDecision {
  if (el.name === 'presence') {
    const type = el.attrs.type;
    return type === undefined || type === 'unavailable' ? 'hold' : 'flush';
  }
  if (el.name === 'message') return onlyChatState(el) ? 'pass' : 'flush';
  return 'pass';
}

/** A message carrying nothing but an XEP-0085 chat state (and perhaps its <thread/>). */
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
