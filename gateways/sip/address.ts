// Addresses between SIP and XMPP.
// - RFC 7247 §6 (same-domain model, mode "domain"): `sip:user@domain;gr=res` ⇄ `user@domain/res`, the SIP user part
//   percent-decoded (RFC 3261 §19.1.2) and the GRUU `gr` parameter (RFC 5627) carrying the XMPP resource.
// - XEP-0100 §6.3 contacts on the gateway domain: the canonical legacy id `sip:alice@pbx.example` ⇄ the unescaped
//   localpart `alice@pbx.example`; the framework adds XEP-0106 escaping (`alice\40pbx.example@sip.example.com`).

import { escapeLocal, Jid, JidError, unescapeLocal } from '../../server/jid/index.js';
import type { AddressCodec, LegacyId } from '../core/driver.js';
import { parseNameAddr } from './syntax.js';
import { aorOf, formatSipUri, parseSipUri, type SipUri } from './uri.js';

/**
 * RFC 7247 §6.1: an XMPP address as a SIP URI; the resource becomes the GRUU `gr` parameter (RFC 5627 §3.1). XEP-0106
 * escapes in the localpart are undone first, so that the mapping is the inverse of sipUriToJid().
 */
export function jidToSipUri(jid: Jid): string {
  const params = new Map<string, string | null>();
  if (jid.resource !== null) params.set('gr', jid.resource);
  return formatSipUri({
    scheme: 'sip',
    ...(jid.local !== null ? { user: unescapeLocal(jid.local) } : {}),
    host: jid.domain,
    params,
  });
}

/**
 * RFC 7247 §6.2: a SIP URI as an XMPP address. The user part is percent-decoded; characters a localpart cannot hold
 * (RFC 7622 §3.3.1: `"&'/:<>@` and spaces) are escaped per XEP-0106; `gr` becomes the resource. Null when no
 * valid JID results (a `tel:` URI, a host that is no domainpart, a localpart that fails PRECIS).
 */
export function sipUriToJid(uri: string | SipUri): Jid | null {
  const u = typeof uri === 'string' ? parseSipUri(uri) : uri;
  if (!u || u.host.startsWith('[')) return null;
  try {
    const local = u.user === undefined ? null : escapeLocal(u.user);
    const gr = u.params.get('gr');
    return Jid.of(local, u.host.replace(/\.$/, ''), gr === undefined || gr === null || gr === '' ? null : gr);
  } catch (err) {
    if (err instanceof JidError) return null;
    throw err;
  }
}

/**
 * The canonical legacy id of a SIP contact: scheme, user and host[:port], plus `transport` when given (it decides
 * how to reach the contact); other parameters and headers are dropped. Null when `u` has no user part.
 */
export function canonicalId(u: SipUri): LegacyId | null {
  if (u.user === undefined) return null;
  const transport = u.params.get('transport');
  const base = aorOf(u);
  return transport ? `${base};transport=${transport.toLowerCase()}` : base;
}

/** Reads what a user typed or a header carried: `sip:a@b`, `<sip:a@b>`, `"Name" <sips:a@b>`, or bare `a@b`. */
export function parseContactInput(input: string): SipUri | null {
  let s = input.trim();
  if (s === '') return null;
  if (s.includes('<')) {
    const na = parseNameAddr(s);
    if (!na) return null;
    s = na.uri;
  }
  if (!/^sips?:/i.test(s)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(s)) return null; // another scheme (tel:, mailto:, xmpp:)
    s = `sip:${s}`;
  }
  const u = parseSipUri(s);
  return u && u.user !== undefined && u.user !== '' ? u : null;
}

/** The gateway's AddressCodec (XEP-0100 §6.3) for SIP contacts. */
export function sipAddressCodec(): AddressCodec {
  return {
    description: 'Enter the SIP address of the contact, e.g. sip:alice@pbx.example',
    prompt: 'SIP address',
    parse(input: string): LegacyId | null {
      const u = parseContactInput(input);
      return u ? canonicalId(u) : null;
    },
    toLocal(id: LegacyId): string {
      const u = parseSipUri(id);
      if (!u || u.user === undefined) return id;
      const transport = u.params.get('transport');
      // The user part decoded (a SIP `%20` is an XMPP space, escaped `\20` by XEP-0106 in the JID).
      const text = `${u.user}@${u.host}${u.port === undefined ? '' : `:${u.port}`}${transport ? `;transport=${transport}` : ''}`;
      return u.scheme === 'sips' ? `sips:${text}` : text;
    },
    fromLocal(local: string): LegacyId | null {
      const secure = local.startsWith('sips:');
      const text = secure ? local.slice(5) : local;
      const at = text.lastIndexOf('@');
      if (at <= 0 || at === text.length - 1) return null;
      const user = text.slice(0, at);
      const rest = text.slice(at + 1);
      // Re-encode the user part: it may hold characters that need escaping in a URI (§19.1.2).
      const semi = rest.indexOf(';');
      const hostport = semi < 0 ? rest : rest.slice(0, semi);
      const params = semi < 0 ? '' : rest.slice(semi);
      const probe = parseSipUri(`${secure ? 'sips' : 'sip'}:x@${hostport}${params}`);
      if (!probe) return null;
      return canonicalId({ ...probe, user });
    },
  };
}

/** The same-domain XMPP user a request addressed to `uri` is for (mode "domain"), or null. */
export function localUserFor(
  uri: SipUri,
  gatewayDomain: string,
  aliases: readonly string[],
  xmppDomain?: string,
): Jid | null {
  if (isGatewayHost(uri.host, gatewayDomain, aliases)) {
    if (!xmppDomain || uri.user === undefined) return null;
    return sipUriToJid({ ...uri, host: xmppDomain });
  }
  return sipUriToJid(uri);
}

/** Whether a Request-URI host names the gateway itself (its domain or a configured alias such as its address). */
export function isGatewayHost(host: string, gatewayDomain: string, aliases: readonly string[]): boolean {
  const h = host.replace(/\.$/, '');
  return h === gatewayDomain || aliases.includes(h);
}

/**
 * RFC 5122 §2: an XMPP address as an `xmpp:` URI. Localpart and resourcepart are percent-encoded as UTF-8, so the
 * backslash of a XEP-0106 escape becomes `%5C` (`xmpp:bob%5C40pbx.example@sip.example.com`).
 */
export function xmppUri(jid: Jid): string {
  const local = jid.local !== null ? `${encodeURIComponent(jid.local)}@` : '';
  const resource = jid.resource !== null ? `/${encodeURIComponent(jid.resource)}` : '';
  return `xmpp:${local}${jid.domain}${resource}`;
}

/** RFC 5122 §2: the address an `xmpp:` URI (or IRI) names, without authority, query or fragment; null if none. */
export function parseXmppUri(text: string): Jid | null {
  const m = /^xmpp:(?:\/\/[^/?#]*\/)?([^?#]+)/i.exec(text.trim());
  if (!m?.[1]) return null;
  const path = m[1];
  const slash = path.indexOf('/');
  const address = slash < 0 ? path : path.slice(0, slash);
  const at = address.indexOf('@');
  try {
    const local = at < 0 ? null : decodeURIComponent(address.slice(0, at));
    const domain = decodeURIComponent(at < 0 ? address : address.slice(at + 1));
    const resource = slash < 0 ? null : decodeURIComponent(path.slice(slash + 1));
    return Jid.of(local, domain, resource);
  } catch (err) {
    if (err instanceof JidError || err instanceof URIError) return null;
    throw err;
  }
}

/** The two address spaces a redirect can point into: the gateway's own names and its contact JIDs. */
export interface RedirectSpace {
  /** The gateway domain, where contact JIDs live (XEP-0100 §6.3). */
  readonly gatewayDomain: string;
  readonly aliases: readonly string[];
  /** Mode `domain`: the XMPP domain whose users are `sip:user@<gateway host>` (RFC 7247 §6). */
  readonly xmppDomain?: string;
  /** Legacy id ⇄ contact JID (the framework's AddressMapper with the SIP codec). */
  contactJid(id: LegacyId): Jid | null;
  contactId(jid: Jid): LegacyId | null;
}

/**
 * RFC 7247 Table 3 note 1: the SIP URI a 3xx response's Contact names, as the XMPP URI a <gone/> or <redirect/>
 * carries: an XMPP user's own address when the URI is one of the gateway's same-domain addresses (RFC 7247 §6.2),
 * otherwise the contact JID on the gateway domain through which the XMPP user reaches that SIP address.
 */
export function redirectToXmpp(contact: string, space: RedirectSpace): string | null {
  const u = parseContactInput(contact);
  if (!u) return null;
  const xd = space.xmppDomain;
  if (xd !== undefined && (u.host === xd || isGatewayHost(u.host, space.gatewayDomain, space.aliases))) {
    const jid = localUserFor(u, space.gatewayDomain, space.aliases, space.xmppDomain);
    return jid ? xmppUri(jid) : null;
  }
  const id = canonicalId(u);
  const jid = id === null ? null : space.contactJid(id);
  return jid ? xmppUri(jid) : null;
}

/**
 * The other way (RFC 7247 Table 2 note 3): the XMPP URI of a <gone/> or <redirect/> as the SIP URI for a Contact: a
 * contact JID on the gateway domain is its SIP address; any other JID its RFC 7247 §6.1 SIP form.
 */
export function redirectToSip(uri: string, space: RedirectSpace): string | null {
  const jid = parseXmppUri(uri);
  if (!jid) return null;
  if (jid.domain === space.gatewayDomain) return jid.local === null ? null : space.contactId(jid);
  return jid.local === null ? null : jidToSipUri(jid);
}
