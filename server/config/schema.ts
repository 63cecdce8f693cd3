// Configuration schema (DESIGN §1 "fail fast on bad config"). Every object refuses unknown keys so a misspelt
// option stops the server instead of being silently ignored. Keys stay snake_case in the TypeScript type too:
// one spelling from the YAML file to the code means no mapping layer to keep in sync.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { type Static, type TLiteral, type TObject, type TSchema, type TUnion, Type } from '@sinclair/typebox';
import { GatewaysSchema } from './gateways-schema.js';
import { S2sListenerSchema, S2sSchema } from './s2s-schema.js';

const strict = { additionalProperties: false } as const;

const NonEmpty = (opts: { default?: string; description?: string } = {}) => Type.String({ minLength: 1, ...opts });

/** 0 asks the OS for an ephemeral port; tests rely on it. */
const Port = Type.Integer({ minimum: 0, maximum: 65535 });

type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };

/** A closed set of strings; the loader reports it as "must be one of: …". */
const oneOf = <const T extends readonly string[]>(values: T, opts: { default?: T[number] } = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    opts,
  ) as unknown as TUnion<Literals<T>>;

/**
 * Marks a union whose variants are told apart by one literal field. The loader picks the variant from that
 * field to fill defaults and to report errors against the right variant instead of a vague "no variant matched".
 */
export const DISCRIMINATOR = 'discriminator';

const discriminated = <V extends Record<string, TObject>>(field: string, variants: V) =>
  Type.Union(Object.values(variants), { [DISCRIMINATOR]: field }) as unknown as TUnion<V[keyof V][]>;

export const CertPairSchema = Type.Object(
  { cert: NonEmpty({ description: 'PEM certificate (chain) file' }), key: NonEmpty({ description: 'PEM key file' }) },
  strict,
);

export const HostSchema = Type.Object(
  {
    /** Explicit list of enabled modules; absent = the registry's default-on modules. */
    modules: Type.Optional(Type.Array(NonEmpty())),
    tls: Type.Optional(CertPairSchema),
  },
  strict,
);

// ---- listeners: add a variant here (s2s, component) and the loader handles it with no other change.
export const C2sListenerSchema = Type.Object(
  {
    type: Type.Literal('c2s'),
    address: NonEmpty({ default: '0.0.0.0' }),
    port: Port,
    tls: oneOf(['starttls', 'direct', 'none'] as const, { default: 'starttls' }),
  },
  strict,
);

export const HttpListenerSchema = Type.Object(
  { type: Type.Literal('http'), address: NonEmpty({ default: '127.0.0.1' }), port: Port },
  strict,
);

// XEP-0114 component streams carry no TLS and authenticate with a shared secret only: loopback by default.
export const ComponentListenerSchema = Type.Object(
  {
    type: Type.Literal('component'),
    address: NonEmpty({ default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 5347 }),
  },
  strict,
);

export const LISTENER_SCHEMAS = {
  c2s: C2sListenerSchema,
  http: HttpListenerSchema,
  component: ComponentListenerSchema,
  s2s: S2sListenerSchema,
};
export type ListenerType = keyof typeof LISTENER_SCHEMAS;
export const ListenerSchema = discriminated('type', LISTENER_SCHEMAS);

const DEFAULT_LISTENERS: Static<typeof ListenerSchema>[] = [
  { type: 'c2s', address: '0.0.0.0', port: 5222, tls: 'starttls' },
  { type: 'c2s', address: '0.0.0.0', port: 5223, tls: 'direct' },
  // Metrics and health stay on loopback by default: they reveal session counts to anyone who can reach them.
  { type: 'http', address: '127.0.0.1', port: 5280 },
  // RFC 6120 §14.7: federation, STARTTLS on the registered server port (docs/federation.md).
  { type: 's2s', address: '0.0.0.0', port: 5269, tls: 'starttls' },
];

export const TlsSchema = Type.Object(
  {
    cert: Type.Optional(NonEmpty()),
    key: Type.Optional(NonEmpty()),
    self_signed: Type.Boolean({ default: true }),
    min_version: oneOf(['TLSv1.2', 'TLSv1.3'] as const, { default: 'TLSv1.2' }),
    require_c2s: Type.Boolean({ default: true }),
  },
  { ...strict, default: {} },
);

// ---- storage drivers
export const STORAGE_SCHEMAS = {
  // path is filled from data_dir by the loader when absent, so it is always set once loaded.
  sqlite: Type.Object({ driver: Type.Literal('sqlite'), path: NonEmpty() }, strict),
  postgres: Type.Object({ driver: Type.Literal('postgres'), url: NonEmpty() }, strict),
  memory: Type.Object({ driver: Type.Literal('memory') }, strict),
};
export type StorageDriver = keyof typeof STORAGE_SCHEMAS;
export const StorageSchema = discriminated('driver', STORAGE_SCHEMAS);

export const LimitsSchema = Type.Object(
  {
    // RFC 6120 §13.12: a server must accept stanzas of at least 10000 bytes.
    c2s_stanza_bytes: Type.Integer({ minimum: 10000, default: 262144 }),
    // <stream> > <iq> > <bind> > <resource> is already 4 deep during negotiation.
    max_depth: Type.Integer({ minimum: 4, default: 32 }),
    // The stream header alone carries up to 7 attributes (RFC 6120 §4.7).
    max_attributes: Type.Integer({ minimum: 8, default: 64 }),
    c2s_timeout_seconds: Type.Integer({ minimum: 1, default: 300 }),
    // Components relay whole rooms and rosters in one stanza, and are trusted (XEP-0114 §2): a larger limit.
    component_stanza_bytes: Type.Integer({ minimum: 10000, default: 1048576 }),
  },
  { ...strict, default: {} },
);

export const SASL_MECHANISMS = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-1',
  'PLAIN',
] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

export const AuthSchema = Type.Object(
  {
    mechanisms: Type.Array(oneOf(SASL_MECHANISMS), { minItems: 1, uniqueItems: true, default: [...SASL_MECHANISMS] }),
    // RFC 7677 §4: the iteration count should be at least 4096.
    scram_iterations: Type.Integer({ minimum: 4096, default: 4096 }),
    throttle: Type.Object(
      {
        max_failures: Type.Integer({ minimum: 1, default: 5 }),
        window_seconds: Type.Integer({ minimum: 1, default: 60 }),
        lockout_seconds: Type.Integer({ minimum: 0, default: 60 }),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, default: {} },
);

/** External components (XEP-0114), keyed by the domain each one serves. */
export const ComponentSchema = Type.Object(
  {
    /** Shared secret of the XEP-0114 §3 handshake. */
    secret: NonEmpty(),
    /** Name shown in the hosts' disco#items (XEP-0030 §4). */
    name: Type.Optional(NonEmpty()),
  },
  strict,
);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LogSchema = Type.Object(
  { level: oneOf(LOG_LEVELS, { default: 'info' }), file: Type.Optional(NonEmpty()) },
  { ...strict, default: {} },
);

export const ConfigSchema = Type.Object(
  {
    hosts: Type.Record(Type.String(), HostSchema, { minProperties: 1 }),
    listeners: Type.Array(ListenerSchema, { default: DEFAULT_LISTENERS }),
    tls: TlsSchema,
    storage: StorageSchema,
    data_dir: NonEmpty({ default: 'data' }),
    limits: LimitsSchema,
    auth: AuthSchema,
    log: LogSchema,
    s2s: S2sSchema,
    components: Type.Record(Type.String(), ComponentSchema, { default: {} }),
    /** In-process gateways (XEP-0100, docs/gateways.md), keyed by the domain each one serves. */
    gateways: GatewaysSchema,
    /** Per-module options; each value is checked against that module's own schema by the loader. */
    modules: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
  },
  strict,
);
// storage has no schema-level default because its sqlite path depends on data_dir; the loader supplies it.

export type Config = Static<typeof ConfigSchema>;
export type HostConfig = Static<typeof HostSchema>;
export type CertPairConfig = Static<typeof CertPairSchema>;
export type ListenerConfig = Static<typeof ListenerSchema>;
export type C2sListenerConfig = Static<typeof C2sListenerSchema>;
export type HttpListenerConfig = Static<typeof HttpListenerSchema>;
export type ComponentListenerConfig = Static<typeof ComponentListenerSchema>;
export type ComponentConfig = Static<typeof ComponentSchema>;
export type TlsConfig = Static<typeof TlsSchema>;
export type StorageConfig = Static<typeof StorageSchema>;
export type LimitsConfig = Static<typeof LimitsSchema>;
export type AuthConfig = Static<typeof AuthSchema>;
export type LogConfig = Static<typeof LogSchema>;

/** Schemas of module options, keyed by module name (from the module registry). */
export type ModuleSchemas = Record<string, TSchema>;

// ---- Rules JSON Schema cannot express. They read the defaulted but unvalidated value, so they are written
// defensively: they run even when the schema found problems, and the operator sees everything at once.

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** RFC 1123 host names (IDNs through their A-label form); lowercase so keys match prepared JID domains. */
export function hostnameProblem(name: string): string | undefined {
  if (isIP(name) !== 0) return 'must be a domain name, not an IP address';
  if (name !== name.toLowerCase()) return `must be lowercase ("${name.toLowerCase()}")`;
  const ascii = domainToASCII(name);
  if (!ascii || ascii.length > 253 || !ascii.split('.').every((l) => LABEL.test(l))) {
    return 'is not a valid host name';
  }
  return undefined;
}

type Obj = Record<string, unknown>;

/** Where the rules report; the loader adds the YAML line. */
export interface ProblemSink {
  add(path: (string | number)[], message: string): void;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkHosts(config: Obj, modules: ModuleSchemas, p: ProblemSink): void {
  if (!isObj(config.hosts)) return;
  for (const [name, host] of Object.entries(config.hosts)) {
    const reason = hostnameProblem(name);
    if (reason) p.add(['hosts', name], reason);
    if (!isObj(host) || !Array.isArray(host.modules)) continue;
    const seen = new Set<unknown>();
    host.modules.forEach((m, i) => {
      const at = ['hosts', name, 'modules', i];
      if (typeof m === 'string' && !Object.hasOwn(modules, m)) {
        p.add(at, `unknown module "${m}"${suggest(m, Object.keys(modules))}`);
      } else if (seen.has(m)) p.add(at, `module "${String(m)}" is listed twice`);
      seen.add(m);
    });
  }
}

export function checkListeners(config: Obj, p: ProblemSink): void {
  if (!Array.isArray(config.listeners)) return;
  const bound: { address: string; port: number; index: number }[] = [];
  const requireTls = isObj(config.tls) && config.tls.require_c2s === true;
  config.listeners.forEach((l: unknown, i) => {
    if (!isObj(l)) return;
    const { address, port } = l;
    if (typeof address === 'string' && isIP(address) === 0 && hostnameProblem(address)) {
      p.add(['listeners', i, 'address'], 'must be an IP address or a host name');
    }
    // Port 0 is ephemeral: several such listeners never collide.
    if (typeof address === 'string' && typeof port === 'number' && port !== 0) {
      const clash = bound.find((b) => b.port === port && overlaps(b.address, address));
      if (clash) {
        const other = `listeners[${clash.index}] (${clash.address}:${port})`;
        p.add(['listeners', i, 'port'], `${address}:${port} overlaps ${other}`);
      }
      bound.push({ address, port, index: i });
    }
    if (l.type === 'c2s' && l.tls === 'none' && requireTls) {
      p.add(['listeners', i, 'tls'], '"none" leaves clients no way to authenticate while tls.require_c2s is true');
    }
  });
}

/** Component domains (XEP-0114): host names, not local hosts, and reachable through a component listener. */
export function checkComponents(config: Obj, p: ProblemSink): void {
  if (!isObj(config.components)) return;
  const names = Object.keys(config.components);
  for (const name of names) {
    const reason = hostnameProblem(name);
    if (reason) p.add(['components', name], reason);
    if (isObj(config.hosts) && Object.hasOwn(config.hosts, name)) {
      p.add(['components', name], 'is also listed under hosts; a domain is served by one or the other');
    }
  }
  const listener = Array.isArray(config.listeners) && config.listeners.some((l) => isObj(l) && l.type === 'component');
  if (names.length > 0 && !listener) {
    p.add(['components'], 'components are configured but no listener has type component');
  }
}

/** A wildcard address takes the port on every interface (and "::" usually on IPv4 too). */
function overlaps(a: string, b: string): boolean {
  const wildcard = (x: string) => x === '0.0.0.0' || x === '::';
  return a === b || wildcard(a) || wildcard(b);
}

export function checkTls(config: Obj, p: ProblemSink): void {
  const tls = config.tls;
  if (!isObj(tls)) return;
  if (tls.cert !== undefined && tls.key === undefined) p.add(['tls', 'key'], 'is required when tls.cert is set');
  if (tls.key !== undefined && tls.cert === undefined) p.add(['tls', 'cert'], 'is required when tls.key is set');
  const tlsListeners =
    Array.isArray(config.listeners) && config.listeners.some((l) => isObj(l) && l.type === 'c2s' && l.tls !== 'none');
  if (tls.cert !== undefined || tls.self_signed !== false || !tlsListeners || !isObj(config.hosts)) return;
  const uncovered = Object.entries(config.hosts)
    .filter(([, h]) => !isObj(h) || h.tls === undefined)
    .map(([name]) => name);
  if (uncovered.length > 0) {
    p.add(['tls', 'cert'], `is required when tls.self_signed is false (no certificate for: ${uncovered.join(', ')})`);
  }
}

/** " (did you mean …?)" for a near miss among `candidates`, else empty. */
export function suggest(word: string, candidates: string[]): string {
  const best = candidates
    .map((c) => ({ c, d: distance(word.toLowerCase(), c.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0];
  return best && best.d <= 2 ? ` (did you mean "${best.c}"?)` : '';
}

/** Levenshtein distance, for "did you mean" hints on misspelt keys. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
