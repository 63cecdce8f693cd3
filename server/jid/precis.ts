// PRECIS preparation of the three JID parts (RFC 7622 §3) and of SASL passwords (RFC 8265 §4).
// Every function returns the prepared (enforced) form or throws JidError; callers compare prepared forms only.
import { isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';

export class JidError extends Error {
  override readonly name = 'JidError';
}

/** RFC 7622 §3.2, §3.3, §3.4: each part is 1 to 1023 octets of UTF-8 after preparation. */
const MAX_PART_BYTES = 1023;
/**
 * Refuse absurd inputs before running Unicode machinery on them. UTF-8 never uses fewer bytes than UTF-16 code
 * units, and mapping plus NFC shrinks a string by a small factor at most, so anything this long cannot prepare
 * down to 1023 bytes.
 */
const MAX_INPUT_UNITS = 8 * MAX_PART_BYTES;

// ---------------------------------------------------------------------------------------------------------------
// Code point classes (RFC 8264 §9). JavaScript exposes General_Category, Script and a few binary properties,
// which is enough to derive the PRECIS classes without shipping tables; Unicode version is Node's (ICU's).

type Verdict = 'pvalid' | 'contextj' | 'contexto' | 'disallowed';

/** RFC 5892 §2.6 Exceptions (RFC 8264 §9.6), which take precedence over every other rule. */
const EXCEPTIONS = new Map<number, Verdict>();
for (const cp of [0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]) EXCEPTIONS.set(cp, 'pvalid');
for (const cp of [0x00b7, 0x0375, 0x05f3, 0x05f4, 0x30fb]) EXCEPTIONS.set(cp, 'contexto');
for (let cp = 0x0660; cp <= 0x0669; cp++) EXCEPTIONS.set(cp, 'contexto');
for (let cp = 0x06f0; cp <= 0x06f9; cp++) EXCEPTIONS.set(cp, 'contexto');
for (const cp of [0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b]) {
  EXCEPTIONS.set(cp, 'disallowed');
}

const UNASSIGNED = /^\p{Cn}$/u; // RFC 8264 §9.10
const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u; // RFC 8264 §9.13
const CONTROL = /^\p{Cc}$/u; // RFC 8264 §9.12
const LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u; // RFC 8264 §9.1
// RFC 8264 §9.18 OtherLetterDigits, §9.14 Spaces, §9.15 Symbols, §9.16 Punctuation: FreeformClass only.
const FREEFORM_ONLY = /^[\p{Lt}\p{Nl}\p{No}\p{Me}\p{Zs}\p{S}\p{P}]$/u;

/** RFC 8264 §9.9 OldHangulJamo (Hangul_Syllable_Type L, V or T). */
function isOldHangulJamo(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff);
}

/** Derived property of one code point, in the rule order of RFC 8264 §8. */
function classify(cp: number, ch: string, freeform: boolean): Verdict {
  const exception = EXCEPTIONS.get(cp);
  if (exception !== undefined) return exception;
  if (cp >= 0x21 && cp <= 0x7e) return 'pvalid'; // §9.11 ASCII7
  if (UNASSIGNED.test(ch)) return 'disallowed';
  if (cp === 0x200c || cp === 0x200d) return 'contextj'; // §9.8 JoinControl
  if (isOldHangulJamo(cp) || IGNORABLE.test(ch) || CONTROL.test(ch)) return 'disallowed';
  // §9.17 HasCompat: toNFKC(cp) != cp. Disallowed in IdentifierClass, allowed in FreeformClass.
  if (ch.normalize('NFKC') !== ch) return freeform ? 'pvalid' : 'disallowed';
  if (LETTER_DIGIT.test(ch)) return 'pvalid';
  return freeform && FREEFORM_ONLY.test(ch) ? 'pvalid' : 'disallowed';
}

// Contextual rules (RFC 5892 Appendix A). JavaScript does not expose Canonical_Combining_Class or Joining_Type,
// so "ccc = Virama" uses this list of Brahmic viramas (ccc 9) and joining context is approximated by script.
const VIRAMAS = new Set([
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0dca, 0x0e3a, 0x0f84,
  0x1039, 0x103a, 0x1714, 0x1734, 0x17d2, 0x1a60, 0x1b44, 0x1baa, 0x1bab, 0x1bf2, 0x1bf3, 0x2d7f, 0xa806, 0xa8c4,
  0xa953, 0xa9c0, 0xaaf6, 0xabed,
]);
const JOINING_LETTER = /^[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}\p{Script=Mandaic}\p{Script=Mongolian}]$/u;
const GREEK = /^\p{Script=Greek}$/u;
const HEBREW = /^\p{Script=Hebrew}$/u;
const KANA_HAN = /^[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]$/u;
const MARK = /^\p{Mn}$/u;

const cpAt = (chars: readonly string[], i: number): number => chars[i]?.codePointAt(0) ?? -1;
const inRange = (cp: number, lo: number, hi: number): boolean => cp >= lo && cp <= hi;

/** RFC 5892 A.1: ZWNJ between joining letters (L|D) T* ZWNJ T* (R|D); T approximated by nonspacing marks. */
function joinsAround(chars: readonly string[], i: number): boolean {
  let before = i - 1;
  while (before >= 0 && MARK.test(chars[before]!)) before--;
  let after = i + 1;
  while (after < chars.length && MARK.test(chars[after]!)) after++;
  return JOINING_LETTER.test(chars[before] ?? '') && JOINING_LETTER.test(chars[after] ?? '');
}

function contextAllows(chars: readonly string[], i: number): boolean {
  const cp = cpAt(chars, i);
  const before = cpAt(chars, i - 1);
  if (cp === 0x200d) return VIRAMAS.has(before); // A.2 ZERO WIDTH JOINER
  if (cp === 0x200c) return VIRAMAS.has(before) || joinsAround(chars, i); // A.1 ZERO WIDTH NON-JOINER
  if (cp === 0x00b7) return before === 0x6c && cpAt(chars, i + 1) === 0x6c; // A.3 MIDDLE DOT (Catalan l·l)
  if (cp === 0x0375) return GREEK.test(chars[i + 1] ?? ''); // A.4 GREEK LOWER NUMERAL SIGN
  if (cp === 0x05f3 || cp === 0x05f4) return HEBREW.test(chars[i - 1] ?? ''); // A.5, A.6 GERESH, GERSHAYIM
  if (cp === 0x30fb) return chars.some((c) => KANA_HAN.test(c)); // A.7 KATAKANA MIDDLE DOT
  // A.8, A.9: Arabic-Indic and Extended Arabic-Indic digits must not be mixed.
  if (inRange(cp, 0x0660, 0x0669)) return !chars.some((c) => inRange(c.codePointAt(0)!, 0x06f0, 0x06f9));
  if (inRange(cp, 0x06f0, 0x06f9)) return !chars.some((c) => inRange(c.codePointAt(0)!, 0x0660, 0x0669));
  return false;
}

/**
 * Validates a mapped and normalized string against IdentifierClass or FreeformClass (RFC 8264 §4.2, §4.3).
 * `reveal` is false for passwords so the error message never carries any part of the secret.
 */
function checkClass(s: string, freeform: boolean, part: string, reveal: boolean): void {
  const chars = Array.from(s);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    const cp = ch.codePointAt(0)!;
    const verdict = classify(cp, ch, freeform);
    if (verdict === 'pvalid') continue;
    if (verdict !== 'disallowed' && contextAllows(chars, i)) continue;
    const which = reveal ? ` U+${cp.toString(16).toUpperCase().padStart(4, '0')}` : '';
    throw new JidError(`${part} contains a disallowed code point${which}`);
  }
}

// Bidi Rule (RFC 5893 §2), required for localparts by RFC 8265 §3.3 and RFC 7622 §3.3. Bidi_Class is not
// available to regular expressions, so right-to-left is approximated by script: letters of RTL scripts count as
// R/AL, other letters and spacing marks as L. Good enough to refuse mixed-direction spoofs.
const RTL_LETTER =
  /^[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}]$/u;
const LETTERISH = /^[\p{L}\p{Mc}]$/u;
const ARABIC_INDIC_DIGIT = /^[\u0660-\u0669]$/u; // bidi class AN
const EUROPEAN_DIGIT = /^[0-9\u06f0-\u06f9]$/u; // bidi class EN

function checkBidi(s: string): void {
  const chars = Array.from(s);
  const isRtl = (c: string): boolean => LETTERISH.test(c) && RTL_LETTER.test(c);
  if (!chars.some((c) => isRtl(c) || ARABIC_INDIC_DIGIT.test(c))) return; // rule applies to RTL strings only
  const fail = (): never => {
    throw new JidError('localpart violates the Bidi Rule (RFC 5893)');
  };
  if (!isRtl(chars[0]!)) fail(); // rule 1: an RTL label starts with R or AL
  if (chars.some((c) => LETTERISH.test(c) && !RTL_LETTER.test(c))) fail(); // rule 2: no L
  let last = chars.length - 1;
  while (last > 0 && MARK.test(chars[last]!)) last--;
  const end = chars[last]!;
  if (!isRtl(end) && !ARABIC_INDIC_DIGIT.test(end) && !EUROPEAN_DIGIT.test(end)) fail(); // rule 3
  if (chars.some((c) => ARABIC_INDIC_DIGIT.test(c)) && chars.some((c) => EUROPEAN_DIGIT.test(c))) fail(); // rule 4
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

function checkSize(s: string, part: string): void {
  if (s.length > MAX_INPUT_UNITS) throw new JidError(`${part} is longer than ${MAX_PART_BYTES} bytes`);
}

function checkPrepared(s: string, part: string): void {
  if (s === '') throw new JidError(`${part} is empty`);
  if (Buffer.byteLength(s, 'utf8') > MAX_PART_BYTES) {
    throw new JidError(`${part} is longer than ${MAX_PART_BYTES} bytes`);
  }
}

/**
 * RFC 8265 §3.3 width mapping rule: fullwidth and halfwidth code points map to their decomposition mapping.
 * Fullwidth ASCII (U+FF01-FF5E) and the ideographic space are exact offsets; for the remaining <narrow>/<wide>
 * forms NFKC of the single code point is used, which can go one compatibility step further (e.g. halfwidth
 * Hangul letters) but only ever toward code points IdentifierClass disallows anyway, so the outcome is the same.
 */
const WIDE_OR_NARROW = /[\u3000\uff01-\uffee]/g;
function mapWidth(s: string): string {
  return s.replace(WIDE_OR_NARROW, (ch) => {
    const cp = ch.charCodeAt(0);
    if (cp === 0x3000) return ' ';
    if (cp <= 0xff5e) return String.fromCharCode(cp - 0xfee0);
    return ch.normalize('NFKC');
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Localpart: RFC 7622 §3.3, UsernameCaseMapped profile (RFC 8265 §3.3)

const LOCAL_FAST = /^[a-z0-9._-]+$/;
const ASCII_GRAPHIC = /^[\x21-\x7e]+$/;
/** RFC 7622 §3.3.1: eight legacy characters stay forbidden although IdentifierClass allows them. */
const LOCAL_FORBIDDEN = /["&'/:<>@]/;

export function prepareLocalpart(s: string): string {
  // Hot path: the overwhelmingly common shape is already in prepared form, so nothing can change it.
  if (s.length <= MAX_PART_BYTES && LOCAL_FAST.test(s)) return s;
  checkSize(s, 'localpart');
  let out: string;
  if (ASCII_GRAPHIC.test(s)) {
    // Printable ASCII is PVALID, width mapping and NFC are identities and there is no RTL text: only case remains.
    out = s.toLowerCase();
  } else {
    // RFC 8265 §3.3 order: width mapping, case mapping, NFC, then validation and the Bidi Rule (RFC 8264 §7).
    // Case mapping is Unicode toLowerCase() as RFC 8265 §3.3 specifies (RFC 7613 used case folding); the
    // ECMAScript toLowerCase is that operation, locale-independent and with the Final_Sigma context, so 'ß'
    // stays 'ß' (fußball and fussball are distinct, RFC 7622 §3.5).
    out = mapWidth(s).toLowerCase().normalize('NFC');
    checkClass(out, false, 'localpart', true);
    checkBidi(out);
  }
  if (LOCAL_FORBIDDEN.test(out)) throw new JidError('localpart contains a character forbidden by RFC 7622 §3.3.1');
  checkPrepared(out, 'localpart');
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Resourcepart and passwords: OpaqueString profile (RFC 8265 §4.2)

const ASCII_PRINTABLE = /^[\x20-\x7e]+$/;
const NON_ASCII_SPACE = /(?! )\p{Zs}/gu;

function prepareOpaque(s: string, part: string, reveal: boolean): string {
  // RFC 8265 §4.2: no width or case mapping, no trimming; non-ASCII spaces become U+0020, then NFC.
  if (ASCII_PRINTABLE.test(s)) return s; // all FreeformClass-valid and already in NFC
  const out = s.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  if (out === '') throw new JidError(`${part} is empty`); // RFC 8265 §4.2: zero length is not allowed
  checkClass(out, true, part, reveal);
  return out;
}

/** RFC 7622 §3.4. A leading or trailing space is kept: OpaqueString, unlike Nickname, does not trim. */
export function prepareResourcepart(s: string): string {
  checkSize(s, 'resourcepart');
  const out = prepareOpaque(s, 'resourcepart', true);
  checkPrepared(out, 'resourcepart');
  return out;
}

/** OpaqueString (RFC 8265 §4.2) for SASL PLAIN and SCRAM, replacing SASLprep (RFC 8265 §4.1). No length cap. */
export function preparePassword(s: string): string {
  return prepareOpaque(s, 'password', false);
}

// ---------------------------------------------------------------------------------------------------------------
// Domainpart: RFC 7622 §3.2

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const LDH_DOMAIN = /^[A-Za-z0-9.-]+$/;
const LDH_LABEL = /^[a-z0-9-]+$/;
/** Any ASCII code point other than letters, digits, hyphen and dot. */
const ASCII_NON_LDH = /[^\P{ASCII}A-Za-z0-9.-]/u;
const ALL_DIGITS = /^\d+$/;
/** IDNA2008 PVALID approximated (RFC 5892): letters, marks, digits and hyphen; UTS #46 would also let symbols in. */
const U_LABELS = /^[\p{L}\p{M}\p{Nd}.-]+$/u;
/** RFC 7622 §3.2: one trailing label separator (any IDNA dot, RFC 3490 §3.1) is stripped first. */
const TRAILING_DOT = /[.\u3002\uff0e\uff61]$/;

/** NR-LDH and A-labels only (RFC 5890 §2.3.1); the last label may not be numeric (RFC 3696 §2). */
function checkAsciiLabels(ascii: string): void {
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label === '' || label.length > 63) throw new JidError('domainpart has an empty or over-long label');
    if (!LDH_LABEL.test(label)) throw new JidError('domainpart label has characters outside letters, digits, hyphen');
    if (label.startsWith('-') || label.endsWith('-')) throw new JidError('domainpart label starts or ends with -');
    // RFC 5891 §4.2.3.1: '--' in positions 3-4 is reserved for A-labels ('xn--').
    if (label.slice(2, 4) === '--' && !label.startsWith('xn--')) throw new JidError('domainpart has a reserved label');
  }
  if (ALL_DIGITS.test(labels[labels.length - 1]!)) throw new JidError('domainpart has a numeric top-level label');
}

function prepareIpLiteral(s: string): string {
  // RFC 7622 §3.2 / RFC 3986 §3.2.2 IP-literal: '[' IPv6 ']'. Zone identifiers are not part of that grammar.
  const inner = s.slice(1, -1);
  if (!s.endsWith(']') || inner.includes('%') || !isIPv6(inner)) {
    throw new JidError('domainpart is not a valid IP literal');
  }
  // Hex digits are case-insensitive (RFC 4291 §2.2); one spelling keeps Jid equality meaningful.
  return s.toLowerCase();
}

export function prepareDomainpart(s: string): string {
  checkSize(s, 'domainpart');
  const d = TRAILING_DOT.test(s) ? s.slice(0, -1) : s;
  if (d === '') throw new JidError('domainpart is empty');
  if (d.charCodeAt(0) === 0x5b) return prepareIpLiteral(d);
  if (IPV4.test(d)) return d;
  if (LDH_DOMAIN.test(d)) {
    const lower = d.toLowerCase();
    // Plain LDH needs no IDNA processing; A-labels still go through it to be verified and shown as U-labels.
    if (!lower.includes('xn--')) {
      checkAsciiLabels(lower);
      if (lower.length > MAX_PART_BYTES) throw new JidError(`domainpart is longer than ${MAX_PART_BYTES} bytes`);
      return lower;
    }
  }
  // node:url parses a URL host and silently stops at '/', '?', '#' or a backslash ('a/b' gives 'a'), so raw ASCII
  // outside LDH is refused up front; mapped look-alikes (U+FF0F) come back as failures from domainToASCII itself.
  if (ASCII_NON_LDH.test(d)) throw new JidError('domainpart has characters outside letters, digits, hyphen');
  // RFC 7622 §3.2.2: IDNA2008 with the RFC 5895 mappings (case, width, NFC). node:url applies UTS #46
  // (non-transitional), which covers those mappings and punycode checks; the result is then held to LDH labels.
  const ascii = domainToASCII(d);
  if (ascii === '') throw new JidError('domainpart is not a valid domain name');
  checkAsciiLabels(ascii);
  const unicode = domainToUnicode(ascii);
  if (unicode === '' || !U_LABELS.test(unicode)) throw new JidError('domainpart has code points IDNA2008 disallows');
  checkPrepared(unicode, 'domainpart');
  return unicode;
}
