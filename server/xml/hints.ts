// XEP-0334 Message Processing Hints: what a sender asks of the entities handling its message. Pure (DESIGN §1).
import type { Element } from './element.js';

export const NS_HINTS = 'urn:xmpp:hints';

/** XEP-0334 §4: the four hints. */
export type Hint = 'no-permanent-store' | 'no-store' | 'no-copy' | 'store';

/** Whether the message carries the hint as a direct child. */
export function hasHint(message: Element, hint: Hint): boolean {
  return message.getChild(hint, NS_HINTS) !== undefined;
}
