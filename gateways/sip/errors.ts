// Error mapping between SIP response codes and XMPP stanza error conditions, both ways (RFC 7247 §7). Pure tables.
// - XMPP → SIP (§7.1): where the RFC offers a 4xx and a 6xx code, the 4xx one is for an error about a full JID
//   (one resource failed) and the 6xx one for a bare JID (the user as a whole: a global failure, RFC 3261 §21.6).
//   <service-unavailable/> never becomes 503: in SIP a 503 says the whole server is down and makes the peer
//   fail over or back off (RFC 3261 §21.5.4); it becomes 403, or 405 when the method is what is unsupported.
// - SIP → XMPP (§7.2): by code, and an unknown code by its class (RFC 3261 §8.1.3.2: treat it as x00).
import { StanzaError, type StanzaErrorCondition } from '../../server/errors/index.js';
import { REASONS } from './message.js';

/** Which XMPP address an error is about: decides between the 4xx and the 6xx code (RFC 7247 §7.1). */
export type JidKind = 'full' | 'bare';

interface SipCodes {
  readonly full: number;
  readonly bare: number;
}

const same = (code: number): SipCodes => ({ full: code, bare: code });
const pair = (full: number, bare: number): SipCodes => ({ full, bare });

/** RFC 7247 §7.1: XMPP error condition → SIP response code. */
export const XMPP_TO_SIP: Readonly<Record<StanzaErrorCondition, SipCodes>> = {
  'bad-request': same(400),
  conflict: same(400),
  'feature-not-implemented': same(501),
  forbidden: pair(403, 603),
  gone: same(410),
  'internal-server-error': same(500),
  'item-not-found': pair(404, 604),
  'jid-malformed': same(400),
  'not-acceptable': pair(406, 606),
  'not-allowed': same(405),
  'not-authorized': same(401),
  'policy-violation': pair(403, 603),
  'recipient-unavailable': pair(480, 600),
  redirect: same(302),
  'registration-required': same(400),
  'remote-server-not-found': pair(404, 604),
  'remote-server-timeout': same(408),
  'resource-constraint': same(500),
  // Not 503 (RFC 7247 §7.1, see above).
  'service-unavailable': same(403),
  'subscription-required': same(400),
  'undefined-condition': same(400),
  'unexpected-request': same(400),
};

/**
 * The SIP response code for an XMPP error. `methodUnsupported`: the error says the entity does not handle this
 * kind of request at all (405 Method Not Allowed for <feature-not-implemented/> and <service-unavailable/>).
 */
export function xmppToSipStatus(
  condition: StanzaErrorCondition,
  target: JidKind = 'bare',
  opts: { methodUnsupported?: boolean } = {},
): number {
  if (opts.methodUnsupported && (condition === 'feature-not-implemented' || condition === 'service-unavailable')) {
    return 405;
  }
  return XMPP_TO_SIP[condition][target];
}

/** RFC 7247 §7.2: SIP response code → XMPP error condition. */
export const SIP_TO_XMPP: Readonly<Record<number, StanzaErrorCondition>> = {
  300: 'redirect',
  301: 'gone',
  302: 'redirect',
  305: 'redirect',
  380: 'redirect',
  400: 'bad-request',
  401: 'not-authorized',
  402: 'bad-request',
  403: 'forbidden',
  404: 'item-not-found',
  405: 'feature-not-implemented',
  406: 'not-acceptable',
  407: 'registration-required',
  408: 'remote-server-timeout',
  410: 'gone',
  412: 'bad-request',
  413: 'policy-violation',
  414: 'jid-malformed',
  415: 'bad-request',
  416: 'jid-malformed',
  417: 'bad-request',
  420: 'bad-request',
  421: 'bad-request',
  423: 'bad-request',
  428: 'not-authorized',
  429: 'bad-request',
  433: 'not-authorized',
  436: 'not-authorized',
  437: 'not-authorized',
  438: 'not-authorized',
  470: 'forbidden',
  480: 'recipient-unavailable',
  481: 'item-not-found',
  482: 'not-acceptable',
  483: 'not-acceptable',
  484: 'item-not-found',
  485: 'item-not-found',
  486: 'recipient-unavailable',
  487: 'recipient-unavailable',
  488: 'not-acceptable',
  489: 'policy-violation',
  491: 'unexpected-request',
  493: 'bad-request',
  494: 'not-authorized',
  500: 'internal-server-error',
  501: 'feature-not-implemented',
  502: 'remote-server-not-found',
  503: 'service-unavailable',
  504: 'remote-server-timeout',
  505: 'not-acceptable',
  513: 'policy-violation',
  580: 'not-acceptable',
  600: 'service-unavailable',
  603: 'service-unavailable',
  604: 'item-not-found',
  606: 'not-acceptable',
};

/** The XMPP condition for a SIP failure response (≥ 300); unknown codes map as their class's x00. */
export function sipToXmppCondition(status: number): StanzaErrorCondition {
  return SIP_TO_XMPP[status] ?? SIP_TO_XMPP[Math.floor(status / 100) * 100] ?? 'undefined-condition';
}

/** A SIP failure response as the stanza error the XMPP user sees, the SIP code and phrase kept as text. */
export function sipFailure(status: number, reason?: string): StanzaError {
  const phrase = reason && reason.trim() !== '' ? reason.trim() : (REASONS[status] ?? '');
  return new StanzaError(sipToXmppCondition(status), `SIP ${status} ${phrase}`.trim());
}
