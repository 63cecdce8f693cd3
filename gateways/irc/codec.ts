// Pure IRC line codec (no I/O): the RFC 2812 §2.3.1 message grammar with IRCv3 message-tags, the protocol's
// size limits, byte framing with a bounded buffer, and character-set decoding. Text conversions (formatting,
// CTCP, splitting, nick rules) live in text.ts and are re-exported here so callers import one codec.
export * from './text.js';

/** RFC 2812 §2.3: "IRC messages shall not exceed 512 characters in length, counting all characters including the
 * trailing CR-LF". */
export const MAX_LINE_BYTES = 512;
/** The same limit without the CR-LF: what a serialised message may occupy. */
export const MAX_MESSAGE_BYTES = MAX_LINE_BYTES - 2;
/** RFC 2812 §2.3: "a maximum of fifteen (15) parameters". */
export const MAX_PARAMS = 15;
/** IRCv3 message-tags "Size limit": the tag section (with its '@' and trailing space) adds at most 8191 bytes. */
export const MAX_TAGS_BYTES = 8191;

export interface IrcMessage {
  /** IRCv3 message-tags, unescaped; a tag without a value maps to ''. */
  readonly tags: Readonly<Record<string, string>>;
  readonly prefix?: string;
  /** Upper-cased command word, or a three-digit numeric reply. */
  readonly command: string;
  readonly params: readonly string[];
}

/** RFC 2812 §2.3.1 prefix: `servername / ( nickname [ [ "!" user ] "@" host ] )`. */
export interface IrcPrefix {
  /** Nickname, or the server name when the prefix names a server. */
  readonly nick: string;
  readonly user?: string;
  readonly host?: string;
}

export class IrcCodecError extends Error {
  override readonly name = 'IrcCodecError';
}

const COMMAND = /^(?:[A-Za-z]+|\d{3})$/; // RFC 2812 §2.3.1: command = 1*letter / 3digit
const TAG_UNESCAPE: Readonly<Record<string, string>> = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };
const TAG_ESCAPE: Readonly<Record<string, string>> = { ';': '\\:', ' ': '\\s', '\\': '\\\\', '\r': '\\r', '\n': '\\n' };

/** IRCv3 message-tags "Escaping values": unknown escapes drop the backslash, a trailing backslash is dropped. */
function unescapeTagValue(v: string): string {
  return v.replace(/\\(.?)/gs, (_m, c: string) => TAG_UNESCAPE[c] ?? c);
}

function parseTags(raw: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of raw.split(';')) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '' || key === '+') continue;
    tags[key] = eq < 0 ? '' : unescapeTagValue(item.slice(eq + 1));
  }
  return tags;
}

function skipSpaces(line: string, i: number): number {
  // RFC 2812 §2.3.1 separates with exactly one SPACE; servers in the wild send runs of them, so tolerate that.
  while (line.charCodeAt(i) === 0x20) i++;
  return i;
}

/**
 * Parses one line (without its CR-LF) per RFC 2812 §2.3.1. Returns undefined for an empty line or one that has no
 * valid command (the caller drops it: RFC 2812 §2.3 "empty messages are silently ignored"). Never throws.
 */
export function parseMessage(line: string): IrcMessage | undefined {
  let i = skipSpaces(line, 0);
  let tags: Record<string, string> = {};
  if (line[i] === '@') {
    const end = line.indexOf(' ', i);
    if (end < 0) return undefined;
    tags = parseTags(line.slice(i + 1, end));
    i = skipSpaces(line, end);
  }
  let prefix: string | undefined;
  if (line[i] === ':') {
    const end = line.indexOf(' ', i);
    if (end < 0) return undefined;
    prefix = line.slice(i + 1, end);
    i = skipSpaces(line, end);
  }
  let end = line.indexOf(' ', i);
  if (end < 0) end = line.length;
  const command = line.slice(i, end);
  if (!COMMAND.test(command)) return undefined;
  const params: string[] = [];
  i = skipSpaces(line, end);
  while (i < line.length) {
    // RFC 2812 §2.3.1: after 14 middle parameters the rest is the trailing one, with or without its ':'.
    if (line[i] === ':' || params.length === MAX_PARAMS - 1) {
      params.push(line.slice(line[i] === ':' ? i + 1 : i));
      break;
    }
    let stop = line.indexOf(' ', i);
    if (stop < 0) stop = line.length;
    params.push(line.slice(i, stop));
    i = skipSpaces(line, stop);
  }
  return { tags, ...(prefix !== undefined ? { prefix } : {}), command: command.toUpperCase(), params };
}

/** Splits an RFC 2812 §2.3.1 prefix into nick, user and host. */
export function parsePrefix(prefix: string): IrcPrefix {
  const at = prefix.indexOf('@');
  const bang = prefix.indexOf('!');
  const nickEnd = bang >= 0 && (at < 0 || bang < at) ? bang : at >= 0 ? at : prefix.length;
  const nick = prefix.slice(0, nickEnd);
  const user = bang >= 0 && (at < 0 || bang < at) ? prefix.slice(bang + 1, at >= 0 ? at : undefined) : undefined;
  const host = at >= 0 ? prefix.slice(at + 1) : undefined;
  return { nick, ...(user !== undefined ? { user } : {}), ...(host !== undefined ? { host } : {}) };
}

export interface OutgoingMessage {
  readonly command: string;
  readonly params?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Serialises a message without its CR-LF. Refuses (IrcCodecError) anything that would change meaning on the wire:
 * CR, LF or NUL in a parameter (RFC 2812 §2.3.1 excludes them; they would inject a second command), a middle
 * parameter that is empty, has a space or starts with ':', more than 15 parameters, or more than 510 bytes.
 */
export function serializeMessage(m: OutgoingMessage): string {
  const params = m.params ?? [];
  if (!COMMAND.test(m.command)) throw new IrcCodecError(`invalid command ${JSON.stringify(m.command)}`);
  if (params.length > MAX_PARAMS) throw new IrcCodecError(`more than ${MAX_PARAMS} parameters`);
  const parts = [m.command.toUpperCase()];
  params.forEach((p, idx) => {
    if (/[\r\n\0]/.test(p)) throw new IrcCodecError('CR, LF or NUL in a parameter');
    const last = idx === params.length - 1;
    const needsTrailing = p === '' || p.includes(' ') || p.startsWith(':');
    if (needsTrailing && !last) throw new IrcCodecError(`middle parameter ${JSON.stringify(p)} is not valid`);
    parts.push(needsTrailing ? `:${p}` : p);
  });
  const body = parts.join(' ');
  if (Buffer.byteLength(body, 'utf8') > MAX_MESSAGE_BYTES) {
    throw new IrcCodecError(`line of ${Buffer.byteLength(body, 'utf8')} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  }
  const tags = Object.entries(m.tags ?? {});
  if (tags.length === 0) return body;
  const tagText = tags
    .map(([k, v]) => (v === '' ? k : `${k}=${v.replace(/[; \\\r\n]/g, (c) => TAG_ESCAPE[c] ?? c)}`))
    .join(';');
  if (Buffer.byteLength(tagText, 'utf8') + 2 > MAX_TAGS_BYTES) throw new IrcCodecError('tags too long');
  return `@${tagText} ${body}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one received line. IRC has no declared character set (RFC 2812 §2.2 only notes that the protocol is
 * octet-based), and clients still send ISO-8859-1/CP1252. Policy: strict UTF-8 first; if the line is not valid
 * UTF-8, decode the whole line as ISO-8859-1 (latin1), which maps every octet to a character, so nothing is lost
 * or replaced and decoding never throws. A UTF-8 BOM is dropped.
 */
export function decodeLine(bytes: Uint8Array): string {
  try {
    const s = utf8.decode(bytes);
    return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
  } catch {
    // Not UTF-8: fall back to latin1 as documented above (not an error).
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }
}

/** RFC 2812 §2.3 (510 bytes before CR-LF) for the message, IRCv3 message-tags for the optional tag section. */
function withinLimits(line: Uint8Array): boolean {
  if (line[0] !== 0x40 /* '@' */) return line.length <= MAX_MESSAGE_BYTES;
  const space = line.indexOf(0x20);
  if (space < 0) return false;
  return space + 1 <= MAX_TAGS_BYTES && line.length - space - 1 <= MAX_MESSAGE_BYTES;
}

export interface FramedLines {
  /** Complete lines, without CR-LF (a lone LF also ends a line: RFC 2812 §8 allows either). */
  readonly lines: Buffer[];
  /** Lines discarded because they exceeded the limit. */
  readonly dropped: number;
}

/**
 * Cuts a byte stream into lines with a bounded buffer: a line longer than `maxBytes` (CR-LF included) is
 * discarded whole, never truncated into something that parses as a different command, and never held in memory
 * beyond `maxBytes`. The default admits the IRCv3 tag section on top of RFC 2812's 512 bytes.
 */
export class LineFramer {
  private buf: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(readonly maxBytes = MAX_LINE_BYTES + MAX_TAGS_BYTES) {}

  push(chunk: Buffer): FramedLines {
    const lines: Buffer[] = [];
    let dropped = 0;
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const lf = data.indexOf(0x0a);
      if (lf < 0) break;
      if (this.discarding || lf + 1 > this.maxBytes) {
        if (!this.discarding) dropped++;
        this.discarding = false;
      } else {
        const end = lf > 0 && data[lf - 1] === 0x0d ? lf - 1 : lf;
        const line = data.subarray(0, end);
        if (!withinLimits(line)) dropped++;
        else if (end > 0) lines.push(Buffer.from(line));
      }
      data = data.subarray(lf + 1);
    }
    if (data.length >= this.maxBytes) {
      // No LF within the limit: the line is already too long; drop what we hold and skip to the next LF.
      if (!this.discarding) dropped++;
      this.discarding = true;
      data = Buffer.alloc(0);
    }
    this.buf = this.discarding ? Buffer.alloc(0) : Buffer.from(data);
    return { lines, dropped };
  }
}
