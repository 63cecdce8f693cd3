// XEP-0280 Message Carbons: which messages are copied (§6), the copies themselves (§7, §8), the <private/>
// opt-out (§9) and the wrappers a server must never pass on from anyone else (§11). Pure (DESIGN §1).
import { Element, xml } from '../../xml/element.js';
import { forwarded } from '../../xml/forward.js';
import { hasHint } from '../../xml/hints.js';

export const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

export type CarbonKind = 'sent' | 'received';

/**
 * §6, following its suggested rules: chat messages, and normal ones with a <body/>, are copied; a message from
 * a MUC room or one of its occupants (it carries MUC user data, XEP-0045 §7) is not, nor groupchat or headline.
 * 'error-reply' marks an error, which §6 makes eligible only as the answer to an eligible message: the caller
 * correlates it (see ErrorReplies).
 */
export function eligibility(message: Element): 'eligible' | 'error-reply' | 'ineligible' {
  const type = message.attrs.type ?? 'normal';
  if (type === 'error') return 'error-reply';
  if (type !== 'chat' && type !== 'normal') return 'ineligible';
  if (message.getChild('x', NS_MUC_USER)) return 'ineligible';
  if (type === 'normal' && !message.getChild('body')) return 'ineligible';
  return 'eligible';
}

/** §9: the sender opted out with <private/>; XEP-0334 §4 <no-copy/> asks the same of carbons. */
export function noCopies(message: Element): boolean {
  return message.getChild('private', NS_CARBONS) !== undefined || hasHint(message, 'no-copy');
}

/** §9: the receiving server SHOULD remove <private/> before delivery. A copy; the message itself if absent. */
export function withoutPrivate(message: Element): Element {
  const kept = message.children.filter((c) => typeof c === 'string' || !c.is('private', NS_CARBONS));
  if (kept.length === message.children.length) return message;
  const copy = new Element(message.name, { ...message.attrs });
  copy.children = kept;
  return copy;
}

/**
 * §11: a <sent/> or <received/> wrapper in the carbons namespace directly under a message. Only the user's own
 * server may produce one; a client sending it, or another entity, is forging a copy.
 */
export function carbonWrapper(message: Element): CarbonKind | undefined {
  if (message.getChild('sent', NS_CARBONS)) return 'sent';
  if (message.getChild('received', NS_CARBONS)) return 'received';
  return undefined;
}

/**
 * §7 / §8: the copy for one of the user's resources: from the user's bare JID, to that resource's full JID, of
 * the original's type (absent when the original had none), holding the original in <sent/> or <received/> and an XEP-0297 <forwarded/>.
 */
export function carbonCopy(kind: CarbonKind, message: Element, userBare: string, resource: string): Element {
  return xml(
    'message',
    { from: userBare, to: resource, type: message.attrs.type },
    xml(kind, { xmlns: NS_CARBONS }, forwarded(message)),
  );
}
