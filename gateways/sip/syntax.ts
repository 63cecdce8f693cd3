// Header-value grammar of RFC 3261 §25.1 shared by the SIP stack: tokens, quoted strings, generic parameters,
// comma-separated lists, name-addr (From/To/Contact), Via and CSeq. Pure: strings in, plain values out; every
// parser returns null on malformed input instead of throwing.

/** RFC 3261 §25.1 token. */
const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;

export const isToken = (s: string): boolean => TOKEN.test(s);

/** Generic parameters (`;name=value` or `;flag`), names lowercased (RFC 3261 §7.3.1: case-insensitive). */
export type Params = Map<string, string | null>;

/** RFC 3261 §25.1 quoted-string: escapes `"` and `\`; control characters other than HTAB are dropped. */
export function quote(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: qdtext excludes controls (RFC 3261 §25.1)
  return `"${s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Reads a quoted string starting at s[i] === '"'; returns the unescaped text and the index after it. */
function readQuoted(s: string, i: number): { text: string; end: number } | null {
  let text = '';
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j];
    if (c === '\\') {
      if (j + 1 >= s.length) return null;
      text += s[++j];
    } else if (c === '"') {
      return { text, end: j + 1 };
    } else {
      text += c;
    }
  }
  return null;
}

/** Splits a header value at top-level commas (RFC 3261 §7.3.1), not inside quotes or `<…>`. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '<') depth++;
    else if (c === '>') depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v !== '');
}

/**
 * Parses `;a=b;c;d="q"` (RFC 3261 §25.1 generic-param). `s` may start with the first ';' or directly with a name.
 * Returns null on a syntax error.
 */
export function parseParams(s: string, sep = ';'): Params | null {
  const params: Params = new Map();
  let i = 0;
  const n = s.length;
  const skipWs = () => {
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  skipWs();
  if (s[i] === sep) i++;
  while (i < n) {
    skipWs();
    let j = i;
    while (j < n && s[j] !== '=' && s[j] !== sep && s[j] !== ' ' && s[j] !== '\t') j++;
    const name = s.slice(i, j).toLowerCase();
    if (name === '' || !isToken(name)) return null;
    i = j;
    skipWs();
    let value: string | null = null;
    if (s[i] === '=') {
      i++;
      skipWs();
      if (s[i] === '"') {
        const q = readQuoted(s, i);
        if (!q) return null;
        value = q.text;
        i = q.end;
      } else {
        j = i;
        while (j < n && s[j] !== sep && s[j] !== ' ' && s[j] !== '\t') j++;
        value = s.slice(i, j);
        if (value === '') return null;
        i = j;
      }
    }
    params.set(name, value);
    skipWs();
    if (i < n) {
      if (s[i] !== sep) return null;
      i++;
    }
  }
  return params;
}

/** Serialises parameters; values that are not tokens are quoted. */
export function formatParams(params: Params | undefined, sep = ';'): string {
  if (!params) return '';
  let out = '';
  for (const [k, v] of params) {
    out += v === null ? `${sep}${k}` : `${sep}${k}=${isToken(v) || /^\[[0-9a-fA-F:.]+\]$/.test(v) ? v : quote(v)}`;
  }
  return out;
}

/** A From / To / Contact / Route value (RFC 3261 §20.10, §20.20, §20.39): `"Name" <uri>;tag=x`. */
export interface NameAddr {
  readonly display?: string;
  /** The URI text as written (parse it with uri.ts). */
  readonly uri: string;
  readonly params: Params;
}

/** Parses name-addr or addr-spec; for addr-spec the parameters after ';' belong to the header (§20.10). */
export function parseNameAddr(value: string): NameAddr | null {
  const s = value.trim();
  if (s === '') return null;
  let i = 0;
  let display: string | undefined;
  if (s[0] === '"') {
    const q = readQuoted(s, 0);
    if (!q) return null;
    display = q.text;
    i = q.end;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (s[i] !== '<') return null;
  }
  const lt = s.indexOf('<', i);
  if (lt >= 0) {
    const head = s.slice(i, lt).trim();
    if (display === undefined && head !== '') display = head;
    const gt = s.indexOf('>', lt);
    if (gt < 0) return null;
    const uri = s.slice(lt + 1, gt).trim();
    const params = parseParams(s.slice(gt + 1));
    if (uri === '' || !params) return null;
    return display === undefined ? { uri, params } : { display, uri, params };
  }
  if (display !== undefined) return null;
  // addr-spec: the URI must not contain ',', '?' or ';' unescaped (§20.10); its ';' parameters are header ones.
  const semi = s.indexOf(';');
  const uri = (semi < 0 ? s : s.slice(0, semi)).trim();
  const params = semi < 0 ? new Map() : parseParams(s.slice(semi));
  if (uri === '' || /[\s<>"]/.test(uri) || !params) return null;
  return { uri, params };
}

export function formatNameAddr(na: NameAddr): string {
  const display = na.display !== undefined && na.display !== '' ? `${quote(na.display)} ` : '';
  return `${display}<${na.uri}>${formatParams(na.params)}`;
}

/** One Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;branch=…`. */
export interface Via {
  readonly transport: string;
  readonly host: string;
  readonly port?: number;
  readonly params: Params;
}

export function parseVia(value: string): Via | null {
  const m =
    /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/.exec(
      value.trim(),
    );
  if (!m) return null;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  const params = parseParams(m[4] ?? '');
  if (!params) return null;
  const host = m[2] ?? '';
  return port === undefined
    ? { transport: (m[1] ?? '').toUpperCase(), host, params }
    : { transport: (m[1] ?? '').toUpperCase(), host, port, params };
}

export function formatVia(v: Via): string {
  return `SIP/2.0/${v.transport} ${v.host}${v.port === undefined ? '' : `:${v.port}`}${formatParams(v.params)}`;
}

/** RFC 3261 §8.1.1.7: branches of RFC 3261 transactions start with the magic cookie. */
export const BRANCH_COOKIE = 'z9hG4bK';

/** CSeq (RFC 3261 §20.16): a 32-bit sequence number and the method. */
export function parseCSeq(value: string): { seq: number; method: string } | null {
  const m = /^(\d{1,10})\s+(\S+)$/.exec(value.trim());
  if (!m) return null;
  const seq = Number(m[1]);
  if (seq > 0xffffffff || !isToken(m[2] ?? '')) return null;
  return { seq, method: m[2] ?? '' };
}

/** Expires / Retry-After / Max-Forwards delta-seconds (RFC 3261 §25.1): digits, bounded. */
export function parseDelta(value: string | undefined): number | null {
  if (value === undefined) return null;
  const m = /^\s*(\d{1,10})/.exec(value);
  return m ? Math.min(Number(m[1]), 0xffffffff) : null;
}

/** A random token for tags, branches and Call-IDs (RFC 3261 §19.3: at least 32 bits of randomness). */
export function randomToken(bytes = 8): string {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return Buffer.from(a).toString('hex');
}
