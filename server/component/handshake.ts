// XEP-0114 §3 handshake and stream header checks: pure functions, no I/O.
import { createHash, timingSafeEqual } from 'node:crypto';
import { StreamError } from '../errors/index.js';
import { JidError, prepareDomainpart } from '../jid/index.js';
import { NS } from '../xml/ns.js';

/**
 * XEP-0114 §3: the handshake is SHA-1 over the stream id concatenated with the shared secret (UTF-8), written as
 * lowercase hexadecimal.
 */
export function handshakeDigest(streamId: string, secret: string): string {
  return createHash('sha1')
    .update(streamId + secret, 'utf8')
    .digest('hex');
}

/**
 * Compares the component's <handshake/> character data with the expected digest in constant time. Hex case is
 * not significant: XEP-0114 §3 asks the component for lowercase, and a digest in uppercase proves the same secret.
 */
export function verifyHandshake(streamId: string, secret: string, received: string): boolean {
  const expected = Buffer.from(handshakeDigest(streamId, secret), 'latin1');
  const given = Buffer.from(received.trim().toLowerCase(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type HeaderCheck = { domain: string } | { error: StreamError };

/**
 * Checks a component's stream header (XEP-0114 §3, RFC 6120 §4.7): the stream namespace, the content namespace
 * 'jabber:component:accept' and a 'to' naming a configured component domain. `known` tells whether a prepared
 * domain is configured.
 */
export function checkComponentHeader(
  name: string,
  attrs: Record<string, string>,
  known: (domain: string) => boolean,
): HeaderCheck {
  const colon = name.indexOf(':');
  const prefix = colon >= 0 ? name.slice(0, colon) : '';
  const local = colon >= 0 ? name.slice(colon + 1) : name;
  const streamNs = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  let domain: string | null = null;
  try {
    domain = attrs.to ? prepareDomainpart(attrs.to) : null;
  } catch (err) {
    if (!(err instanceof JidError)) throw err;
  }
  if (local !== 'stream' || streamNs !== NS.STREAM) {
    return { error: new StreamError('invalid-namespace', 'not an XMPP stream') };
  }
  // XEP-0114 §3: a stream in another namespace than jabber:component:accept is refused with invalid-namespace.
  if (attrs.xmlns !== NS.COMPONENT) {
    return { error: new StreamError('invalid-namespace', `content namespace must be ${NS.COMPONENT}`) };
  }
  // XEP-0114 §3: 'to' is the component's name; a name the server does not serve gets host-unknown.
  if (!domain || !known(domain)) {
    const text = attrs.to ? `no component is configured for ${attrs.to}` : "the stream header has no 'to'";
    return { error: new StreamError('host-unknown', text) };
  }
  return { domain };
}
