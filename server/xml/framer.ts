// Streaming XML framer: socket bytes in; stream header, depth-1 elements and stream close out.
// Hand-written and strict because it is the first code to touch untrusted input (DESIGN §4): the restricted
// XML of RFC 6120 §11.1 (no comments, PIs, DTDs, or entities beyond the five predefined ones), UTF-8 only
// (§11.6), and limits enforced as bytes arrive. It scans a decoded string with indexOf/charCodeAt and slices
// only at token boundaries.
import type { StreamErrorCondition } from '../errors/index.js';
import {
  C,
  checkQName,
  decodeAttr,
  decodeText,
  FORBIDDEN_CHAR,
  isNameStart,
  isWs,
  MAX_REF,
  malformed,
  mismatchedEnd,
  normalizeEol,
  refusedPi,
  scanName,
  skipWs,
  XML_DECL,
  XmlFault,
} from './chars.js';
import { Element } from './element.js';
import { decodeUtf8, resetUtf8, type Utf8State } from './utf8.js';

export interface FramerLimits {
  maxStanzaBytes: number; // largest depth-1 element, in bytes as received
  maxDepth: number; // deepest nesting; the depth-1 element itself is depth 1
  maxAttributes: number; // most attributes on one element, the stream header included
  maxHeaderBytes?: number; // largest stream header, XML declaration included; default 8192
}

export interface FramerHandler {
  streamOpen(name: string, attrs: Record<string, string>): void; // qualified name as written
  stanza(el: Element): void; // each complete depth-1 element (stanza or e.g. stream:features)
  streamClose(): void;
  error(condition: StreamErrorCondition, text: string): void; // fatal: input is ignored until reset()
}

const NEED = -1; // token incomplete: wait for more bytes
const PROLOG = 0;
const STREAM = 1;
const DONE = 2;
const PEND_NONE = 0;
const PEND_TAG = 1; // a start or end tag: ends at a '>' outside quotes
const PEND_DECL = 2; // the XML declaration: ends at '?>'

/** The attributes of no tag: what the scan results hold between tags (never mutated). */
const NO_ATTRS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const STREAM_STREAM = 'stream:stream';

export class XmlFramer implements Utf8State {
  // UTF-8 decoding state (see utf8.ts; a TextDecoder would hold a native ICU converter per stream).
  carry: Buffer | null = null;
  bomPossible = true;
  ascii = true;
  private generation = 0; // bumped by reset(), so that a handler resetting mid-write ends the old scan
  private phase = PROLOG;
  private declAllowed = true;
  private rootName = '';
  private buf = '';
  private pos = 0;
  private bufAscii = true; // every char of buf is ASCII, so string offsets are byte offsets
  private readonly stack: Element[] = [];
  private inCdata = false;
  // The unit being received (the header, or one depth-0 element or end tag); unitBytes is the exact size of
  // its part before buf[countIdx].
  private unitActive = false;
  private unitBytes = 0;
  private unitLimit = 0;
  private countIdx = 0;
  // A tag or declaration cut by a chunk boundary: later chunks are only searched for its end and set aside,
  // so that a slow sender cannot make every chunk re-scan and re-copy a growing buffer.
  private needKind = PEND_NONE;
  private pendParts: string[] | null = null;
  private pendState = 0; // the open quote of a pending tag, or the last char of a pending declaration
  private tagName = ''; // scanTag results, kept here rather than in an object per tag, and let go once used
  private tagAttrs: Record<string, string> = NO_ATTRS;
  private tagEmpty = false;

  constructor(
    private readonly limits: FramerLimits,
    private readonly handler: FramerHandler,
  ) {
    this.reset();
  }

  /** Feeds raw bytes from the transport. */
  write(chunk: Buffer): void {
    if (this.phase === DONE) return;
    const text = decodeUtf8(this, chunk);
    if (text === null) {
      // RFC 6120 §11.6 and §4.9.3.22: invalid, overlong or surrogate sequences.
      this.fail('unsupported-encoding', 'invalid UTF-8');
      return;
    }
    if (text.length === 0) return;
    if (FORBIDDEN_CHAR.test(text)) {
      this.fail('not-well-formed', 'character not allowed in XML');
      return;
    }
    const ascii = this.ascii;
    if (this.pendParts !== null) {
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
      this.fail(err.condition, err.message);
      return;
    }
    if (this.generation === gen && this.phase !== DONE) this.endOfChunk();
  }

  /** RFC 6120 §4.3.3 stream restart: forget everything, unread bytes included, and expect a new header. */
  reset(): void {
    this.generation++;
    resetUtf8(this);
    this.phase = PROLOG;
    this.declAllowed = true;
    this.clear();
    this.beginUnit(0, this.limits.maxHeaderBytes ?? 8192);
  }

  private clear(): void {
    this.buf = '';
    this.pos = 0;
    this.bufAscii = true;
    this.stack.length = 0;
    this.inCdata = false;
    this.needKind = PEND_NONE;
    this.pendParts = null;
    this.unitActive = false;
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    this.phase = DONE;
    this.clear();
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
          p++; // whitespace between stanzas, e.g. keepalives (RFC 6120 §4.6.1), belongs to no stanza
          this.declAllowed = false;
          continue;
        }
        if (c !== C.LT)
          throw malformed(this.phase === PROLOG ? 'text before the stream header' : 'text outside a stanza');
        if (!this.unitActive) this.beginUnit(p, this.limits.maxStanzaBytes);
      } else if (this.inCdata) {
        p = this.cdata(p);
        if (p < 0) return;
        continue;
      } else if (buf.charCodeAt(p) !== C.LT) {
        p = this.text(p);
        if (p < 0) return;
        this.pos = p;
      }
      if (p + 1 >= len) return;
      const c1 = buf.charCodeAt(p + 1);
      if (c1 === C.SLASH) p = this.endTag(p);
      else if (c1 === C.QM) p = this.pi(p);
      else if (c1 === 33 /* '!' */) p = this.bang(p);
      else p = this.startTag(p);
      if (p < 0 || this.generation !== gen || this.phase === DONE) return;
      this.declAllowed = false;
    }
    this.pos = p;
  }

  /** Counts this chunk's bytes that belong to the open unit, then keeps only the unread tail. */
  private endOfChunk(): void {
    const len = this.buf.length;
    if (this.unitActive) {
      this.unitBytes += this.byteLen(this.countIdx, len);
      if (this.unitBytes > this.unitLimit) {
        this.fail('policy-violation', this.limitText());
        return;
      }
    }
    // Between stanzas the element stack is empty; storing its length lets V8 drop the storage it grew to.
    if (this.stack.length === 0) this.stack.length = 0;
    const tail = this.pos < len ? this.buf.slice(this.pos) : '';
    this.buf = tail;
    this.pos = 0;
    this.countIdx = tail.length;
    if (tail.length === 0 || this.needKind === PEND_NONE) return;
    this.pendState = 0;
    if (!this.findPendingEnd(tail)) {
      this.pendParts = [tail];
      this.buf = '';
    }
  }

  private feedPending(text: string, ascii: boolean): boolean {
    this.unitBytes += ascii ? text.length : Buffer.byteLength(text, 'utf8');
    if (this.unitBytes > this.unitLimit) {
      this.fail('policy-violation', this.limitText());
      return false;
    }
    this.pendParts!.push(text);
    this.bufAscii &&= ascii;
    if (!this.findPendingEnd(text)) return false;
    this.buf = this.pendParts!.join('');
    this.pendParts = null;
    this.countIdx = this.buf.length;
    return true;
  }

  /** Whether `s` holds the end of the pending token; quote state carries over between pieces. */
  private findPendingEnd(s: string): boolean {
    let q = this.pendState;
    if (this.needKind === PEND_DECL) {
      if ((q === C.QM && s.charCodeAt(0) === C.GT) || s.indexOf('?>') !== -1) return true;
      this.pendState = s.charCodeAt(s.length - 1);
      return false;
    }
    for (let i = 0; i < s.length; i++) {
      if (q !== 0) {
        const close = s.indexOf(q === C.DQ ? '"' : "'", i);
        if (close === -1) break;
        q = 0;
        i = close;
      } else {
        const c = s.charCodeAt(i);
        if (c === C.GT) return true;
        if (c === C.DQ || c === C.SQ) q = c;
      }
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

  /** Early refusal within a large chunk: code units never outnumber bytes. */
  private checkUnit(at: number): void {
    if (this.unitBytes + (at - this.countIdx) > this.unitLimit)
      throw new XmlFault('policy-violation', this.limitText());
  }

  private endUnit(end: number): void {
    // A UTF-16 code unit comes from at most 3 bytes, so the exact count is needed only near the limit.
    const near = this.unitBytes + (end - this.countIdx) * 3 > this.unitLimit;
    if (near && this.unitBytes + this.byteLen(this.countIdx, end) > this.unitLimit) {
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
    const last = top.children.length - 1;
    const prev = top.children[last];
    // Merging adjacent text keeps the tree independent of where chunks were cut.
    if (typeof prev === 'string') top.children[last] = prev + s;
    else top.t(s);
  }

  /** Character data up to the next '<'. */
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
    // Hold back two chars (']]' that a '>' may follow) and any unterminated reference.
    let cut = len - 2;
    const amp = cut > p ? buf.lastIndexOf('&', cut - 1) : -1;
    if (amp >= p) {
      const semi = buf.indexOf(';', amp);
      if (semi === -1 && len - amp > MAX_REF + 1) throw malformed('unterminated reference');
      if (semi === -1 || semi >= cut) cut = amp;
    }
    return this.flushPartial(p, cut, false);
  }

  /** Inside <![CDATA[ … ]]> (XML 1.0 §2.7): raw text. RFC 6120 §11.1 does not restrict CDATA sections. */
  private cdata(p: number): number {
    const end = this.buf.indexOf(']]>', p);
    if (end === -1) {
      this.checkUnit(this.buf.length);
      return this.flushPartial(p, this.buf.length - 2, true);
    }
    this.checkUnit(end);
    this.appendText(normalizeEol(this.buf.slice(p, end)));
    this.inCdata = false;
    return end + 3;
  }

  /** At the end of a chunk inside text, delivers buf[p, cut): what later bytes cannot change. */
  private flushPartial(p: number, cut: number, raw: boolean): number {
    if (cut > p && this.buf.charCodeAt(cut - 1) === C.CR) cut--; // a CR LF pair must stay together (§2.11)
    if (cut > p) {
      const s = this.buf.slice(p, cut);
      this.appendText(raw ? normalizeEol(s) : decodeText(s));
      this.pos = cut;
    }
    return NEED;
  }

  private bang(p: number): number {
    const buf = this.buf;
    if (p + 2 >= buf.length) return NEED;
    if (buf.charCodeAt(p + 2) !== 91) {
      // RFC 6120 §11.1: no comments and no DTD (<!DOCTYPE, <!ENTITY, …).
      const what = buf.charCodeAt(p + 2) === 45 ? 'comments' : 'DTDs and markup declarations';
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

  /** '<?': only the XML declaration, and only at the very start of a stream (XML 1.0 §2.8). */
  private pi(p: number): number {
    if (!this.declAllowed) throw refusedPi();
    const end = this.buf.indexOf('?>', p + 1); // so '<?>' ends here too, and is refused below
    if (end === -1) {
      this.needKind = PEND_DECL;
      return NEED;
    }
    const decl = this.buf.slice(p, end + 2);
    if (!/^<\?xml[ \t\r\n]/.test(decl)) throw refusedPi();
    const m = XML_DECL.exec(decl);
    if (!m) throw malformed('malformed XML declaration');
    if (m[3] !== undefined && m[3].toLowerCase() !== 'utf-8') {
      throw new XmlFault('unsupported-encoding', `encoding ${m[3]} is not supported; use UTF-8`);
    }
    this.declAllowed = false;
    return end + 2;
  }

  private startTag(p: number): number {
    const end = this.scanTag(p);
    if (end < 0) return end;
    if (this.phase === PROLOG) return this.openStream(end);
    const depth = this.stack.length + 1;
    const max = this.limits.maxDepth;
    if (depth > max) throw new XmlFault('policy-violation', `elements nested deeper than ${max}`);
    this.checkUnit(end);
    const el = new Element(this.tagName);
    el.attrs = this.tagAttrs;
    this.tagName = '';
    this.tagAttrs = NO_ATTRS;
    const parent = this.stack[depth - 2];
    if (parent !== undefined) parent.cnode(el);
    if (!this.tagEmpty) this.stack.push(el);
    else if (parent === undefined) this.deliver(el, end);
    return end;
  }

  private openStream(end: number): number {
    const name = this.tagName;
    // RFC 6120 §4.2: a stream starts with the stream header; anything else, such as a stanza, is refused.
    if (name.slice(name.indexOf(':') + 1) !== 'stream') throw malformed('expected a stream header');
    this.endUnit(end);
    this.phase = STREAM;
    // 'stream:stream' is long enough for V8 to slice it out of the chunk, which would keep the whole header
    // text alive as long as the stream: the constant instead.
    this.rootName = name === STREAM_STREAM ? STREAM_STREAM : name;
    this.pos = end;
    const attrs = this.tagAttrs;
    this.tagName = '';
    this.tagAttrs = NO_ATTRS;
    this.handler.streamOpen(name, attrs);
    if (this.tagEmpty && this.phase === STREAM) {
      this.phase = DONE; // '<stream:stream/>' is well-formed: an empty stream
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
    const expected = top === undefined ? this.rootName : top.name; // XML 1.0 §3 WFC: Element Type Match
    const nameEnd = p + 2 + expected.length;
    if (nameEnd > len) {
      if (!expected.startsWith(buf.slice(p + 2))) throw mismatchedEnd(expected);
      return this.needTag();
    }
    if (!buf.startsWith(expected, p + 2)) throw mismatchedEnd(expected);
    const i = skipWs(buf, nameEnd, len);
    if (i >= len) return this.needTag();
    if (buf.charCodeAt(i) !== C.GT) throw mismatchedEnd(expected);
    this.pos = i + 1;
    if (top === undefined) {
      this.unitActive = false;
      this.phase = DONE;
      this.handler.streamClose();
    } else {
      this.stack.pop();
      if (this.stack.length === 0) this.deliver(top, i + 1);
    }
    return i + 1;
  }

  /** XML 1.0 §3.1 STag / EmptyElemTag; fills tagName, tagAttrs and tagEmpty. */
  private scanTag(p: number): number {
    const buf = this.buf;
    const len = buf.length;
    if (!isNameStart(buf.charCodeAt(p + 1))) throw malformed('invalid element name');
    let i = scanName(buf, p + 2, len);
    const name = buf.slice(p + 1, i);
    const attrs: Record<string, string> = {};
    let count = 0;
    for (;;) {
      if (i >= len) return this.needTag();
      let c = buf.charCodeAt(i);
      if (c === C.GT || c === C.SLASH) {
        if (c === C.SLASH && i + 1 >= len) return this.needTag();
        if (c === C.SLASH && buf.charCodeAt(i + 1) !== C.GT) throw malformed("expected '>' after '/'");
        this.tagEmpty = c === C.SLASH;
        i += c === C.SLASH ? 2 : 1;
        break;
      }
      if (!isWs(c)) throw malformed('expected whitespace, an attribute or the end of the tag');
      i = skipWs(buf, i + 1, len);
      c = buf.charCodeAt(i); // NaN at the end of buf: handled at the top of the loop
      if (i >= len || c === C.GT || c === C.SLASH) continue;
      if (++count > this.limits.maxAttributes) throw new XmlFault('policy-violation', 'too many attributes');
      i = this.scanAttr(i, attrs);
      if (i < 0) return this.needTag();
    }
    checkQName(name);
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
    if (buf.charCodeAt(i) !== C.EQ) throw malformed("expected '=' after attribute name");
    i = skipWs(buf, i + 1, len);
    if (i >= len) return NEED;
    const q = buf.charCodeAt(i);
    if (q !== C.DQ && q !== C.SQ) throw malformed('attribute value must be quoted');
    const close = buf.indexOf(q === C.DQ ? '"' : "'", i + 1);
    if (close === -1) return NEED;
    const name = buf.slice(start, nameEnd);
    checkQName(name);
    if (Object.hasOwn(attrs, name)) throw malformed('duplicate attribute'); // XML 1.0 §3.1 WFC: Unique Att Spec
    const value = decodeAttr(buf.slice(i + 1, close));
    // Assigning '__proto__' would replace the object's prototype instead of adding a key.
    if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true });
    else attrs[name] = value;
    return close + 1;
  }

  private needTag(): number {
    this.needKind = PEND_TAG;
    return NEED;
  }
}
