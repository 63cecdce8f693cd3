// Dialogs created by SUBSCRIBE/NOTIFY (RFC 6665 §4.1.2.4, §4.2.1.1, RFC 3261 §12): their identifiers, route set,
// remote target and sequence numbers, and the requests sent inside them (§12.2.1.1). Also the Subscription-State
// and Event header grammar of RFC 6665 §8.2.
import type { RequestSpec } from './endpoint.js';
import type { SipRequest, SipResponse } from './message.js';
import { parseCSeq, parseDelta, parseNameAddr, parseParams } from './syntax.js';

export interface Dialog {
  readonly callId: string;
  readonly localTag: string;
  remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  /** The Contact of the peer: the Request-URI of requests in the dialog (RFC 3261 §12.2.1.1). */
  remoteTarget: string;
  /** Route header values for requests in the dialog (loose routing assumed, RFC 3261 §16.12). */
  routeSet: string[];
  localSeq: number;
  /** The last CSeq received from the peer (RFC 3261 §12.2.2: lower ones are out of order); null before any. */
  remoteSeq: number | null;
}

/** RFC 3261 §12: Call-ID plus the two tags identify a dialog; stored from the gateway's point of view. */
export const dialogKey = (callId: string, localTag: string, remoteTag: string) => `${callId}|${localTag}|${remoteTag}`;

/** The key of the dialog an inbound request belongs to: its To tag is ours, its From tag the peer's. */
export function inboundKey(req: SipRequest): string | null {
  const to = parseNameAddr(req.headers.get('To') ?? '')?.params.get('tag');
  const from = parseNameAddr(req.headers.get('From') ?? '')?.params.get('tag');
  const callId = req.headers.get('Call-ID');
  if (!to || !from || !callId) return null;
  return dialogKey(callId, to, from);
}

const contactUri = (value: string | undefined): string | null => {
  const na = value ? parseNameAddr(value) : null;
  return na ? na.uri : null;
};

/**
 * The subscriber's dialog (RFC 3261 §12.1.2) from the SUBSCRIBE it sent and the 2xx or the NOTIFY that created the
 * dialog (RFC 6665 §4.1.2.4: a NOTIFY may arrive before the 2xx). `spec` is what the SUBSCRIBE was built from.
 */
export function subscriberDialog(
  spec: Pick<RequestSpec, 'callId' | 'from' | 'to' | 'uri'>,
  seq: number,
  peer: SipResponse | SipRequest,
): Dialog | null {
  const isResponse = peer.kind === 'response';
  const tag = parseNameAddr(peer.headers.get(isResponse ? 'To' : 'From') ?? '')?.params.get('tag');
  if (!tag) return null;
  const rr = peer.headers.all('Record-Route');
  return {
    callId: spec.callId,
    localTag: spec.from.tag,
    remoteTag: tag,
    localUri: spec.from.uri,
    remoteUri: spec.to.uri,
    remoteTarget: contactUri(peer.headers.get('Contact')) ?? spec.uri,
    // §12.1.2: the UAC reverses the Record-Route of the response; a NOTIFY's Record-Route is already in order.
    routeSet: isResponse ? [...rr].reverse() : rr,
    localSeq: seq,
    remoteSeq: isResponse ? null : (parseCSeq(peer.headers.get('CSeq') ?? '')?.seq ?? null),
  };
}

/** The notifier's dialog (RFC 3261 §12.1.1) from a SUBSCRIBE received and the To tag the gateway chose. */
export function notifierDialog(req: SipRequest, localTag: string, localSeq: number): Dialog | null {
  const from = parseNameAddr(req.headers.get('From') ?? '');
  const to = parseNameAddr(req.headers.get('To') ?? '');
  const remoteTag = from?.params.get('tag');
  const target = contactUri(req.headers.get('Contact'));
  const callId = req.headers.get('Call-ID');
  if (!from || !to || !remoteTag || !target || !callId) return null;
  return {
    callId,
    localTag,
    remoteTag,
    localUri: to.uri,
    remoteUri: from.uri,
    remoteTarget: target,
    routeSet: req.headers.all('Record-Route'),
    localSeq,
    remoteSeq: parseCSeq(req.headers.get('CSeq') ?? '')?.seq ?? null,
  };
}

/** RFC 3261 §12.2.2: accepts an in-dialog request's CSeq (and remembers it) unless it is out of order. */
export function acceptRemoteSeq(d: Dialog, req: SipRequest): boolean {
  const seq = parseCSeq(req.headers.get('CSeq') ?? '')?.seq;
  if (seq === undefined) return false;
  if (d.remoteSeq !== null && seq < d.remoteSeq) return false;
  d.remoteSeq = seq;
  return true;
}

/** A request inside the dialog (RFC 3261 §12.2.1.1): Request-URI = remote target, tags, route set, next CSeq. */
export function inDialog(
  d: Dialog,
  method: string,
  extra: {
    headers?: readonly (readonly [string, string])[];
    body?: Buffer;
    contentType?: string;
    contact?: string;
  } = {},
): RequestSpec {
  return {
    method,
    uri: d.remoteTarget,
    from: { uri: d.localUri, tag: d.localTag },
    to: { uri: d.remoteUri, tag: d.remoteTag },
    callId: d.callId,
    nextSeq: () => ++d.localSeq,
    route: d.routeSet,
    ...(extra.headers ? { headers: extra.headers } : {}),
    ...(extra.body ? { body: extra.body } : {}),
    ...(extra.contentType ? { contentType: extra.contentType } : {}),
    ...(extra.contact ? { contact: extra.contact } : {}),
  };
}

/** RFC 6665 §8.2.3 Subscription-State: `active;expires=600`, `terminated;reason=timeout;retry-after=30`. */
export interface SubscriptionState {
  readonly state: 'active' | 'pending' | 'terminated' | string;
  readonly expires?: number;
  readonly reason?: string;
  readonly retryAfter?: number;
}

export function parseSubscriptionState(value: string | undefined): SubscriptionState | null {
  if (!value) return null;
  const semi = value.indexOf(';');
  const state = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = parseParams(semi < 0 ? '' : value.slice(semi));
  if (!state || !params) return null;
  const expires = parseDelta(params.get('expires') ?? undefined);
  const retry = parseDelta(params.get('retry-after') ?? undefined);
  const reason = params.get('reason');
  return {
    state,
    ...(expires !== null ? { expires } : {}),
    ...(reason ? { reason: reason.toLowerCase() } : {}),
    ...(retry !== null ? { retryAfter: retry } : {}),
  };
}

export function formatSubscriptionState(s: SubscriptionState): string {
  let out = s.state;
  if (s.expires !== undefined) out += `;expires=${s.expires}`;
  if (s.reason !== undefined) out += `;reason=${s.reason}`;
  if (s.retryAfter !== undefined) out += `;retry-after=${s.retryAfter}`;
  return out;
}

/** RFC 6665 §8.2.1 Event: the package name (lowercased) and its `id` parameter. */
export function parseEvent(value: string | undefined): { pkg: string; id?: string } | null {
  if (!value) return null;
  const semi = value.indexOf(';');
  const pkg = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = parseParams(semi < 0 ? '' : value.slice(semi));
  if (!pkg || !params) return null;
  const id = params.get('id');
  return id ? { pkg, id } : { pkg };
}
