// Helpers that build new stanzas from incoming ones without mutating them (DESIGN §9.7).
import { StanzaError } from '../errors/index.js';
import { Element, xml } from '../xml/element.js';

/** A shallow copy with new addresses; children are shared and must be treated as read-only. */
export function withAddresses(el: Element, from: string | undefined, to: string | undefined): Element {
  // Called for every routed stanza: build the attributes once (no `delete`, which slows later property access)
  // and hand them to the copy directly instead of letting the constructor copy them again.
  // Attribute order is kept as it was ('from' and 'to' stay in place, or are added at the end).
  const attrs: Record<string, string> = {};
  let hadFrom = false;
  let hadTo = false;
  for (const k in el.attrs) {
    if (k === 'from') {
      hadFrom = true;
      if (from !== undefined) attrs.from = from;
    } else if (k === 'to') {
      hadTo = true;
      if (to !== undefined) attrs.to = to;
    } else attrs[k] = el.attrs[k] as string;
  }
  if (!hadFrom && from !== undefined) attrs.from = from;
  if (!hadTo && to !== undefined) attrs.to = to;
  const copy = new Element(el.name);
  copy.attrs = attrs;
  copy.children = el.children;
  return copy;
}

/** RFC 6120 §8.3.1: an error stanza, or an iq result, must never trigger an error reply. */
export function mayBounce(el: Element): boolean {
  const type = el.attrs.type;
  if (type === 'error') return false;
  if (el.name === 'iq' && type === 'result') return false;
  return true;
}

/** Builds the error reply to a stanza (RFC 6120 §8.3.1): addresses swapped, type error, original payload kept. */
export function errorReply(el: Element, err: StanzaError): Element {
  const attrs: Record<string, string> = { type: 'error' };
  if (el.attrs.id !== undefined) attrs.id = el.attrs.id;
  if (el.attrs.to !== undefined) attrs.from = el.attrs.to;
  if (el.attrs.from !== undefined) attrs.to = el.attrs.from;
  if (el.attrs.xmlns !== undefined) attrs.xmlns = el.attrs.xmlns;
  const reply = new Element(el.name, attrs);
  // Keep the original payload for iq and message so the sender can correlate (RFC 6120 §8.3.1 MAY).
  if (el.name !== 'presence') {
    for (const c of el.children) if (typeof c !== 'string') reply.cnode(c);
  }
  reply.cnode(err.toElement());
  return reply;
}

/** An iq result for a get/set (RFC 6120 §8.2.3). */
export function iqResult(iq: Element, payload?: Element | null): Element {
  return xml('iq', { type: 'result', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, payload ?? null);
}

/** The single payload child of a get/set iq, or a bad-request error (RFC 6120 §8.2.3). */
export function iqPayload(iq: Element): Element {
  let found: Element | undefined;
  for (const c of iq.children) {
    if (typeof c === 'string') continue;
    if (found) throw StanzaError.badRequest('iq get/set must contain exactly one child element');
    found = c;
  }
  if (!found) throw StanzaError.badRequest('iq get/set must contain exactly one child element');
  return found;
}

export function stanzaNs(el: Element): string | undefined {
  return el.attrs.xmlns;
}
