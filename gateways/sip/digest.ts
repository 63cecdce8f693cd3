// HTTP Digest authentication as SIP uses it (RFC 3261 §22.4, RFC 2617 §3, RFC 7616 §3 with SHA-256, RFC 8760 for
// SIP's algorithm choice). Client side: answer a registrar's or proxy's 401/407 challenge with Authorization /
// Proxy-Authorization. Server side: challenge and verify inbound requests (mode "domain" with inbound_auth).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { quote } from './syntax.js';

/** Algorithms this implementation speaks, strongest first (RFC 8760 §2.4: prefer SHA-256 over MD5). */
const ALGORITHMS = ['SHA-256', 'SHA-256-sess', 'MD5', 'MD5-sess'] as const;
export type DigestAlgorithm = (typeof ALGORITHMS)[number];

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque?: string;
  readonly algorithm: DigestAlgorithm;
  /** RFC 2617 §3.2.1 qop-options, lowercased; empty for an RFC 2069 challenge. */
  readonly qop: readonly string[];
  readonly stale: boolean;
}

/** Parses `Digest k=v, k="v", …` (RFC 2617 §3.2.1); null for other schemes or malformed values. */
export function parseAuthParams(value: string): { scheme: string; params: Map<string, string> } | null {
  const m = /^\s*([A-Za-z0-9-]+)\s+(.*)$/s.exec(value);
  if (!m) return null;
  const params = new Map<string, string>();
  const rest = m[2] ?? '';
  let i = 0;
  while (i < rest.length) {
    while (i < rest.length && /[\s,]/.test(rest[i] ?? '')) i++;
    if (i >= rest.length) break;
    const eq = rest.indexOf('=', i);
    if (eq < 0) return null;
    const key = rest.slice(i, eq).trim().toLowerCase();
    if (!/^[a-z0-9-]+$/.test(key)) return null;
    i = eq + 1;
    while (rest[i] === ' ') i++;
    let val = '';
    if (rest[i] === '"') {
      i++;
      while (i < rest.length && rest[i] !== '"') {
        if (rest[i] === '\\') i++;
        val += rest[i] ?? '';
        i++;
      }
      if (rest[i] !== '"') return null;
      i++;
    } else {
      const end = rest.slice(i).search(/[\s,]/);
      val = end < 0 ? rest.slice(i) : rest.slice(i, i + end);
      i += val.length;
    }
    params.set(key, val);
  }
  return { scheme: (m[1] ?? '').toLowerCase(), params };
}

export function parseChallenge(value: string): DigestChallenge | null {
  const a = parseAuthParams(value);
  if (a?.scheme !== 'digest') return null;
  const realm = a.params.get('realm');
  const nonce = a.params.get('nonce');
  const alg = (a.params.get('algorithm') ?? 'MD5').toUpperCase();
  const algorithm = ALGORITHMS.find((x) => x.toUpperCase() === alg);
  if (realm === undefined || !nonce || !algorithm) return null;
  const opaque = a.params.get('opaque');
  const qop = (a.params.get('qop') ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter((q) => q !== '');
  return {
    realm,
    nonce,
    ...(opaque !== undefined ? { opaque } : {}),
    algorithm,
    qop,
    stale: (a.params.get('stale') ?? '').toLowerCase() === 'true',
  };
}

/** Of several challenges (one per algorithm, RFC 8760 §2.4), the strongest this side speaks. */
export function chooseChallenge(values: readonly string[]): DigestChallenge | null {
  const parsed = values.map(parseChallenge).filter((c): c is DigestChallenge => c !== null);
  for (const alg of ALGORITHMS) {
    const hit = parsed.find((c) => c.algorithm === alg);
    if (hit) return hit;
  }
  return null;
}

const hash = (alg: DigestAlgorithm, s: string | Buffer) =>
  createHash(alg.startsWith('SHA-256') ? 'sha256' : 'md5')
    .update(s)
    .digest('hex');

export interface DigestInput {
  readonly username: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  readonly body?: Buffer;
  readonly cnonce: string;
  readonly nc: number;
}

/** RFC 2617 §3.2.2.1 / RFC 7616 §3.4.1 request-digest. Returns the response and the qop actually used. */
export function digestResponse(ch: DigestChallenge, inp: DigestInput): { response: string; qop?: string } {
  const alg = ch.algorithm;
  let ha1 = hash(alg, `${inp.username}:${ch.realm}:${inp.password}`);
  if (alg.endsWith('-sess')) ha1 = hash(alg, `${ha1}:${ch.nonce}:${inp.cnonce}`);
  const qop = ch.qop.includes('auth') ? 'auth' : ch.qop.includes('auth-int') ? 'auth-int' : undefined;
  const ha2 =
    qop === 'auth-int'
      ? hash(alg, `${inp.method}:${inp.uri}:${hash(alg, inp.body ?? Buffer.alloc(0))}`)
      : hash(alg, `${inp.method}:${inp.uri}`);
  const nc = inp.nc.toString(16).padStart(8, '0');
  const response =
    qop === undefined
      ? hash(alg, `${ha1}:${ch.nonce}:${ha2}`)
      : hash(alg, `${ha1}:${ch.nonce}:${nc}:${inp.cnonce}:${qop}:${ha2}`);
  return qop === undefined ? { response } : { response, qop };
}

/** The Authorization / Proxy-Authorization value (RFC 2617 §3.2.2, RFC 3261 §22.4). */
export function authorizationHeader(ch: DigestChallenge, inp: DigestInput): string {
  const { response, qop } = digestResponse(ch, inp);
  const parts = [
    `username=${quote(inp.username)}`,
    `realm=${quote(ch.realm)}`,
    `nonce=${quote(ch.nonce)}`,
    `uri=${quote(inp.uri)}`,
    `response=${quote(response)}`,
    `algorithm=${ch.algorithm}`,
  ];
  if (qop !== undefined)
    parts.push(`qop=${qop}`, `nc=${inp.nc.toString(16).padStart(8, '0')}`, `cnonce=${quote(inp.cnonce)}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${quote(ch.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

/**
 * One account's digest state towards a registrar/proxy: the last challenge of each kind (401 WWW-Authenticate,
 * 407 Proxy-Authenticate) and its nonce count, so later requests authenticate pre-emptively (RFC 3261 §22.3).
 * Whether a retry can help is decided per request by the caller (see endpoint.ts): a second challenge right after
 * answering a fresh one, without stale=true (RFC 2617 §3.2.1), means the credentials were refused.
 */
export class DigestClient {
  private readonly challenges = new Map<'www' | 'proxy', { ch: DigestChallenge; nc: number }>();

  constructor(
    private readonly username: string,
    private readonly password: string,
  ) {}

  /** Records the challenge of a 401/407 response; null when none is usable (unknown scheme or algorithm). */
  challenged(status: number, values: readonly string[]): DigestChallenge | null {
    const ch = chooseChallenge(values);
    if (ch) this.challenges.set(status === 407 ? 'proxy' : 'www', { ch, nc: 0 });
    return ch;
  }

  /** Authorization headers for a request, from the challenges seen so far (none before the first). */
  headers(method: string, uri: string, body?: Buffer): [string, string][] {
    const out: [string, string][] = [];
    for (const [kind, st] of this.challenges) {
      st.nc++;
      const value = authorizationHeader(st.ch, {
        username: this.username,
        password: this.password,
        method,
        uri,
        ...(body ? { body } : {}),
        cnonce: randomBytes(8).toString('hex'),
        nc: st.nc,
      });
      out.push([kind === 'proxy' ? 'Proxy-Authorization' : 'Authorization', value]);
    }
    return out;
  }

  /** Forgets the challenges (new credentials). */
  reset(): void {
    this.challenges.clear();
  }
}

/** Nonces a DigestServer accepts for this long before answering stale=true. */
const NONCE_LIFETIME_MS = 5 * 60_000;

/**
 * The gateway as a digest server (RFC 3261 §22.1, §22.4): stateless nonces (a timestamp and its HMAC), one
 * challenge per algorithm (RFC 8760 §2.4, SHA-256 first). Nonce counts are not tracked (no replay window).
 */
export class DigestServer {
  private readonly secret = randomBytes(32);

  constructor(
    readonly realm: string,
    private readonly password: (user: string) => string | undefined,
  ) {}

  private nonce(now = Date.now()): string {
    const ts = now.toString(16);
    return `${ts}.${createHmac('sha256', this.secret).update(ts).digest('base64url')}`;
  }

  /** The WWW-Authenticate values of a 401 (RFC 3261 §22.1). */
  challenge(stale = false): string[] {
    const nonce = this.nonce();
    return (['SHA-256', 'MD5'] as const).map(
      (alg) =>
        `Digest realm=${quote(this.realm)}, nonce=${quote(nonce)}, algorithm=${alg}, qop="auth"${stale ? ', stale=TRUE' : ''}`,
    );
  }

  /** Checks an Authorization value; `stale`: right password with an expired nonce (challenge again, stale=true). */
  verify(method: string, value: string | undefined): { ok: true; user: string } | { ok: false; stale: boolean } {
    const a = value ? parseAuthParams(value) : null;
    if (a?.scheme !== 'digest') return { ok: false, stale: false };
    const p = a.params;
    const user = p.get('username');
    const nonce = p.get('nonce') ?? '';
    const uri = p.get('uri');
    const got = p.get('response');
    const alg = ALGORITHMS.find((x) => x === (p.get('algorithm') ?? 'MD5').toUpperCase());
    const password = user === undefined ? undefined : this.password(user);
    if (!user || !uri || !got || !alg || password === undefined || p.get('realm') !== this.realm) {
      return { ok: false, stale: false };
    }
    const [ts = '', mac = ''] = nonce.split('.');
    const expect = createHmac('sha256', this.secret).update(ts).digest('base64url');
    if (mac.length !== expect.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expect))) {
      return { ok: false, stale: false };
    }
    const qop = p.get('qop');
    const ch: DigestChallenge = { realm: this.realm, nonce, algorithm: alg, qop: qop ? [qop] : [], stale: false };
    const { response } = digestResponse(ch, {
      username: user,
      password,
      method,
      uri,
      cnonce: p.get('cnonce') ?? '',
      nc: Number.parseInt(p.get('nc') ?? '1', 16) || 1,
    });
    if (response.length !== got.length || !timingSafeEqual(Buffer.from(response), Buffer.from(got.toLowerCase()))) {
      return { ok: false, stale: false };
    }
    if (Date.now() - Number.parseInt(ts, 16) > NONCE_LIFETIME_MS) return { ok: false, stale: true };
    return { ok: true, user };
  }
}
