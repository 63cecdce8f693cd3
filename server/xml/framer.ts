// Streaming XML framer: raw socket bytes in, stream header / depth-1 elements / stream close out.
// Hand-written and strict, because this is the first code that touches untrusted input (DESIGN §4): the
// restricted XML profile of RFC 6120 §11.1 (no comments, PIs, DTDs or entity references beyond the five
// predefined ones), UTF-8 only (RFC 6120 §11.6), and size/depth/attribute limits applied while bytes arrive.
// Scanning uses indexOf/charCodeAt over a decoded string and slices only at token boundaries.
import { isAscii } from 'node:buffer';
import type { StreamErrorCondition } from '../errors/index.js';
import { Element } from './element.js';

export interface FramerLimits {
  /** Largest depth-1 element, in bytes as received. */
  maxStanzaBytes: number;
  /** Deepest nesting inside a stanza; the depth-1 element itself is depth 1. */
  maxDepth: number;
  /** Most attributes on one element (the stream header included). */
  maxAttributes: number;
  /** Largest stream header (XML declaration included), in bytes; default 8192. */
  maxHeaderBytes?: number;
}

export interface FramerHandler {
  /** The stream header's opening tag, name as written (e.g. `stream:stream`). */
  streamOpen(name: string, attrs: Record<string, string>): void;
  /** Each complete depth-1 element (stanza or stream-level element such as `stream:features`). */
  stanza(el: Element): void;
  /** The closing tag of the stream header. */
  streamClose(): void;
  /** Fatal: the framer ignores further input until reset(). */
  error(condition: StreamErrorCondition, text: string): void;
}

const NEED = -1; // token incomplete: wait for more bytes
const PROLOG = 0;
const STREAM = 1;
const DONE = 2;
const PEND_NONE = 0;
const PEND_TAG = 1; // start or end tag: ends at a '>' outside quotes
const PEND_DECL = 2; // XML declaration: ends at '?>'
const MAX_REF = 32; // longest accepted reference name ('#x10FFFF' is 8); see resolveRef

const TAB = 9;
const LF = 10;
const CR = 13;
const SP = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const SQUOTE = 39;
const DASH = 45;
const SLASH = 47;
const LT = 60;
const EQ = 61;
const GT = 62;
const QMARK = 63;
const LBRACKET = 91;

// XML 1.0 §2.2 Char: C0 controls other than TAB/LF/CR and U+FFFE/U+FFFF never appear, not even escaped.
// Lone surrogates cannot come out of a fatal UTF-8 decoder; character references are checked in resolveRef.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the characters XML 1.0 §2.2 forbids
const FORBIDDEN_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
// XML 1.0 §2.8 XMLDecl; RFC 6120 §11.6 then requires the encoding, if named, to be UTF-8.
const XML_DECL =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['"])1\.[0-9]+\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['"])([A-Za-z][\w.-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['"])(?:yes|no)\4)?[ \t\r\n]*\?>$/;

// XML 1.0 §2.3 NameStartChar / NameChar: ASCII through a table (1 = start and body, 2 = body only).
const NAME_ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 58 || c === 95) NAME_ASCII[c] = 1;
  else if ((c >= 48 && c <= 57) || c === DASH || c === 46) NAME_ASCII[c] = 2;
}

function isNameStart(c: number): boolean {
  if (c < 128) return NAME_ASCII[c] === 1;
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd) ||
    (c >= 0xd800 && c <= 0xdb7f) // high surrogate of U+10000–U+EFFFF; its low half is a NameChar below
  );
}

function isNameChar(c: number): boolean {
  if (c < 128) return NAME_ASCII[c] !== 0;
  return (
    isNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040 || (c >= 0xdc00 && c <= 0xdfff)
  );
}

function isName(s: string): boolean {
  if (s.length === 0 || !isNameStart(s.charCodeAt(0))) return false;
  for (let i = 1; i < s.length; i++) if (!isNameChar(s.charCodeAt(i))) return false;
  return true;
}

function scanName(s: string, i: number, len: number): number {
  while (i < len && isNameChar(s.charCodeAt(i))) i++;
  return i;
}

function isWs(c: number): boolean {
  return c === SP || c === LF || c === TAB || c === CR;
}

function skipWs(s: string, i: number, len: number): number {
  while (i < len && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** XML 1.0 §2.2 Char. */
function isXmlChar(cp: number): boolean {
  return (
    cp === TAB ||
    cp === LF ||
    cp === CR ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** Thrown inside the scanner, turned into handler.error() by write(). */
class XmlFault extends Error {
  readonly condition: StreamErrorCondition;
  constructor(condition: StreamErrorCondition, message: string) {
    super(message);
    this.condition = condition;
  }
}

const malformed = (message: string) => new XmlFault('not-well-formed', message);

/** Namespaces in XML 1.0 §3 QName: at most one colon, with a prefix and an NCName local part. */
function checkQName(name: string): void {
  const colon = name.indexOf(':');
  if (colon === -1) return;
  if (colon === 0 || name.indexOf(':', colon + 1) !== -1 || !isNameStart(name.charCodeAt(colon + 1))) {
    throw malformed('invalid qualified name');
  }
}

function resolveRef(name: string): string {
  switch (name) {
    case 'lt':
      return '<';
    case 'gt':
      return '>';
    case 'amp':
      return '&';
    case 'quot':
      return '"';
    case 'apos':
      return "'";
  }
  // Longer names are refused so that an unterminated '&' cannot hold text back indefinitely; only a
  // zero-padded character reference could legally be longer.
  if (name.length > MAX_REF) throw malformed('reference too long');
  if (name.charCodeAt(0) === HASH) {
    // XML 1.0 §4.1 CharRef: '&#' [0-9]+ ';' | '&#x' [0-9a-fA-F]+ ';', naming a legal Char (WFC: Legal Character).
    const hex = name.charCodeAt(1) === 120;
    const digits = name.slice(hex ? 2 : 1);
    if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) throw malformed('malformed character reference');
    const cp = Number.parseInt(digits, hex ? 16 : 10);
    if (!isXmlChar(cp)) throw malformed('character reference to a character not allowed in XML');
    return String.fromCodePoint(cp);
  }
  // RFC 6120 §11.1: no DTD may declare entities, so any other named reference is undefined.
  if (isName(name)) throw new XmlFault('restricted-xml', `undefined entity '&${name};'`);
  throw malformed("'&' must start an entity or character reference");
}

function decodeRefs(s: string): string {
  let amp = s.indexOf('&');
  if (amp === -1) return s;
  let out = '';
  let last = 0;
  do {
    const semi = s.indexOf(';', amp + 1);
    if (semi === -1) throw malformed("'&' must start an entity or character reference");
    out += s.slice(last, amp) + resolveRef(s.slice(amp + 1, semi));
    last = semi + 1;
    amp = s.indexOf('&', last);
  } while (amp !== -1);
  return out + s.slice(last);
}

/** XML 1.0 §2.11: CR LF and lone CR become LF (before references are expanded, so '&#13;' survives). */
function normalizeEol(s: string): string {
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}

function decodeText(raw: string): string {
  // XML 1.0 §2.4: ']]>' may not appear in character data.
  if (raw.indexOf(']]>') !== -1) throw malformed("']]>' in character data");
  return decodeRefs(normalizeEol(raw));
}

function decodeAttr(raw: string): string {
  // XML 1.0 §3.1 WFC: No < in Attribute Values; §3.3.3 normalizes literal whitespace to spaces.
  if (raw.indexOf('<') !== -1) throw malformed("'<' in attribute value");
  const s = /[\t\n\r]/.test(raw) ? raw.replace(/\r\n|[\t\n\r]/g, ' ') : raw;
  return decodeRefs(s);
}

export class XmlFramer {
  private readonly maxStanza: number;
  private readonly maxDepth: number;
  private readonly maxAttrs: number;
  private readonly maxHeader: number;
  private readonly handler: FramerHandler;
  private decoder = new TextDecoder('utf-8', { fatal: true });
  private generation = 0; // bumped by reset(), so a handler that resets mid-write stops the old scan
  private phase = PROLOG;
  private declAllowed = true;
  private rootName = '';
  private buf = '';
  private pos = 0;
  private bufAscii = true; // every char of buf is ASCII, so string offsets are byte offsets
  private readonly stack: Element[] = [];
  private inCdata = false;
  // Byte accounting for the unit being received (the header, or one depth-0 element or end tag):
  // unitBytes holds the exact size of buf[unit start .. countIdx).
  private unitActive = false;
  private unitBytes = 0;
  private unitLimit = 0;
  private countIdx = 0;
  // A tag or declaration cut by a chunk boundary: later chunks are only searched for its end and set
  // aside, so a slow sender cannot make each chunk re-scan and re-copy a growing buffer.
  private needKind = PEND_NONE;
  private pendParts: string[] = [];
  private pendState = 0; // open quote of a pending tag, or last char of a pending declaration
  // Results of scanTag, kept here rather than in an object per tag.
  private tagName = '';
  private tagAttrs: Record<string, string> = {};
  private tagEmpty = false;

  constructor(limits: FramerLimits, handler: FramerHandler) {
    this.maxStanza = limits.maxStanzaBytes;
    this.maxDepth = limits.maxDepth;
    this.maxAttrs = limits.maxAttributes;
    this.maxHeader = limits.maxHeaderBytes ?? 8192;
    this.handler = handler;
    this.reset();
  }

  /** Feeds raw bytes from the transport. */
  write(chunk: Buffer): void {
    if (this.phase === DONE) return;
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      // RFC 6120 §11.6 and §4.9.3.22: a fatal decoder throws on any invalid or overlong sequence.
      this.fail('unsupported-encoding', 'invalid UTF-8');
      return;
    }
    if (text.length === 0) return;
    if (FORBIDDEN_CHAR.test(text)) return this.fail('not-well-formed', 'character not allowed in XML');
    // A chunk that continues a split multibyte sequence is never ASCII, so this is exact.
    const ascii = isAscii(chunk);
    if (this.pendParts.length > 0) {
      if (!this.feedPending(text, ascii)) return;
    } else if (this.buf.length === 0) {
      this.buf = text;
      this.bufAscii = ascii;
    } else {
      this.buf += text;
      this.bufAscii &&= ascii;
    }
    const gen = this.generation;
    try {
      this.run(gen);
    } catch (err) {
      if (!(err instanceof XmlFault)) throw err;
      return this.fail(err.condition, err.message);
    }
    if (this.generation === gen && this.phase !== DONE) this.endOfChunk();
  }

  /** RFC 6120 §4.3.3: after STARTTLS or SASL success both sides start a new stream; forget everything, unread bytes included. */
  reset(): void {
    this.generation++;
    this.decoder = new TextDecoder('utf-8', { fatal: true });
    this.phase = PROLOG;
    this.declAllowed = true;
    this.rootName = '';
    this.buf = '';
    this.pos = 0;
    this.bufAscii = true;
    this.stack.length = 0;
    this.inCdata = false;
    this.needKind = PEND_NONE;
    this.pendParts = [];
    this.beginUnit(0, this.maxHeader);
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    this.phase = DONE;
    this.buf = '';
    this.pos = 0;
    this.pendParts = [];
    this.stack.length = 0;
    this.unitActive = false;
    this.handler.error(condition, text);
  }

  private run(gen: number): void {
    const buf = this.buf;
    const len = buf.length;
    let p = this.pos;
    this.needKind = PEND_NONE;
    while (p < len) {
      this.pos = p;
      if (this.stack.length === 0) {
        const c = buf.charCodeAt(p);
        if (isWs(c)) {
          // Whitespace between stanzas is the usual keepalive (RFC 6120 §4.6.1); it belongs to no stanza.
          p++;
          this.declAllowed = false;
          continue;
        }
        if (c !== LT) throw malformed(this.phase === PROLOG ? 'text before the stream header' : 'text outside a stanza');
        if (!this.unitActive) this.beginUnit(p, this.maxStanza);
      } else if (this.inCdata) {
        p = this.cdata(p);
        if (p < 0) return;
        continue;
      } else if (buf.charCodeAt(p) !== LT) {
        p = this.text(p);
        if (p < 0) return;
      }
      if (p + 1 >= len) return;
      const c1 = buf.charCodeAt(p + 1);
      if (c1 === SLASH) p = this.endTag(p);
      else if (c1 === QMARK) p = this.pi(p);
      else if (c1 === BANG) p = this.bang(p);
      else p = this.startTag(p);
      if (p < 0 || this.generation !== gen || this.phase === DONE) return;
      this.declAllowed = false;
    }
    this.pos = p;
  }

  /** Counts the bytes of this chunk that belong to the open unit, then keeps only the unread tail. */
  private endOfChunk(): void {
    const len = this.buf.length;
    if (this.unitActive) {
      this.unitBytes += this.byteLen(this.countIdx, len);
      if (this.unitBytes > this.unitLimit) return this.fail('policy-violation', this.limitText());
    }
    const tail = this.pos < len ? this.buf.slice(this.pos) : '';
    this.buf = tail;
    this.pos = 0;
    this.countIdx = tail.length;
    if (tail.length === 0 || this.needKind === PEND_NONE) return;
    this.pendState = 0;
    if (!this.findPendingEnd(tail)) {
      this.pendParts.push(tail);
      this.buf = '';
    }
  }

  private feedPending(text: string, ascii: boolean): boolean {
    this.unitBytes += ascii ? text.length : Buffer.byteLength(text, 'utf8');
    if (this.unitBytes > this.unitLimit) {
      this.fail('policy-violation', this.limitText());
      return false;
    }
    this.pendParts.push(text);
    this.bufAscii &&= ascii;
    if (!this.findPendingEnd(text)) return false;
    this.buf = this.pendParts.join('');
    this.pendParts = [];
    this.countIdx = this.buf.length;
    return true;
  }

  /** Whether `s` holds the end of the pending token, carrying quote state across pieces. */
  private findPendingEnd(s: string): boolean {
    let q = this.pendState;
    if (this.needKind === PEND_DECL) {
      if ((q === QMARK && s.charCodeAt(0) === GT) || s.indexOf('?>') !== -1) return true;
      this.pendState = s.charCodeAt(s.length - 1);
      return false;
    }
    const n = s.length;
    for (let i = 0; i < n; i++) {
      if (q !== 0) {
        const close = s.indexOf(q === DQUOTE ? '"' : "'", i);
        if (close === -1) break;
        q = 0;
        i = close;
        continue;
      }
      const c = s.charCodeAt(i);
      if (c === GT) return true;
      if (c === DQUOTE || c === SQUOTE) q = c;
    }
    this.pendState = q;
    return false;
  }

  private byteLen(from: number, to: number): number {
    return this.bufAscii ? to - from : Buffer.byteLength(this.buf.slice(from, to), 'utf8');
  }

  private beginUnit(at: number, limit: number): void {
    this.unitActive = true;
    this.unitBytes = 0;
    this.unitLimit = limit;
    this.countIdx = at;
  }

  /** Early refusal inside a large chunk: code units never outnumber bytes. */
  private checkUnit(at: number): void {
    if (this.unitBytes + (at - this.countIdx) > this.unitLimit) throw new XmlFault('policy-violation', this.limitText());
  }

  private endUnit(end: number): void {
    const units = end - this.countIdx;
    // A UTF-16 code unit comes from at most 3 bytes, so the exact count is needed only near the limit.
    if (this.unitBytes + units * 3 > this.unitLimit && this.unitBytes + this.byteLen(this.countIdx, end) > this.unitLimit) {
      throw new XmlFault('policy-violation', this.limitText());
    }
    this.unitActive = false;
  }

  private limitText(): string {
    return this.phase === PROLOG ? 'stream header too large' : 'stanza too large';
  }

  private appendText(s: string): void {
    if (s.length === 0) return;
    const top = this.stack[this.stack.length - 1]!;
    const children = top.children;
    const last = children.length - 1;
    // Merge with a preceding text node so the tree does not depend on where chunks were cut.
    const prev = children[last];
    if (typeof prev === 'string') children[last] = prev + s;
    else top.t(s);
  }

  /** Character data up to the next '<'; at the end of a chunk, delivers the part that cannot change. */
  private text(p: number): number {
    const buf = this.buf;
    const lt = buf.indexOf('<', p);
    if (lt !== -1) {
      this.checkUnit(lt);
      this.appendText(decodeText(buf.slice(p, lt)));
      return lt;
    }
    const len = buf.length;
    this.checkUnit(len);
    if (buf.indexOf(']]>', p) !== -1) throw malformed("']]>' in character data");
    // Hold back two chars (a ']]' that a '>' may follow) and an unterminated reference.
    let cut = len - 2;
    if (cut <= p) return NEED;
    const amp = buf.lastIndexOf('&', cut - 1);
    if (amp >= p) {
      const semi = buf.indexOf(';', amp);
      if (semi === -1 && len - amp > MAX_REF + 1) throw malformed('unterminated reference');
      if (semi === -1 || semi >= cut) cut = amp;
    }
    if (cut > p && buf.charCodeAt(cut - 1) === CR) cut--; // a CR LF pair must stay together (§2.11)
    if (cut > p) {
      this.appendText(decodeText(buf.slice(p, cut)));
      this.pos = cut;
    }
    return NEED;
  }

  /** Inside <![CDATA[ ... ]]>: raw text (XML 1.0 §2.7), legal in XMPP since §11.1 does not restrict it. */
  private cdata(p: number): number {
    const buf = this.buf;
    const end = buf.indexOf(']]>', p);
    if (end !== -1) {
      this.checkUnit(end);
      this.appendText(normalizeEol(buf.slice(p, end)));
      this.inCdata = false;
      return end + 3;
    }
    const len = buf.length;
    this.checkUnit(len);
    let cut = len - 2;
    if (cut > p && buf.charCodeAt(cut - 1) === CR) cut--;
    if (cut > p) {
      this.appendText(normalizeEol(buf.slice(p, cut)));
      this.pos = cut;
    }
    return NEED;
  }

  private bang(p: number): number {
    const buf = this.buf;
    if (p + 2 >= buf.length) return NEED;
    if (buf.charCodeAt(p + 2) !== LBRACKET) {
      // RFC 6120 §11.1: comments and DTDs (<!DOCTYPE, <!ENTITY, ...) must not appear.
      const what = buf.charCodeAt(p + 2) === DASH ? 'comments' : 'DTDs and markup declarations';
      throw new XmlFault('restricted-xml', `${what} are not allowed`);
    }
    const head = buf.slice(p, p + 9);
    if (head !== '<![CDATA[') {
      if (head.length < 9 && '<![CDATA['.startsWith(head)) return NEED;
      throw malformed("'<![' must start a CDATA section");
    }
    if (this.stack.length === 0) throw malformed('CDATA section outside a stanza');
    this.inCdata = true;
    return p + 9;
  }

  /** '<?': only the XML declaration, only at the very start of a stream (XML 1.0 §2.8). */
  private pi(p: number): number {
    // RFC 6120 §11.1: processing instructions must not appear.
    if (!this.declAllowed) throw new XmlFault('restricted-xml', 'processing instructions are not allowed');
    const buf = this.buf;
    const end = buf.indexOf('?>', p + 1); // '<?>' ends here too, and is refused below
    if (end === -1) {
      this.needKind = PEND_DECL;
      return NEED;
    }
    const decl = buf.slice(p, end + 2);
    if (!/^<\?xml[ \t\r\n]/.test(decl)) throw new XmlFault('restricted-xml', 'processing instructions are not allowed');
    const m = XML_DECL.exec(decl);
    if (!m) throw malformed('malformed XML declaration');
    const encoding = m[3];
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      throw new XmlFault('unsupported-encoding', `encoding ${encoding} is not supported; use UTF-8`);
    }
    this.declAllowed = false;
    return end + 2;
  }

  private startTag(p: number): number {
    const end = this.scanTag(p);
    if (end < 0) return end;
    const name = this.tagName;
    if (this.phase === PROLOG) return this.openStream(name, end);
    const depth = this.stack.length + 1;
    if (depth > this.maxDepth) throw new XmlFault('policy-violation', `elements nested deeper than ${this.maxDepth}`);
    this.checkUnit(end);
    const el = new Element(name);
    el.attrs = this.tagAttrs;
    const parent = this.stack[depth - 2];
    if (parent !== undefined) parent.cnode(el);
    if (!this.tagEmpty) this.stack.push(el);
    else if (parent === undefined) this.deliver(el, end);
    return end;
  }

  private openStream(name: string, end: number): number {
    // RFC 6120 §4.2: a stream opens with the stream header; anything else (a stanza first) is refused.
    if (name.slice(name.indexOf(':') + 1) !== 'stream') throw malformed('expected a stream header');
    this.endUnit(end);
    this.phase = STREAM;
    this.rootName = name;
    this.pos = end;
    this.handler.streamOpen(name, this.tagAttrs);
    // '<stream:stream/>' is well-formed: an empty stream, opened and closed at once.
    if (this.tagEmpty && this.phase === STREAM) {
      this.phase = DONE;
      this.handler.streamClose();
    }
    return end;
  }

  private deliver(el: Element, end: number): void {
    this.endUnit(end);
    this.pos = end;
    this.handler.stanza(el);
  }

  private endTag(p: number): number {
    const buf = this.buf;
    const len = buf.length;
    const top = this.stack[this.stack.length - 1];
    if (top === undefined && this.phase !== STREAM) throw malformed('end tag before the stream header');
    // XML 1.0 §3 WFC: Element Type Match.
    const expected = top === undefined ? this.rootName : top.name;
    const from = p + 2;
    const nameEnd = from + expected.length;
    if (nameEnd > len) {
      if (!expected.startsWith(buf.slice(from))) throw malformed(`mismatched end tag, expected </${expected}>`);
      this.needKind = PEND_TAG;
      return NEED;
    }
    const i = skipWs(buf, nameEnd, len);
    if (!buf.startsWith(expected, from) || (i < len && buf.charCodeAt(i) !== GT)) {
      throw malformed(`mismatched end tag, expected </${expected}>`);
    }
    if (i >= len) {
      this.needKind = PEND_TAG;
      return NEED;
    }
    const end = i + 1;
    this.pos = end;
    if (top === undefined) {
      this.unitActive = false;
      this.phase = DONE;
      this.handler.streamClose();
      return end;
    }
    this.stack.pop();
    if (this.stack.length === 0) this.deliver(top, end);
    return end;
  }

  /** XML 1.0 §3.1 STag / EmptyElemTag; fills tagName, tagAttrs and tagEmpty. */
  private scanTag(p: number): number {
    const buf = this.buf;
    const len = buf.length;
    if (!isNameStart(buf.charCodeAt(p + 1))) throw malformed('invalid element name');
    let i = scanName(buf, p + 2, len);
    if (i >= len) return this.needTag();
    const name = buf.slice(p + 1, i);
    checkQName(name);
    const attrs: Record<string, string> = {};
    let count = 0;
    for (;;) {
      if (i >= len) return this.needTag();
      let c = buf.charCodeAt(i);
      if (c === GT) {
        this.tagEmpty = false;
        i++;
        break;
      }
      if (c === SLASH) {
        if (i + 1 >= len) return this.needTag();
        if (buf.charCodeAt(i + 1) !== GT) throw malformed("expected '>' after '/'");
        this.tagEmpty = true;
        i += 2;
        break;
      }
      if (!isWs(c)) throw malformed('expected whitespace, an attribute or the end of the tag');
      i = skipWs(buf, i + 1, len);
      if (i >= len) return this.needTag();
      c = buf.charCodeAt(i);
      if (c === GT || c === SLASH) continue;
      if (++count > this.maxAttrs) throw new XmlFault('policy-violation', `more than ${this.maxAttrs} attributes`);
      i = this.scanAttr(i, attrs);
      if (i < 0) return this.needTag();
    }
    this.tagName = name;
    this.tagAttrs = attrs;
    return i;
  }

  /** XML 1.0 §3.1 Attribute: Name Eq AttValue; returns the index after the closing quote. */
  private scanAttr(start: number, attrs: Record<string, string>): number {
    const buf = this.buf;
    const len = buf.length;
    if (!isNameStart(buf.charCodeAt(start))) throw malformed('invalid attribute name');
    const nameEnd = scanName(buf, start + 1, len);
    let i = skipWs(buf, nameEnd, len);
    if (i >= len) return NEED;
    if (buf.charCodeAt(i) !== EQ) throw malformed("expected '=' after attribute name");
    i = skipWs(buf, i + 1, len);
    if (i >= len) return NEED;
    const q = buf.charCodeAt(i);
    if (q !== DQUOTE && q !== SQUOTE) throw malformed('attribute value must be quoted');
    const close = buf.indexOf(q === DQUOTE ? '"' : "'", i + 1);
    if (close === -1) return NEED;
    const name = buf.slice(start, nameEnd);
    checkQName(name);
    // XML 1.0 §3.1 WFC: Unique Att Spec.
    if (Object.hasOwn(attrs, name)) throw malformed('duplicate attribute');
    const value = decodeAttr(buf.slice(i + 1, close));
    // A plain assignment to '__proto__' would change the object's prototype instead of adding a key.
    if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
    else attrs[name] = value;
    return close + 1;
  }

  private needTag(): number {
    this.needKind = PEND_TAG;
    return NEED;
  }
}
