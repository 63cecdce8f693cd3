// Stanzas on a bound client stream (RFC 6120 §8, §10): shape checks, 'from' stamping, 'to' preparation and the
// hand-off to the router; non-stanza elements (XEP-0198, XEP-0352 nonzas) go to the extensions.
import { StanzaError, StreamError } from '../errors/index.js';
import { Jid, JidError } from '../jid/index.js';
import { errorReply, mayBounce, withAddresses } from '../router/stanza.js';
import type { Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import type { C2SSession } from './c2s.js';

export function handleStanza(s: C2SSession, el: Element): Promise<void> | undefined {
  const ns = el.attrs.xmlns;
  if (ns !== undefined && ns !== NS.CLIENT) {
    return s.deps.nonza(s, el).then((handled) => {
      if (!handled) s.close(new StreamError('unsupported-stanza-type', `unexpected <${el.name}/> in ${ns}`));
    });
  }
  if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') {
    s.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza`));
    return undefined;
  }
  const full = s.jid;
  // RFC 6120 §8.1.2.1: the server stamps 'from'; a client claiming another address is refused (§4.9.3.9).
  const claimed = el.attrs.from;
  if (claimed !== undefined && claimed !== full.toString() && claimed !== full.bareString) {
    const parsed = Jid.tryParse(claimed);
    if (!parsed || !(parsed.equals(full) || parsed.equals(full.bare()))) {
      s.close(new StreamError('invalid-from', 'from does not match the bound JID'));
      return undefined;
    }
  }
  let to: string;
  if (el.attrs.to === undefined) {
    // RFC 6120 §10.3: a stanza without 'to' is handled by the server on behalf of the account.
    to = full.bareString;
  } else {
    try {
      to = Jid.parse(el.attrs.to).toString();
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      s.replyError(el, StanzaError.jidMalformed(err.message));
      return undefined;
    }
  }
  if (el.name === 'iq' && !validIq(el)) {
    s.replyError(el, StanzaError.badRequest('iq needs an id and a type of get, set, result or error'));
    return undefined;
  }
  s.deps.countIn(el.name);
  return s.deps.router.route(withAddresses(el, full.toString(), to), s);
}

/** The error answering a stanza the client sent, or null when none may be sent. */
export function clientErrorReply(s: C2SSession, el: Element, err: StanzaError): Element | null {
  // RFC 6120 §8.3.1: an error stanza, or an iq result, is never answered with an error.
  if (!mayBounce(el)) return null;
  const reply = errorReply(el, err);
  if (s.boundJid) reply.attrs.to = s.boundJid.toString();
  delete reply.attrs.from;
  // The error comes from the addressee; a 'to' that is not a JID is not echoed into 'from' (RFC 6120 §8.1.2
  // requires JIDs there), so the server answers in its own name.
  const to = el.attrs.to;
  if (to !== undefined) reply.attrs.from = Jid.tryParse(to) ? to : (s.streamHost ?? s.deps.defaultHost);
  return reply;
}

function validIq(el: Element): boolean {
  const t = el.attrs.type;
  return el.attrs.id !== undefined && (t === 'get' || t === 'set' || t === 'result' || t === 'error');
}
