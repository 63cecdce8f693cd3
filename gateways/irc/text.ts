// Pure text conversions between IRC and XMPP: formatting codes, XML 1.0 character safety, CTCP ACTION ⇄ XEP-0245
// '/me', splitting long text at IRC's line limit, and the RFC 2812 §2.3.1 / §1.3 name rules.

/**
 * IRC formatting codes (de-facto, documented by the modern.ircdocs.horse "Formatting" page; not in any RFC):
 * \x02 bold, \x03 colour with optional `fg[,bg]` (1–2 digits each), \x04 hex colour `RRGGBB[,RRGGBB]`,
 * \x0F reset, \x11 monospace, \x16 reverse, \x1D italic, \x1E strikethrough, \x1F underline.
 */
const FORMATTING =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these control codes are exactly IRC's formatting codes
  /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?|[\x02\x0F\x11\x16\x1D\x1E\x1F]/g;

/** XML 1.0 §2.2 Char: everything outside #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF],
 * lone surrogates included (the `u` flag makes an unpaired surrogate one match). */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Removes IRC formatting codes. */
export function stripFormatting(text: string): string {
  return text.replace(FORMATTING, '');
}

/** Removes every character XML 1.0 cannot carry (RFC 6120 §11.1 restricts stanzas to XML 1.0 characters). */
export function xmlSafe(text: string): string {
  return text.replace(NOT_XML_CHAR, '');
}

/** Text from IRC as it may be delivered to XMPP: formatting stripped, then only XML 1.0 characters. */
export function ircTextToXmpp(text: string): string {
  return xmlSafe(stripFormatting(text));
}

export interface Ctcp {
  /** Upper-cased CTCP command (ACTION, VERSION …). */
  readonly command: string;
  readonly args: string;
}

/**
 * Recognises a CTCP message: the PRIVMSG/NOTICE text starts with \x01 (CTCP, draft-oakley-irc-ctcp-02 §2). The
 * closing \x01 is optional there ("the final delimiter MAY be omitted"), which we honour.
 */
export function parseCtcp(text: string): Ctcp | undefined {
  if (text.charCodeAt(0) !== 1) return undefined;
  const inner = text.endsWith('\x01') && text.length > 1 ? text.slice(1, -1) : text.slice(1);
  const space = inner.indexOf(' ');
  const command = (space < 0 ? inner : inner.slice(0, space)).toUpperCase();
  if (command === '') return undefined;
  return { command, args: space < 0 ? '' : inner.slice(space + 1) };
}

/** CTCP ACTION wrapping for `text`. */
export function ctcpAction(text: string): string {
  return `\x01ACTION ${text}\x01`;
}

/** Bytes `ctcpAction` adds around the text: "\x01ACTION " and the closing "\x01". */
export const CTCP_ACTION_OVERHEAD = 9;

/** XEP-0245 §3: a body starting with "/me " is an action; it becomes CTCP ACTION on IRC. */
export function parseXmppBody(body: string): { text: string; action: boolean } {
  return body.startsWith('/me ') ? { text: body.slice(4), action: true } : { text: body, action: false };
}

/** IRC text (already received, maybe a CTCP ACTION) → XMPP body, or undefined for other CTCP requests. */
export function ircToXmppBody(text: string): string | undefined {
  const ctcp = parseCtcp(text);
  if (!ctcp) return ircTextToXmpp(text);
  if (ctcp.command !== 'ACTION') return undefined;
  return `/me ${ircTextToXmpp(ctcp.args)}`;
}

export interface LineBudgetInput {
  /** PRIVMSG or NOTICE. */
  readonly command: string;
  readonly target: string;
  /** The prefix the server prepends when relaying: our nick, and user/host if known. */
  readonly nick: string;
  readonly user?: string;
  readonly host?: string;
  readonly action?: boolean;
}

/** Assumed lengths when our user and host are not known yet: USERLEN 10 (plus '~') and a 63-octet host label. */
const UNKNOWN_USER_BYTES = 11;
const UNKNOWN_HOST_BYTES = 63;

/**
 * Bytes of text that fit one message as the *receiving* client sees it: RFC 2812 §2.3 counts 512 bytes including
 * the `:nick!user@host ` prefix the server adds when relaying and the CR-LF, so all of that is subtracted.
 */
export function textBudget(i: LineBudgetInput): number {
  const len = (s: string) => Buffer.byteLength(s, 'utf8');
  const prefix = 1 + len(i.nick) + 1 + (i.user ? len(i.user) : UNKNOWN_USER_BYTES) + 1;
  const host = i.host ? len(i.host) : UNKNOWN_HOST_BYTES;
  const overhead = prefix + host + 1 + len(`${i.command} ${i.target} :`) + 2;
  return 512 - overhead - (i.action ? CTCP_ACTION_OVERHEAD : 0);
}

/**
 * Splits text into chunks of at most `maxBytes` UTF-8 bytes. IRC lines cannot carry line breaks (RFC 2812 §2.3.1
 * excludes CR and LF), so each line of the input is sent separately; empty lines are skipped (ERR_NOTEXTTOSEND).
 * Cuts fall on code point boundaries (never inside a UTF-8 sequence or a surrogate pair) and prefer the last
 * whitespace in the second half of a chunk, which is dropped at the cut.
 */
export function splitText(text: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new RangeError('maxBytes must leave room for one code point');
  const out: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    let rest = line;
    while (Buffer.byteLength(rest, 'utf8') > maxBytes) {
      const { cut, skip } = findCut(rest, maxBytes);
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut + skip);
    }
    if (rest !== '') out.push(rest);
  }
  return out.filter((s) => s !== '');
}

function findCut(s: string, maxBytes: number): { cut: number; skip: number } {
  let bytes = 0;
  let i = 0;
  let lastSpace = -1;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    if (ch === ' ' || ch === '\t') lastSpace = i;
    bytes += n;
    i += ch.length;
  }
  if (lastSpace > 0 && lastSpace >= i / 2) return { cut: lastSpace, skip: 1 };
  return { cut: i, skip: 0 };
}

/** RFC 2812 §2.3.1: special = %x5B-60 / %x7B-7D ( "[", "]", "\", "`", "_", "^", "{", "|", "}" ). */
const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;

/**
 * RFC 2812 §2.3.1 nickname grammar. The RFC caps nicknames at 9 characters, but servers announce their own
 * NICKLEN (RPL_ISUPPORT) and most allow more, so the length cap is a parameter.
 */
export function isValidNick(nick: string, maxLength = 30): boolean {
  return nick.length >= 1 && nick.length <= maxLength && NICK.test(nick);
}

/**
 * RFC 2812 §1.3: channel names start with '&', '#', '+' or '!', are at most 50 characters, and contain no space,
 * control G (^G), comma or colon (§2.3.1 chanstring also excludes NUL, CR and LF).
 */
export function isValidChannel(name: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 2812 §2.3.1 chanstring excludes these controls
  return /^[#&+!][^\0\x07\r\n ,:]{1,49}$/.test(name);
}

export type CaseMapping = 'ascii' | 'rfc1459' | 'strict-rfc1459';

/**
 * RFC 1459 §2.2 / RFC 2812 §2.2: "{}|" are the lower-case forms of "[]\" (and, for 'rfc1459', '^' of '~'), so
 * nicks and channels compare after this folding; the server announces which mapping applies in CASEMAPPING.
 */
export function ircLower(s: string, mapping: CaseMapping = 'rfc1459'): string {
  let out = s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (mapping === 'ascii') return out;
  out = out.replace(/[[\]\\]/g, (c) => ({ '[': '{', ']': '}', '\\': '|' })[c] ?? c);
  return mapping === 'rfc1459' ? out.replace(/~/g, '^') : out;
}
