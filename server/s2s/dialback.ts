// Server Dialback (XEP-0220): key generation and the <db:result/> / <db:verify/> codec. Pure: no I/O.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StanzaErrorCondition } from '../errors/index.js';
import { type Element, xml } from '../xml/element.js';
import { NS } from '../xml/ns.js';

/** XEP-0220 §2.4.2: the stream feature announcing dialback with error handling. */
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';

/**
 * Generates and checks dialback keys as XEP-0185 recommends (XEP-0220 §2.1.1):
 * key = HEX( HMAC-SHA256( HEX(SHA256(secret)), receiving + ' ' + originating + ' ' + stream id ) ), the HMAC
 * key being the hex form of the hash, which is what reproduces the XEP's worked examples.
 * The secret is random per process: a restart only invalidates keys of streams still being verified.
 */
export class DialbackKeys {
  private readonly hashedSecret: string;

  constructor(secret: Buffer = randomBytes(32)) {
    this.hashedSecret = createHash('sha256').update(secret).digest('hex');
  }

  generate(receiving: string, originating: string, streamId: string): string {
    return createHmac('sha256', this.hashedSecret).update(`${receiving} ${originating} ${streamId}`).digest('hex');
  }

  /** XEP-0220 §2.2.2: the authoritative server recomputes the key; compared in constant time. */
  verify(receiving: string, originating: string, streamId: string, key: string): boolean {
    const expected = Buffer.from(this.generate(receiving, originating, streamId), 'utf8');
    const given = Buffer.from(key.trim(), 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export type DialbackKind = 'result' | 'verify';
export type DialbackType = 'valid' | 'invalid' | 'error';

export interface DialbackElement {
  kind: DialbackKind;
  from: string;
  to: string;
  /** <db:verify/> only: the stream ID the receiving server assigned. */
  id: string | undefined;
  /** Absent on requests; set on answers (XEP-0220 §2.2: requests on an inbound stream carry no type). */
  type: DialbackType | undefined;
  key: string;
  /** For type 'error': the stanza error condition inside <error/> (XEP-0220 §2.5). */
  condition: string | undefined;
}

/**
 * Decodes a dialback element whose namespace the caller resolved to jabber:server:dialback. Returns null when
 * a required attribute is missing or the type is unknown (XEP-0220 §6 schema: 'from' and 'to' required, 'id'
 * required on verify).
 */
export function parseDialback(el: Element, local: string): DialbackElement | null {
  if (local !== 'result' && local !== 'verify') return null;
  const { from, to, id, type } = el.attrs;
  if (!from || !to || (local === 'verify' && !id)) return null;
  if (type !== undefined && type !== 'valid' && type !== 'invalid' && type !== 'error') return null;
  const err = el.getChildElements().find((c) => c.name === 'error' || c.name.endsWith(':error'));
  const condition = err?.getChildElements().find((c) => c.attrs.xmlns === NS.STANZAS_ERR && c.name !== 'text')?.name;
  return { kind: local, from, to, id, type, key: el.getText().trim(), condition };
}

/** Builds a <db:result/> or <db:verify/> (XEP-0220 §2.1, §2.2), prefixed 'db' as declared on our headers. */
export function dialbackElement(
  kind: DialbackKind,
  attrs: { from: string; to: string; id?: string; type?: DialbackType },
  key?: string,
): Element {
  return xml(`db:${kind}`, { from: attrs.from, to: attrs.to, id: attrs.id, type: attrs.type }, key ?? null);
}

/** XEP-0220 §2.5: a dialback error answers a request with from/to swapped and a stanza error condition. */
export function dialbackError(
  request: Pick<DialbackElement, 'kind' | 'from' | 'to' | 'id'>,
  condition: StanzaErrorCondition,
  text?: string,
): Element {
  const type = condition === 'remote-server-timeout' ? 'wait' : 'cancel';
  return xml(
    `db:${request.kind}`,
    { from: request.to, to: request.from, id: request.id, type: 'error' },
    xml(
      'error',
      { type },
      xml(condition, { xmlns: NS.STANZAS_ERR }),
      text ? xml('text', { xmlns: NS.STANZAS_ERR, 'xml:lang': 'en' }, text) : null,
    ),
  );
}

/** The dialback feature with <errors/> (XEP-0220 §2.4.2). */
export function dialbackFeature(): Element {
  return xml('dialback', { xmlns: NS_DIALBACK_FEATURE }, xml('errors'));
}
