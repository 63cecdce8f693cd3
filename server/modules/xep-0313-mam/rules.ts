// XEP-0313 §6.1.1: which messages a user archive keeps, with the XEP-0334 hints that override it. Pure.
import type { Element } from '../../xml/element.js';
import { hasHint } from '../../xml/hints.js';

/**
 * §6.1.1: one-to-one messages of type normal or chat that carry a <body/>; groupchat, headline and error are
 * left out. XEP-0334 §4: <no-store/> and <no-permanent-store/> keep a message out of the archive, <store/> asks
 * for one that would not be kept otherwise (a chat or normal message without a body).
 */
export function archivable(message: Element): boolean {
  const type = message.attrs.type ?? 'normal';
  if (type !== 'chat' && type !== 'normal') return false;
  if (hasHint(message, 'no-store') || hasHint(message, 'no-permanent-store')) return false;
  return message.getChild('body') !== undefined || hasHint(message, 'store');
}

/** What full-text search (XEP-0431) looks in: the message's bodies. */
export function searchText(message: Element): string | undefined {
  const bodies = message.getChildren('body').map((b) => b.getText());
  return bodies.length === 0 ? undefined : bodies.join('\n');
}
