// SIP messages (RFC 3261 §7): parse and serialise requests and responses, pure and strict. Limits are enforced
// before anything is interpreted: whole message size, header count, start-line shape, UTF-8 in the header
// section (§7.3.1, §25: headers are UTF-8 text). Bodies stay bytes (a MESSAGE body with invalid UTF-8 is the
// application's business, RFC 3428 §7). Stream framing by Content-Length is in framing.ts.
import { isToken, parseCSeq, parseVia, splitList } from './syntax.js';

export { REASONS } from './reasons.js';

export const SIP_VERSION = 'SIP/2.0';

export interface SipLimits {
  /** Largest message, start line + headers + body, in bytes. */
  readonly maxMessageBytes: number;
  /** Most header lines (after unfolding). */
  readonly maxHeaders: number;
  /** Largest start line + header section, in bytes. */
  readonly maxHeaderBytes: number;
}

/** 64 KB (the largest UDP datagram) for a message on any transport; 16 KB for its header section. */
export const DEFAULT_LIMITS: SipLimits = { maxMessageBytes: 65_535, maxHeaders: 100, maxHeaderBytes: 16_384 };

/** RFC 3261 §7.3.3 compact forms, plus RFC 6665 §8.2.1 (o, u), RFC 3515 (r), RFC 3892 (b), RFC 4028 (x). */
const COMPACT: Readonly<Record<string, string>> = {
  i: 'Call-ID',
  m: 'Contact',
  e: 'Content-Encoding',
  l: 'Content-Length',
  c: 'Content-Type',
  f: 'From',
  s: 'Subject',
  k: 'Supported',
  t: 'To',
  v: 'Via',
  o: 'Event',
  u: 'Allow-Events',
  r: 'Refer-To',
  b: 'Referred-By',
  x: 'Session-Expires',
};

/** Spellings that the usual capitalisation rule gets wrong. */
const SPECIAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'mime-version': 'MIME-Version',
};

/** Fields whose grammar is a comma-separated list (RFC 3261 §20, RFC 3265/6665, RFC 3903). */
const LIST_FIELDS: ReadonlySet<string> = new Set([
  'Via',
  'Contact',
  'Route',
  'Record-Route',
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Allow',
  'Allow-Events',
  'Supported',
  'Require',
  'Proxy-Require',
  'Unsupported',
  'Content-Language',
  'Content-Encoding',
  'In-Reply-To',
]);

/** The full, canonically capitalised header name for `name` (compact forms expanded). */
export function canonicalName(name: string): string {
  if (name.length === 1) {
    const full = COMPACT[name.toLowerCase()];
    if (full) return full;
  }
  const lower = name.toLowerCase();
  return SPECIAL[lower] ?? lower.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** Ordered header fields; lookups are case-insensitive on canonical names. */
export class SipHeaders {
  private readonly list: [string, string][] = [];

  constructor(init?: Iterable<readonly [string, string]>) {
    if (init) for (const [k, v] of init) this.add(k, v);
  }

  /** The first value of `name`. */
  get(name: string): string | undefined {
    const n = canonicalName(name);
    return this.list.find(([k]) => k === n)?.[1];
  }

  /**
   * Every value of `name`; for the list-valued fields of RFC 3261 §7.3.1 (Via, Contact, Route, Accept …) a
   * comma-separated line is split into its elements. Other fields (Subject, WWW-Authenticate …) keep their commas.
   */
  all(name: string): string[] {
    const n = canonicalName(name);
    const raw = this.list.filter(([k]) => k === n).map(([, v]) => v);
    return LIST_FIELDS.has(n) ? raw.flatMap((v) => splitList(v)) : raw;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  add(name: string, value: string): this {
    this.list.push([canonicalName(name), value]);
    return this;
  }

  /** Replaces every `name` field by one with `value` (or removes them when value is undefined). */
  set(name: string, value: string | undefined): this {
    const n = canonicalName(name);
    const at = this.list.findIndex(([k]) => k === n);
    this.delete(n);
    if (value !== undefined) this.list.splice(at < 0 ? this.list.length : at, 0, [n, value]);
    return this;
  }

  /** Adds a field in front of the others of its name (a new top Via, RFC 3261 §8.1.1.7). */
  prepend(name: string, value: string): this {
    const n = canonicalName(name);
    const at = this.list.findIndex(([k]) => k === n);
    this.list.splice(at < 0 ? this.list.length : at, 0, [n, value]);
    return this;
  }

  delete(name: string): this {
    const n = canonicalName(name);
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]?.[0] === n) this.list.splice(i, 1);
    return this;
  }

  /** Removes the first field of `name` (the top Via when a response goes upstream). */
  shift(name: string): string | undefined {
    const n = canonicalName(name);
    const at = this.list.findIndex(([k]) => k === n);
    if (at < 0) return undefined;
    return this.list.splice(at, 1)[0]?.[1];
  }

  entries(): readonly (readonly [string, string])[] {
    return this.list;
  }

  get size(): number {
    return this.list.length;
  }

  clone(): SipHeaders {
    return new SipHeaders(this.list);
  }
}

export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly headers: SipHeaders;
  readonly body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: SipHeaders;
  readonly body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

/**
 * A message that cannot be accepted. `status` is the response a request deserves (400 Bad Request, 413 Request
 * Entity Too Large, 505 Version Not Supported, 513 Message Too Large: RFC 3261 §21.4, §21.5). `head` carries what
 * was parsed of the start line and headers, so that a response can still copy Via, From, To, Call-ID and CSeq
 * (§8.2.6.2); it is absent when even that failed.
 */
export class SipParseError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 413 | 505 | 513,
    readonly head?: { readonly request: boolean; readonly method?: string; readonly headers: SipHeaders },
  ) {
    super(message);
    this.name = 'SipParseError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const REQUEST_LINE = /^([^\s]+) ([^\s]+) (SIP\/\d+\.\d+)$/;
const STATUS_LINE = /^(SIP\/\d+\.\d+) (\d{3}) ?(.*)$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: header text excludes controls but HTAB (RFC 3261 §25.1)
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** The parsed head of a message: start line and headers, before the body is known. */
export interface SipHead {
  readonly start: { request: true; method: string; uri: string } | { request: false; status: number; reason: string };
  readonly headers: SipHeaders;
}

/**
 * Parses the start line and header section (`head` excludes the blank line). RFC 3261 §7.3.1 folding: a line that
 * starts with SP or HTAB continues the previous field. Throws SipParseError.
 */
export function parseHead(head: Buffer, limits: SipLimits = DEFAULT_LIMITS): SipHead {
  if (head.length > limits.maxHeaderBytes) throw new SipParseError('header section too large', 513, salvage(head));
  let text: string;
  try {
    text = utf8.decode(head);
  } catch {
    throw new SipParseError('the header section is not valid UTF-8', 400);
  }
  const lines = text.split(/\r?\n/);
  const first = lines.shift() ?? '';
  const headers = new SipHeaders();
  let fields = 0;
  let current: [string, string] | null = null;
  const flush = () => {
    if (current) headers.add(current[0], current[1].trim());
    current = null;
  };
  for (const line of lines) {
    if (line === '') throw new SipParseError('empty line inside the header section', 400);
    if (line[0] === ' ' || line[0] === '\t') {
      if (!current) throw new SipParseError('continuation line without a header field', 400);
      (current as [string, string])[1] += ` ${line.trim()}`;
      continue;
    }
    flush();
    if (++fields > limits.maxHeaders) throw new SipParseError(`more than ${limits.maxHeaders} header fields`, 513);
    const colon = line.indexOf(':');
    const name = colon < 0 ? '' : line.slice(0, colon).trim();
    if (name === '' || !isToken(name)) throw new SipParseError(`malformed header line: ${line.slice(0, 40)}`, 400);
    current = [name, line.slice(colon + 1)];
  }
  flush();
  for (const [, v] of headers.entries()) {
    if (CONTROL.test(v)) throw new SipParseError('control character in a header value', 400);
  }
  const rq = REQUEST_LINE.exec(first);
  if (rq) {
    const method = rq[1] ?? '';
    const head = { request: true, method, headers };
    if (!isToken(method)) throw new SipParseError('malformed method', 400, head);
    if (rq[3] !== SIP_VERSION) throw new SipParseError(`unsupported version ${rq[3]}`, 505, head);
    const parsed: SipHead = { start: { request: true, method, uri: rq[2] ?? '' }, headers };
    checkRequired(parsed);
    return parsed;
  }
  const st = STATUS_LINE.exec(first);
  if (st && st[1] === SIP_VERSION && !CONTROL.test(st[3] ?? '')) {
    const status = Number(st[2]);
    if (status < 100 || status > 699) throw new SipParseError('status code out of range', 400);
    const parsed: SipHead = { start: { request: false, status, reason: st[3] ?? '' }, headers };
    checkRequired(parsed);
    return parsed;
  }
  throw new SipParseError(`malformed start line: ${first.slice(0, 60)}`, 400, { request: true, headers });
}

/** RFC 3261 §8.1.1: every request (and so every response) carries To, From, CSeq, Call-ID and Via. */
function checkRequired(h: SipHead): void {
  const { headers, start } = h;
  const head = start.request ? { request: true, method: start.method, headers } : { request: false, headers };
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    if (!headers.has(name)) throw new SipParseError(`missing ${name} header`, 400, head);
  }
  const cseq = parseCSeq(headers.get('CSeq') ?? '');
  if (!cseq) throw new SipParseError('malformed CSeq', 400, head);
  // §8.2.2 / §12.2.2: the CSeq method must match the request method.
  if (start.request && cseq.method !== start.method) throw new SipParseError('CSeq method mismatch', 400, head);
  if (!parseVia(headers.all('Via')[0] ?? '')) throw new SipParseError('malformed Via', 400, head);
  const cl = headers.get('Content-Length');
  if (cl !== undefined && !/^\s*\d{1,10}\s*$/.test(cl)) throw new SipParseError('malformed Content-Length', 400, head);
}

/**
 * Parses one datagram (RFC 3261 §18.3): the body is what follows the blank line, cut to Content-Length when it is
 * present; a Content-Length larger than what arrived is an error (400).
 */
export function parseDatagram(buf: Buffer, limits: SipLimits = DEFAULT_LIMITS): SipMessage {
  if (buf.length > limits.maxMessageBytes) throw new SipParseError('message too large', 513, salvage(buf));
  const end = buf.indexOf('\r\n\r\n');
  if ((end < 0 ? buf.length : end) > limits.maxHeaderBytes) {
    throw new SipParseError('header section too large', 513, salvage(buf));
  }
  const head = parseHead(end < 0 ? trimCrlf(buf) : buf.subarray(0, end), limits);
  let body = end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4);
  const cl = contentLength(head.headers);
  if (cl !== undefined) {
    if (cl > body.length) {
      throw new SipParseError('Content-Length larger than the datagram', 400, headInfo(head));
    }
    body = body.subarray(0, cl);
  }
  return build(head, Buffer.from(body));
}

/** The fields a response must copy (RFC 3261 §8.2.6.2), read from the first lines of an oversized message. */
const COPIED: ReadonlySet<string> = new Set(['Via', 'From', 'To', 'Call-ID', 'CSeq']);

/**
 * What can be read of an oversized message to answer it (513 Message Too Large, RFC 3261 §21.5.11): the start
 * line and the Via, From, To, Call-ID and CSeq fields among the first 8 KB, when they are well-formed.
 */
export function salvage(buf: Buffer): SipParseError['head'] {
  const text = buf.subarray(0, 8192).toString('latin1');
  const lines = text.split('\r\n');
  const first = lines.shift() ?? '';
  const m = REQUEST_LINE.exec(first);
  if (!m) return undefined;
  const headers = new SipHeaders();
  for (const line of lines) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = canonicalName(line.slice(0, colon).trim());
    const value = line.slice(colon + 1).trim();
    if (COPIED.has(name) && value.length < 1024 && !CONTROL.test(value) && /^[\x20-\x7e]*$/.test(value)) {
      headers.add(name, value);
    }
  }
  for (const name of COPIED) if (!headers.has(name)) return undefined;
  const cseq = parseCSeq(headers.get('CSeq') ?? '');
  if (!cseq || !parseVia(headers.all('Via')[0] ?? '')) return undefined;
  return { request: true, method: m[1] ?? '', headers };
}

function trimCrlf(b: Buffer): Buffer {
  let e = b.length;
  while (e > 0 && (b[e - 1] === 0x0a || b[e - 1] === 0x0d)) e--;
  return b.subarray(0, e);
}

export function contentLength(h: SipHeaders): number | undefined {
  const v = h.get('Content-Length');
  return v === undefined ? undefined : Number(v.trim());
}

export function headInfo(h: SipHead): SipParseError['head'] {
  return h.start.request
    ? { request: true, method: h.start.method, headers: h.headers }
    : { request: false, headers: h.headers };
}

export function build(head: SipHead, body: Buffer): SipMessage {
  const s = head.start;
  return s.request
    ? { kind: 'request', method: s.method, uri: s.uri, headers: head.headers, body }
    : { kind: 'response', status: s.status, reason: s.reason, headers: head.headers, body };
}

/** Serialises with a correct Content-Length (RFC 3261 §20.14: always sent, also for an empty body). */
export function serialize(m: SipMessage): Buffer {
  const start = m.kind === 'request' ? `${m.method} ${m.uri} ${SIP_VERSION}` : `${SIP_VERSION} ${m.status} ${m.reason}`;
  let head = `${start}\r\n`;
  for (const [k, v] of m.headers.entries()) {
    if (k === 'Content-Length') continue;
    // Never let a value smuggle a header line (CRLF injection from XMPP text).
    head += `${k}: ${v.replace(/[\r\n]+/g, ' ')}\r\n`;
  }
  head += `Content-Length: ${m.body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), m.body]);
}

/** Decodes a text body as UTF-8 (RFC 3428 §7 default charset); null when the bytes are not valid UTF-8. */
export function decodeText(body: Buffer): string | null {
  try {
    return utf8.decode(body);
  } catch {
    return null;
  }
}
