// XEP-0297 Stanza Forwarding (with an optional XEP-0203 delay): the <forwarded/> wrapper that carbons
// (XEP-0280) and archive results (XEP-0313) put around a copy of a message. Pure (DESIGN §1).
import { cloneElement, type Element, xml } from './element.js';
import { NS } from './ns.js';

export const NS_FORWARD = 'urn:xmpp:forward:0';
export const NS_DELAY = 'urn:xmpp:delay';

/**
 * XEP-0297 §3: <forwarded/> holding a deep copy of the stanza (never the incoming element itself, which must not
 * gain a new parent, DESIGN §9.7), qualified explicitly by jabber:client: without the attribute it would inherit
 * the wrapper's namespace. XEP-0203 §3: `delay` stamps when the stanza was originally received.
 */
export function forwarded(stanza: Element, delay?: { stamp: Date; from?: string }): Element {
  const copy = cloneElement(stanza);
  copy.attrs.xmlns = NS.CLIENT;
  const wrapper = xml('forwarded', { xmlns: NS_FORWARD });
  if (delay) wrapper.cnode(xml('delay', { xmlns: NS_DELAY, stamp: delay.stamp.toISOString(), from: delay.from }));
  wrapper.cnode(copy);
  return wrapper;
}

/** The stanza inside a <forwarded/> child of `el` (XEP-0297 §3), if any. */
export function forwardedStanza(el: Element): Element | undefined {
  return el
    .getChild('forwarded', NS_FORWARD)
    ?.getChildElements()
    .find((c) => !c.is('delay', NS_DELAY));
}
