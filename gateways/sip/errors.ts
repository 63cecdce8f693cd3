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
// - Answers (sipAnswer): a code with the headers RFC 3261 requires of it — Contact for the new address of 301/302
//   (§21.3.2, §21.3.3), Allow for 405 (§21.4.6). 401 and 407 would need a challenge (WWW-Authenticate,
//   Proxy-Authenticate; §20.44, §20.27, §22.1) that the gateway cannot make meaningful: see sipAnswer.
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

/** What the gateway answers a SIP request that the XMPP side refused: status, Reason-Phrase and required headers. */
export interface SipAnswer {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly (readonly [string, string])[];
}

export interface AnswerContext {
  /** The refused request's method. */
  readonly method: string;
  /** The methods the gateway accepts for the address (RFC 3261 §20.5), for Allow. */
  readonly allow: readonly string[];
  /** A <gone/> or <redirect/> address (an XMPP URI) as a SIP URI for the Contact, or null when it has none. */
  contactFor(uri: string): string | null;
}

/** RFC 3261 §25.1 Reason-Phrase: printable text on one line; XMPP texts are shortened to keep responses small. */
function phrase(status: number, detail: string): string {
  const clean = detail
    .replace(/\p{Cc}+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const short = clean.length > 120 ? `${clean.slice(0, 119)}…` : clean;
  const base = REASONS[status] ?? 'Error';
  return short === '' ? base : `${base} (${short})`;
}

/**
 * The final response for an XMPP error (RFC 7247 §7.1), about a full JID (one resource) or a bare one, with the XMPP
 * condition and <text/> in the Reason-Phrase (RFC 7247 §7 maps them to each other). RFC 7247 §7 leaves room to deviate
 * from its tables "if needed", and two rows need it here:
 * - not-authorized (401) and registration-required (407): a 401 or 407 must carry a challenge (RFC 3261 §22.1 with
 *   RFC 2617: WWW-Authenticate, Proxy-Authenticate), and the UAC answers it by sending the request again with
 *   credentials. What refused the request is the XMPP side, though: the peer has already passed the gateway's own
 *   authentication (inbound_auth, or none to pass), so credentials for the gateway cannot change the answer, and a
 *   challenge would only bring the same request back. 403 says exactly that: "Authorization will not help, and the
 *   request SHOULD NOT be repeated" (RFC 3261 §21.4.4).
 * - 405 lists in Allow the methods still valid for the address: the gateway's, without the refused one (§21.4.6).
 * - <gone/> is 301 only with a new address the peer can use, given in Contact (note 3; §21.3.2), else 410;
 *   <redirect/> is 302 with its address in Contact when it has one (§21.3.3).
 */
export function sipAnswer(error: StanzaError, target: JidKind, ctx: AnswerContext): SipAnswer {
  const condition = error.condition;
  const contact = error.uri !== undefined ? ctx.contactFor(error.uri) : null;
  let status = xmppToSipStatus(condition, target, { goneNewAddress: condition === 'gone' && contact !== null });
  if (status === 401 || status === 407) status = 403;
  const headers: [string, string][] = [];
  if ((status === 301 || status === 302) && contact !== null) headers.push(['Contact', `<${contact}>`]);
  if (status === 405) {
    const others = ctx.allow.filter((m) => m.toUpperCase() !== ctx.method.toUpperCase());
    headers.push(['Allow', others.join(', ')]);
  }
  const detail = error.text !== undefined && error.text !== '' ? `${condition}: ${error.text}` : condition;
  return { status, reason: phrase(status, detail), headers };
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

/**
 * A SIP failure response as the stanza error the XMPP user sees, the SIP code and phrase kept as text. `newAddress`
 * is the XMPP URI of the address a 300, 301 or 302 names in its Contact: <gone/> carries it for 301 (Table 3 note 1,
 * RFC 6120 §8.3.3.5), <redirect/> for 300 and 302 (RFC 6120 §8.3.3.14). A 305's Contact is a proxy, not the peer's
 * address, and a 410 must not name one (note 1): neither carries it.
 */
export function sipFailure(status: number, reason?: string, newAddress?: string | null): StanzaError {
  const text = reason && reason.trim() !== '' ? reason.trim() : (REASONS[status] ?? '');
  const carries = status === 300 || status === 301 || status === 302;
  return new StanzaError(
    sipToXmppCondition(status),
    `SIP ${status} ${text}`.trim(),
    carries && newAddress ? { uri: newAddress } : {},
  );
}
