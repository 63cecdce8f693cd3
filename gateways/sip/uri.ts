// SIP and SIPS URIs (RFC 3261 §19.1): parse and format with percent-decoding of the user part (§19.1.2, §25.1).
// Pure. Hosts are lowercased (§19.1.4: host comparison is case-insensitive); the user part keeps its case.
import { type Params, parseParams } from './syntax.js';

export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** The user part, percent-decoded (§19.1.2); undefined for a URI without one (`sip:pbx.example`). */
  readonly user?: string;
  readonly password?: string;
  /** Lowercased host name, IPv4 address or bracketed IPv6 reference. */
  readonly host: string;
  readonly port?: number;
  /** uri-parameters (`;transport=tcp;gr=…`), values percent-decoded, names lowercased. */
  readonly params: Params;
  /** The raw `?headers` part, when present (not interpreted). */
  readonly headers?: string;
}

// RFC 3261 §25.1: unreserved = alphanum / mark; user-unreserved; password characters; param characters.
const USER_SAFE = /[A-Za-z0-9\-_.!~*'()&=+$,;?/]/;
const PASSWORD_SAFE = /[A-Za-z0-9\-_.!~*'()&=+$,]/;
const PARAM_SAFE = /[A-Za-z0-9\-_.!~*'()[\]/:&+$]/;
const HOST =
  /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?)$/;

/** Percent-decodes (RFC 3261 §19.1.2) as UTF-8; null on a bad escape or invalid UTF-8. */
export function percentDecode(s: string): string | null {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (s[i] === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** Percent-encodes every UTF-8 byte of `s` outside `safe`. */
export function percentEncode(s: string, safe: RegExp = USER_SAFE): string {
  let out = '';
  for (const ch of s) {
    if (ch.length === 1 && ch.charCodeAt(0) < 0x80 && safe.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Parses a SIP or SIPS URI; null for anything else (tel:, malformed). */
export function parseSipUri(text: string): SipUri | null {
  const s = text.trim();
  const colon = s.indexOf(':');
  if (colon < 0) return null;
  const scheme = s.slice(0, colon).toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return null;
  let rest = s.slice(colon + 1);
  if (/[\s<>"]/.test(rest) || rest.length === 0) return null;
  let headers: string | undefined;
  const q = rest.indexOf('?');
  // The user part may contain '?' (user-unreserved), so headers start after the host: look past the last '@'.
  const at = rest.lastIndexOf('@');
  if (q > at) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let user: string | undefined;
  let password: string | undefined;
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const pc = userinfo.indexOf(':');
    const rawUser = pc < 0 ? userinfo : userinfo.slice(0, pc);
    const u = percentDecode(rawUser);
    if (u === null || u === '') return null;
    user = u;
    if (pc >= 0) {
      const p = percentDecode(userinfo.slice(pc + 1));
      if (p === null) return null;
      password = p;
    }
  }
  const semi = rest.indexOf(';');
  const hostport = semi < 0 ? rest : rest.slice(0, semi);
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostport);
  if (!m) return null;
  const host = (m[1] ?? '').toLowerCase();
  if (!HOST.test(host)) return null;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  const raw = semi < 0 ? new Map<string, string | null>() : parseParams(rest.slice(semi));
  if (!raw) return null;
  const params: Params = new Map();
  for (const [k, v] of raw) {
    const dv = v === null ? null : percentDecode(v);
    if (v !== null && dv === null) return null;
    params.set(k, dv);
  }
  return {
    scheme,
    ...(user !== undefined ? { user } : {}),
    ...(password !== undefined ? { password } : {}),
    host,
    ...(port !== undefined ? { port } : {}),
    params,
    ...(headers !== undefined ? { headers } : {}),
  };
}

export function formatSipUri(u: SipUri): string {
  let s = `${u.scheme}:`;
  if (u.user !== undefined) {
    s += percentEncode(u.user);
    if (u.password !== undefined) s += `:${percentEncode(u.password, PASSWORD_SAFE)}`;
    s += '@';
  }
  s += u.host;
  if (u.port !== undefined) s += `:${u.port}`;
  // uri-parameters are never quoted (§25.1 uri-parameter): values are percent-encoded instead.
  for (const [k, v] of u.params) s += v === null ? `;${k}` : `;${k}=${percentEncode(v, PARAM_SAFE)}`;
  if (u.headers !== undefined) s += `?${u.headers}`;
  return s;
}

/** The address-of-record form: scheme, user and host(:port), without parameters or headers (RFC 3261 §10.2.1.1). */
export function aorOf(u: SipUri): string {
  return formatSipUri({
    scheme: u.scheme,
    ...(u.user !== undefined ? { user: u.user } : {}),
    host: u.host,
    ...(u.port !== undefined ? { port: u.port } : {}),
    params: new Map(),
  });
}

/** A copy with one parameter set (null: a flag) or removed (undefined). */
export function withParam(u: SipUri, name: string, value: string | null | undefined): SipUri {
  const params: Params = new Map(u.params);
  if (value === undefined) params.delete(name);
  else params.set(name, value);
  return { ...u, params };
}

/** RFC 3261 §19.1.1 default ports: 5060 for sip, 5061 for sips (TLS). */
export function defaultPort(u: SipUri): number {
  return u.port ?? (u.scheme === 'sips' || u.params.get('transport')?.toLowerCase() === 'tls' ? 5061 : 5060);
}
