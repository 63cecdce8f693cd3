// The load generator's own XML handling: it only splits the inbound stream into top-level elements (stanzas)
// by counting tags, and reads a few attributes and texts by string search. No tree, no entity decoding:
// the hot path costs a few indexOf calls per stanza.

export interface ScanSink {
  /** The stream header start tag (<stream:stream …>), or an XML declaration-free equivalent. */
  header(tag: string): void;
  /** One complete element at depth 1 of the stream, as received. */
  stanza(xml: string): void;
  /** </stream:stream> */
  end(): void;
}

const GT = 0x3e;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const BANG = 0x21;
const QUOT = 0x22;
const APOS = 0x27;

/** Index of the '>' closing the tag whose name starts at `from`, skipping quoted attribute values; -1 if absent. */
export function tagEnd(s: string, from: number): number {
  let quote = 0;
  for (let j = from; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === GT) return j;
    else if (c === QUOT || c === APOS) quote = c;
  }
  return -1;
}

export class StanzaScanner {
  private buf = '';
  private pos = 0;
  private depth: number;
  /** Start of the depth-1 element being collected, or -1. */
  private start = -1;
  private generation = 0;

  /** `inStream`: the stream header was already seen elsewhere (e.g. the relay sends bare stanzas). */
  constructor(
    private readonly sink: ScanSink,
    private readonly inStream = false,
  ) {
    this.depth = inStream ? 1 : 0;
  }

  /** Stream restart (after STARTTLS or SASL): forget everything buffered. */
  reset(): void {
    this.buf = '';
    this.pos = 0;
    this.start = -1;
    this.depth = this.inStream ? 1 : 0;
    this.generation++;
  }

  push(chunk: string): void {
    if (this.start < 0 && this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else this.buf += chunk;
    const gen = this.generation;
    const buf = this.buf;
    let i = this.pos;
    for (;;) {
      const lt = buf.indexOf('<', i);
      if (lt < 0) {
        i = buf.length;
        break;
      }
      const next = this.token(buf, lt);
      if (next < 0) {
        i = lt;
        break;
      }
      i = next;
      if (gen !== this.generation) return;
    }
    if (this.start >= 0) {
      this.buf = buf.slice(this.start);
      this.pos = i - this.start;
      this.start = 0;
    } else {
      this.buf = i >= buf.length ? '' : buf.slice(i);
      this.pos = 0;
    }
  }

  /** Handles the markup at `lt`; returns the index after it, or -1 when it is not complete yet. */
  private token(buf: string, lt: number): number {
    const c = buf.charCodeAt(lt + 1);
    if (Number.isNaN(c)) return -1;
    if (c === QUESTION) {
      const e = buf.indexOf('?>', lt + 2);
      return e < 0 ? -1 : e + 2;
    }
    if (c === BANG) return skipDeclaration(buf, lt);
    const gt = tagEnd(buf, lt + 1);
    if (gt < 0) return -1;
    if (c === SLASH) {
      this.depth--;
      if (this.depth === 1 && this.start >= 0) {
        const s = buf.slice(this.start, gt + 1);
        this.start = -1;
        this.sink.stanza(s);
      } else if (this.depth <= 0) {
        this.depth = 0;
        this.sink.end();
      }
      return gt + 1;
    }
    const selfClosing = buf.charCodeAt(gt - 1) === SLASH;
    if (this.depth === 0) {
      this.depth = 1;
      this.sink.header(buf.slice(lt, gt + 1));
    } else if (this.depth === 1) {
      if (selfClosing) this.sink.stanza(buf.slice(lt, gt + 1));
      else {
        this.start = lt;
        this.depth = 2;
      }
    } else if (!selfClosing) this.depth++;
    return gt + 1;
  }
}

/** Comments and CDATA sections are skipped whole (servers do not send them, but a scanner must not choke). */
function skipDeclaration(buf: string, lt: number): number {
  if (buf.startsWith('<!--', lt)) {
    const e = buf.indexOf('-->', lt + 4);
    return e < 0 ? -1 : e + 3;
  }
  if (buf.startsWith('<![CDATA[', lt)) {
    const e = buf.indexOf(']]>', lt + 9);
    return e < 0 ? -1 : e + 3;
  }
  if (buf.length - lt < 9) return -1;
  const e = buf.indexOf('>', lt);
  return e < 0 ? -1 : e + 1;
}

/** The element name of a stanza or tag, without prefix handling (`stream:features` stays as is). */
export function elementName(xml: string): string {
  let j = 1;
  while (j < xml.length) {
    const c = xml.charCodeAt(j);
    if (c === 0x20 || c === GT || c === SLASH || c === 0x09 || c === 0x0a || c === 0x0d) break;
    j++;
  }
  return xml.slice(1, j);
}

/** An attribute of the element's start tag, undecoded; undefined when absent. */
export function attr(xml: string, name: string): string | undefined {
  const end = tagEnd(xml, 1);
  const limit = end < 0 ? xml.length : end;
  let from = 1;
  for (;;) {
    const k = xml.indexOf(name, from);
    if (k < 0 || k >= limit) return undefined;
    const before = xml.charCodeAt(k - 1);
    const eq = k + name.length;
    if ((before === 0x20 || before === 0x09 || before === 0x0a || before === 0x0d) && xml.charCodeAt(eq) === 0x3d) {
      const q = xml.charCodeAt(eq + 1);
      if (q === QUOT || q === APOS) {
        const close = xml.indexOf(q === QUOT ? '"' : "'", eq + 2);
        if (close < 0) return undefined;
        return xml.slice(eq + 2, close);
      }
    }
    from = k + name.length;
  }
}

/** Text of the first <name …>text</name> child (or of the element itself when it is called `name`). */
export function childText(xml: string, name: string): string | undefined {
  let k = xml.indexOf(`<${name}`);
  while (k >= 0) {
    const after = xml.charCodeAt(k + name.length + 1);
    if (after === GT || after === 0x20 || after === SLASH) break;
    k = xml.indexOf(`<${name}`, k + 1);
  }
  if (k < 0) return undefined;
  const gt = tagEnd(xml, k + 1);
  if (gt < 0) return undefined;
  if (xml.charCodeAt(gt - 1) === SLASH) return '';
  const close = xml.indexOf(`</${name}>`, gt);
  return close < 0 ? undefined : xml.slice(gt + 1, close);
}

/** The bare part of a JID (no resource). */
export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}
