// XML 1.0 character classes, names and reference decoding used by the framer (pure functions, no state).
import type { StreamErrorCondition } from '../errors/index.js';

/** Longest reference name accepted; '#x10FFFF' is 8. */
export const MAX_REF = 32;

export const C = { TAB: 9, LF: 10, CR: 13, SP: 32, DQ: 34, SQ: 39, SLASH: 47, LT: 60, EQ: 61, GT: 62, QM: 63 } as const;
export const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }; // XML 1.0 §4.6

// XML 1.0 §2.2 Char: C0 controls other than TAB/LF/CR, and U+FFFE/U+FFFF, may not appear even escaped. Lone
// surrogates cannot come out of a fatal UTF-8 decoder; character references are checked in resolveRef.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the characters XML 1.0 §2.2 forbids
export const FORBIDDEN_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
// XML 1.0 §2.8 XMLDecl; RFC 6120 §11.6 then requires a named encoding to be UTF-8.
export const TEXT_SPECIAL = /[&\r]|]]>/;
export const ATTR_SPECIAL = /[<&\t\n\r]/;
export const XML_DECL =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['"])1\.[0-9]+\1(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['"])([A-Za-z][\w.-]*)\2)?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['"])(?:yes|no)\4)?[ \t\r\n]*\?>$/;
// XML 1.0 §2.3 NameStartChar / NameChar ranges above ASCII, tested per UTF-16 code unit: a high surrogate
// D800–DB7F starts U+10000–U+EFFFF and any low surrogate may follow it.
export const WIDE_NAME_START = [
  0xc0, 0xd6, 0xd8, 0xf6, 0xf8, 0x2ff, 0x370, 0x37d, 0x37f, 0x1fff, 0x200c, 0x200d, 0x2070, 0x218f, 0x2c00, 0x2fef,
  0x3001, 0xd7ff, 0xf900, 0xfdcf, 0xfdf0, 0xfffd, 0xd800, 0xdb7f,
];
export const WIDE_NAME_CHAR = [0xb7, 0xb7, 0x300, 0x36f, 0x203f, 0x2040, 0xdc00, 0xdfff];
// The same for ASCII, as a table on the hot path: 1 = NameStartChar, 2 = NameChar only.
export const NAME_ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 58 || c === 95) NAME_ASCII[c] = 1;
  else if ((c >= 48 && c <= 57) || c === 45 || c === 46) NAME_ASCII[c] = 2;
}

export function inRanges(c: number, ranges: number[]): boolean {
  for (let i = 0; i < ranges.length; i += 2) if (c >= ranges[i]! && c <= ranges[i + 1]!) return true;
  return false;
}
export const isNameStart = (c: number) => (c < 128 ? NAME_ASCII[c] === 1 : inRanges(c, WIDE_NAME_START));
export const isNameChar = (c: number) =>
  c < 128 ? NAME_ASCII[c] !== 0 : isNameStart(c) || inRanges(c, WIDE_NAME_CHAR);
export const isWs = (c: number) => c === C.SP || c === C.LF || c === C.TAB || c === C.CR; // XML 1.0 §2.3 S
export const isXmlChar = (cp: number) =>
  cp === C.TAB ||
  cp === C.LF ||
  cp === C.CR ||
  (cp >= 0x20 && cp <= 0xd7ff) ||
  (cp >= 0xe000 && cp <= 0xfffd) ||
  (cp >= 0x10000 && cp <= 0x10ffff);

export function scanName(s: string, i: number, len: number): number {
  while (i < len && isNameChar(s.charCodeAt(i))) i++;
  return i;
}

export function skipWs(s: string, i: number, len: number): number {
  while (i < len && isWs(s.charCodeAt(i))) i++;
  return i;
}

/** Thrown while scanning; write() turns it into handler.error(). */
export class XmlFault extends Error {
  constructor(
    readonly condition: StreamErrorCondition,
    message: string,
  ) {
    super(message);
  }
}

export const malformed = (message: string) => new XmlFault('not-well-formed', message);
export const mismatchedEnd = (name: string) => malformed(`mismatched end tag, expected </${name}>`); // XML 1.0 §3 WFC: Element Type Match
export const refusedPi = () => new XmlFault('restricted-xml', 'processing instructions are not allowed'); // RFC 6120 §11.1

/** Namespaces in XML 1.0 §3 QName: at most one colon, with a prefix and an NCName after it. */
export function checkQName(name: string): void {
  const colon = name.indexOf(':');
  if (colon === -1) return;
  if (colon === 0 || name.indexOf(':', colon + 1) !== -1 || !isNameStart(name.charCodeAt(colon + 1))) {
    throw malformed('invalid qualified name');
  }
}

export function resolveRef(name: string): string {
  if (Object.hasOwn(PREDEFINED, name)) return PREDEFINED[name]!;
  // Capped so that a '&' without ';' cannot hold text back for long; only zero padding could exceed it.
  if (name.length > MAX_REF) throw malformed('reference too long');
  if (name.charCodeAt(0) === 35) {
    // XML 1.0 §4.1 CharRef, WFC: Legal Character.
    const hex = name.charCodeAt(1) === 120;
    const digits = name.slice(hex ? 2 : 1);
    if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) throw malformed('malformed character reference');
    const cp = Number.parseInt(digits, hex ? 16 : 10);
    if (!isXmlChar(cp)) throw malformed('character reference to a character not allowed in XML');
    return String.fromCodePoint(cp);
  }
  const isName = name.length > 0 && isNameStart(name.charCodeAt(0)) && scanName(name, 1, name.length) === name.length;
  // RFC 6120 §11.1: no DTD can declare entities, so any other named reference is undefined.
  if (isName) throw new XmlFault('restricted-xml', `undefined entity '&${name};'`);
  throw malformed("'&' must start an entity or character reference");
}

export function decodeRefs(s: string): string {
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

/** XML 1.0 §2.11: CR LF and lone CR become LF, before references are expanded so that '&#13;' survives. */
export const normalizeEol = (s: string) => (s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n'));

export function decodeText(raw: string): string {
  if (!TEXT_SPECIAL.test(raw)) return raw; // the common case: one scan, nothing to do
  if (raw.indexOf(']]>') !== -1) throw malformed("']]>' in character data"); // XML 1.0 §2.4
  return decodeRefs(normalizeEol(raw));
}

export function decodeAttr(raw: string): string {
  if (!ATTR_SPECIAL.test(raw)) return raw;
  if (raw.indexOf('<') !== -1) throw malformed("'<' in attribute value"); // XML 1.0 §3.1 WFC: No < in Attribute Values
  // XML 1.0 §3.3.3: literal whitespace (a CR LF pair counting once) becomes a space.
  return decodeRefs(raw.replace(/\r\n|[\t\n\r]/g, ' '));
}
