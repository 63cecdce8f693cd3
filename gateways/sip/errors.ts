// Error mapping between SIP response codes and XMPP stanza error conditions, both ways (RFC 7247 §7). Pure tables.
// Checked row by row against the published text of RFC 7247 (May 2014): §7.1 Table 2, §7.2 Table 3 and their notes.
// - XMPP → SIP (§7.1): some rows offer two codes. Which one follows from the JID the error is about (note 1:
//   feature-not-implemented; note 2: a 4xx code for a full JID, the 6xx "global failure" code for a bare JID) or from
//   what the error says (note 3: <gone/> with a new address is 301; note 4: a remote server that cannot be resolved
//   is 408, one that does not exist 404). <service-unavailable/> has no code of its own (note 5) and must not become
//   503: in SIP a 503 speaks for the whole server, so the peer would hold back every later request to the gateway,
//   for every user (RFC 3261 §21.5.4), while in XMPP the condition is routinely about one user or one feature, or hides
//   whether an account exists. The RFC names 403 and 405 as the nearest codes: 405 when the request's method is what
//   is not supported, 403 otherwise.
// - SIP → XMPP (§7.2): by code; a code the table does not list maps by its class (3xx redirect, 4xx bad-request,
//   5xx internal-server-error, 6xx recipient-unavailable). A SIP 503 becomes internal-server-error (note 9).
// Some codes need headers the caller adds (RFC 3261 §21.4): 401 WWW-Authenticate, 405 Allow, 407 Proxy-Authenticate.
import { StanzaError, type StanzaErrorCondition } from '../../server/errors/index.js';
import { REASONS } from './message.js';

/** Which XMPP address an error is about: decides between the 4xx and the 6xx code (RFC 7247 §7.1 notes 1, 2). */
export type JidKind = 'full' | 'bare';

interface SipCodes {
  readonly full: number;
  readonly bare: number;
}

const same = (code: number): SipCodes => ({ full: code, bare: code });
const pair = (full: number, bare: number): SipCodes => ({ full, bare });

/**
 * RFC 7247 §7.1 (Table 2): XMPP error condition → SIP response code, by JID kind. Where a row's choice depends on
 * something other than the JID kind, this is the default and `xmppToSipStatus`'s options pick the other code.
 */
export const XMPP_TO_SIP: Readonly<Record<StanzaErrorCondition, SipCodes>> = {
  'bad-request': same(400),
  conflict: same(400),
  'feature-not-implemented': pair(405, 501), // note 1
  forbidden: pair(403, 603), // note 2
  gone: same(410), // note 3: 301 when the <gone/> carries the new address
  'internal-server-error': same(500),
  'item-not-found': pair(404, 604), // note 2
  'jid-malformed': same(400),
  'not-acceptable': pair(406, 606), // note 2
  'not-allowed': same(403),
  'not-authorized': same(401),
  'policy-violation': same(403),
  'recipient-unavailable': pair(480, 600), // note 2
  redirect: same(302),
  'registration-required': same(407),
  'remote-server-not-found': same(404), // note 4: 408 when the server's name cannot be resolved
  'remote-server-timeout': same(408),
  'resource-constraint': same(500),
  'service-unavailable': same(403), // note 5: never 503; 405 when the method is what is unsupported
  'subscription-required': same(400),
  'undefined-condition': same(400),
  // The RFC allows 491 or 400. 491 Request Pending is about a request crossing another one in the same dialog, and
  // a UAC answers it to a re-INVITE by retrying after a random wait (RFC 3261 §14.1, §21.4.27): 400 fits the general
  // case of a request the recipient did not expect.
  'unexpected-request': same(400),
};

/** The choices in RFC 7247 §7.1 that do not follow from the JID kind. */
export interface XmppToSipOptions {
  /** Note 3: the <gone/> element names the entity's new address (301 Moved Permanently instead of 410 Gone). */
  goneNewAddress?: boolean;
  /** Note 4: the remote server's name could not be resolved, rather than not existing (408 instead of 404). */
  remoteServerUnresolved?: boolean;
  /** Note 5: <service-unavailable/> because the entity does not handle this kind of request at all (405, not 403). */
  methodUnsupported?: boolean;
}

/** The SIP response code for an XMPP error (RFC 7247 §7.1). */
export function xmppToSipStatus(
  condition: StanzaErrorCondition,
  target: JidKind = 'bare',
  opts: XmppToSipOptions = {},
): number {
  if (condition === 'gone' && opts.goneNewAddress) return 301;
  if (condition === 'remote-server-not-found' && opts.remoteServerUnresolved) return 408;
  if (condition === 'service-unavailable' && opts.methodUnsupported) return 405;
  return XMPP_TO_SIP[condition][target];
}

/** RFC 7247 §7.2 (Table 3): SIP response code → XMPP error condition, every code the table lists. */
export const SIP_TO_XMPP: Readonly<Record<number, StanzaErrorCondition>> = {
  300: 'redirect',
  301: 'gone', // note 1: the <gone/> should carry the new address (the Contact)
  302: 'redirect',
  305: 'redirect',
  380: 'not-acceptable',
  400: 'bad-request',
  401: 'not-authorized',
  402: 'bad-request', // note 2: XMPP's payment-required is gone (RFC 6120)
  403: 'forbidden',
  404: 'item-not-found',
  405: 'feature-not-implemented',
  406: 'not-acceptable',
  407: 'registration-required',
  408: 'remote-server-timeout',
  410: 'gone',
  413: 'policy-violation',
  414: 'policy-violation',
  415: 'not-acceptable',
  416: 'not-acceptable',
  420: 'feature-not-implemented',
  421: 'not-acceptable',
  423: 'resource-constraint',
  430: 'recipient-unavailable', // RFC 5626
  439: 'feature-not-implemented', // RFC 5626
  440: 'policy-violation', // RFC 5393
  480: 'recipient-unavailable',
  481: 'item-not-found',
  482: 'not-acceptable',
  483: 'not-acceptable',
  484: 'item-not-found',
  485: 'item-not-found',
  486: 'recipient-unavailable',
  487: 'recipient-unavailable',
  488: 'not-acceptable',
  489: 'policy-violation', // RFC 6665
  491: 'unexpected-request',
  493: 'bad-request',
  500: 'internal-server-error',
  501: 'feature-not-implemented',
  502: 'remote-server-not-found',
  503: 'internal-server-error', // note 9: not service-unavailable, the semantics differ (see above)
  504: 'remote-server-timeout',
  505: 'not-acceptable',
  513: 'policy-violation',
  600: 'recipient-unavailable',
  603: 'recipient-unavailable',
  604: 'item-not-found',
  606: 'not-acceptable',
};

/** RFC 7247 §7.2: a failure code the table does not list maps by its class (the 3xx/4xx/5xx/6xx rows). */
export const SIP_CLASS_TO_XMPP: Readonly<Record<3 | 4 | 5 | 6, StanzaErrorCondition>> = {
  3: 'redirect',
  4: 'bad-request',
  5: 'internal-server-error',
  6: 'recipient-unavailable',
};

/** The XMPP condition for a SIP failure response (300–699); anything else is undefined-condition. */
export function sipToXmppCondition(status: number): StanzaErrorCondition {
  const listed = SIP_TO_XMPP[status];
  if (listed) return listed;
  const cls = Math.floor(status / 100);
  return cls >= 3 && cls <= 6 ? SIP_CLASS_TO_XMPP[cls as 3 | 4 | 5 | 6] : 'undefined-condition';
}

/** A SIP failure response as the stanza error the XMPP user sees, the SIP code and phrase kept as text. */
export function sipFailure(status: number, reason?: string): StanzaError {
  const phrase = reason && reason.trim() !== '' ? reason.trim() : (REASONS[status] ?? '');
  return new StanzaError(sipToXmppCondition(status), `SIP ${status} ${phrase}`.trim());
}
