// Configuration of federation (server-to-server streams, RFC 6120): the `s2s` listener type and the top-level
// `s2s:` section. Kept apart from schema.ts so that federation settings read in one place; schema.ts plugs
// them in. Self-contained (no imports from schema.ts) to avoid an import cycle.
import { isIP } from 'node:net';
import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;
type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };
const oneOf = <const T extends readonly string[]>(values: T, opts: { default?: T[number] } = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    opts,
  ) as unknown as TUnion<Literals<T>>;

export const S2sListenerSchema = Type.Object(
  {
    type: Type.Literal('s2s'),
    address: Type.String({ minLength: 1, default: '0.0.0.0' }),
    // RFC 6120 §14.7: 5269 is the registered port for server-to-server streams.
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 5269 }),
    // STARTTLS (RFC 6120 §5) or TLS from the first byte (XEP-0368); s2s streams always offer TLS.
    tls: oneOf(['starttls', 'direct'] as const, { default: 'starttls' }),
  },
  strict,
);

export const S2S_POLICIES = ['allow_all', 'allow_list', 'deny_list'] as const;
export type S2sPolicyName = (typeof S2S_POLICIES)[number];

const Domains = Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true, default: [] });

export const S2sHostPolicySchema = Type.Object(
  { policy: oneOf(S2S_POLICIES, { default: 'allow_all' }), domains: Domains },
  strict,
);

/** A static route: "host:port", or that with XEP-0368 direct TLS. */
export const S2sRouteSchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object({ address: Type.String({ minLength: 1 }), direct_tls: Type.Boolean({ default: false }) }, strict),
]);

export const S2sSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true }),
    routes: Type.Record(Type.String(), S2sRouteSchema, { default: {} }),
    ca_file: Type.Optional(Type.String({ minLength: 1 })),
    require_tls: Type.Boolean({ default: true }),
    require_valid_certificates: Type.Boolean({ default: false }),
    allow_self_signed: Type.Boolean({ default: false }),
    sasl_external: Type.Boolean({ default: true }),
    dialback: Type.Boolean({ default: true }),
    policy: oneOf(S2S_POLICIES, { default: 'allow_all' }),
    domains: Domains,
    per_host: Type.Record(Type.String(), S2sHostPolicySchema, { default: {} }),
    connect_timeout_seconds: Type.Integer({ minimum: 1, default: 10 }),
    dns_timeout_seconds: Type.Integer({ minimum: 1, default: 5 }),
    negotiation_timeout_seconds: Type.Integer({ minimum: 1, default: 30 }),
    idle_timeout_seconds: Type.Integer({ minimum: 1, default: 300 }),
    max_queue: Type.Integer({ minimum: 1, default: 1000 }),
    // RFC 6120 §13.12: at least 10000 bytes.
    max_stanza_bytes: Type.Integer({ minimum: 10000, default: 262144 }),
    rate_per_second: Type.Number({ minimum: 0, default: 0 }),
    rate_burst: Type.Integer({ minimum: 1, default: 100 }),
    rate_excess: oneOf(['bounce', 'delay'] as const, { default: 'bounce' }),
  },
  { ...strict, default: {} },
);

export type S2sConfig = Static<typeof S2sSchema>;
export type S2sListenerConfig = Static<typeof S2sListenerSchema>;
export type S2sRouteConfig = Static<typeof S2sRouteSchema>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "host:port", "[v6]:port"; null when malformed. */
export function parseHostPort(s: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (m[1] !== undefined && isIP(host) !== 6) return null;
  return { host, port };
}

/** Rules the schema cannot express: route syntax, per-host keys that are hosts. */
export function checkS2s(config: Obj, p: { add(path: (string | number)[], message: string): void }): void {
  const s2s = config.s2s;
  if (!isObj(s2s)) return;
  if (isObj(s2s.routes)) {
    for (const [domain, route] of Object.entries(s2s.routes)) {
      const address = typeof route === 'string' ? route : isObj(route) ? route.address : undefined;
      const at = typeof route === 'string' ? ['s2s', 'routes', domain] : ['s2s', 'routes', domain, 'address'];
      if (typeof address === 'string' && !parseHostPort(address)) p.add(at, 'must be "host:port"');
      if (domain !== domain.toLowerCase()) p.add(['s2s', 'routes', domain], 'domain must be lowercase');
    }
  }
  if (isObj(s2s.per_host) && isObj(config.hosts)) {
    for (const host of Object.keys(s2s.per_host)) {
      if (!Object.hasOwn(config.hosts, host)) p.add(['s2s', 'per_host', host], 'is not a host listed under hosts');
    }
  }
}
