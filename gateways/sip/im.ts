// Instant messages between XMPP and SIP MESSAGE (RFC 3428, mapped per RFC 7572 §4 and §5). Pure.
// - body ⇄ a text/plain;charset=UTF-8 body (RFC 7572 §4: the gateway sends text/plain)
// - `<subject/>` ⇄ the Subject header (RFC 3261 §20.36), `xml:lang` ⇄ Content-Language (RFC 3261 §20.13)
// - `<thread/>` ⇄ Call-ID (RFC 7572 §4: messages of one thread share a Call-ID)
// - SIP → XMPP messages carry no type (RFC 7572 §5: `normal`, the default of RFC 6121 §5.2.2)
// - over UDP a MESSAGE must stay under 1300 bytes (RFC 3428 §4 via RFC 3261 §18.1.1): longer bodies go over a
//   congestion-controlled transport, or are split when there is none.
import { FORBIDDEN_CHAR } from '../../server/xml/chars.js';
import type { LegacyMessage } from '../core/driver.js';
import { decodeText, type SipHeaders } from './message.js';

/** RFC 3261 §18.1.1 / RFC 3428 §4: the largest request the gateway sends over UDP. */
export const UDP_MESSAGE_LIMIT = 1300;

/** XML 1.0 §2.2 Char: what an XMPP body cannot carry (a fatal UTF-8 decoder never yields lone surrogates). */
const NOT_XML_CHAR = new RegExp(FORBIDDEN_CHAR.source, 'g');

/** RFC 5646 language tag (loose form check): what Content-Language and xml:lang may carry. */
const LANG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

export interface OutgoingIm {
  readonly body: Buffer;
  readonly contentType: string;
  readonly subject?: string;
  readonly language?: string;
  /** The Call-ID to use: the thread, when the XMPP message has one that is a valid Call-ID. */
  readonly callId?: string;
}

/** RFC 3261 §25.1 Call-ID: word ["@" word]. */
const CALL_ID = /^[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+(?:@[A-Za-z0-9\-.!%*_+`'~()<>:\\"/[\]?{}]+)?$/;

/** XMPP message → the parts of a SIP MESSAGE. */
export function toSipIm(m: LegacyMessage): OutgoingIm {
  const lang = m.lang !== undefined && LANG.test(m.lang) ? m.lang : undefined;
  const thread = m.thread !== undefined && m.thread.length <= 128 && CALL_ID.test(m.thread) ? m.thread : undefined;
  return {
    body: Buffer.from(m.body, 'utf8'),
    contentType: 'text/plain;charset=UTF-8',
    ...(m.subject !== undefined && m.subject !== '' ? { subject: m.subject.replace(/[\r\n]+/g, ' ') } : {}),
    ...(lang !== undefined ? { language: lang } : {}),
    ...(thread !== undefined ? { callId: thread } : {}),
  };
}

export type IncomingIm =
  | { readonly ok: true; readonly message: LegacyMessage }
  /** A MESSAGE without text to show (RFC 3994 isComposing): accept it, deliver nothing. */
  | { readonly ok: true; readonly message: null }
  | { readonly ok: false; readonly status: 400 | 415; readonly reason: string };

/** The media type and charset of a Content-Type value (RFC 3261 §20.15), lowercased. */
export function mediaType(value: string | undefined): { type: string; charset?: string } {
  if (value === undefined) return { type: 'text/plain' };
  const [type = '', ...params] = value.split(';');
  const charset = params
    .map((p) => p.trim().toLowerCase())
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replace(/^"|"$/g, '');
  return { type: type.trim().toLowerCase(), ...(charset !== undefined ? { charset } : {}) };
}

/** SIP MESSAGE → XMPP message (RFC 7572 §5). `headers` are the request's; `body` its bytes. */
export function fromSipIm(headers: SipHeaders, body: Buffer): IncomingIm {
  const { type, charset } = mediaType(headers.get('Content-Type'));
  if (type === 'application/im-iscomposing+xml') return { ok: true, message: null };
  if (type !== 'text/plain') return { ok: false, status: 415, reason: `unsupported body type ${type}` };
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'us-ascii') {
    return { ok: false, status: 415, reason: `unsupported charset ${charset}` };
  }
  const text = decodeText(body);
  if (text === null) return { ok: false, status: 400, reason: 'the body is not valid UTF-8' };
  const clean = text.replace(NOT_XML_CHAR, '\uFFFD');
  const subject = headers.get('Subject');
  const lang = headers.get('Content-Language')?.split(',')[0]?.trim();
  const callId = headers.get('Call-ID');
  return {
    ok: true,
    message: {
      body: clean,
      type: 'normal',
      ...(subject !== undefined && subject !== '' ? { subject: subject.replace(NOT_XML_CHAR, '') } : {}),
      ...(lang !== undefined && LANG.test(lang) ? { lang } : {}),
      ...(callId !== undefined ? { thread: callId.replace(NOT_XML_CHAR, '') } : {}),
    },
  };
}

/**
 * Splits UTF-8 text into pieces of at most `maxBytes` bytes, at code point boundaries and, where possible, after a
 * line break or a space, for a MESSAGE that must stay under the UDP limit when no stream transport reaches the peer.
 */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new RangeError('maxBytes must hold one code point');
  const out: string[] = [];
  let rest = text;
  while (Buffer.byteLength(rest, 'utf8') > maxBytes) {
    let cut = 0;
    let bytes = 0;
    for (const ch of rest) {
      const n = Buffer.byteLength(ch, 'utf8');
      if (bytes + n > maxBytes) break;
      bytes += n;
      cut += ch.length;
    }
    const window = rest.slice(0, cut);
    const soft = Math.max(window.lastIndexOf('\n'), window.lastIndexOf(' '));
    const at = soft > cut / 2 ? soft + 1 : cut;
    out.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  if (rest !== '' || out.length === 0) out.push(rest);
  return out;
}
