// Configuration of in-process gateways (XEP-0100, DESIGN §6): the top-level `gateways:` section, keyed by the
// domain each gateway serves. Kept apart from schema.ts, which plugs it in. The driver's own `options` are checked
// against the driver's schema when the gateway starts (gateways/core/subsystem.ts), where the drivers are known.
import { type Static, Type } from '@sinclair/typebox';
import { Jid } from '../jid/index.js';

const strict = { additionalProperties: false } as const;
const NonEmpty = () => Type.String({ minLength: 1 });

export const GatewayReconnectSchema = Type.Object(
  {
    /** First delay before a reconnect, doubled per attempt, with jitter (DESIGN §6). */
    initial_seconds: Type.Number({ exclusiveMinimum: 0, default: 2 }),
    max_seconds: Type.Number({ exclusiveMinimum: 0, default: 300 }),
    /** A connection that lasts this long resets the backoff. */
    stable_seconds: Type.Number({ exclusiveMinimum: 0, default: 60 }),
  },
  { ...strict, default: {} },
);

export const GatewaySchema = Type.Object(
  {
    /** A driver name from gateways/registry.ts, e.g. `irc`. */
    driver: NonEmpty(),
    /** Shown as the disco identity name and in the hosts' disco#items (XEP-0030). */
    name: Type.Optional(NonEmpty()),
    /** Local users (`alice@example.com`) or whole local domains (`example.com`) allowed; empty: every local user. */
    allow: Type.Array(NonEmpty(), { uniqueItems: true, default: [] }),
    /** Driver options, validated against the driver's schema at startup. */
    options: Type.Record(Type.String(), Type.Unknown(), { default: {} }),
    login_timeout_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
    send_timeout_seconds: Type.Number({ exclusiveMinimum: 0, default: 30 }),
    reconnect: GatewayReconnectSchema,
  },
  strict,
);

export const GatewaysSchema = Type.Record(Type.String(), GatewaySchema, { default: {} });

export type GatewayConfig = Static<typeof GatewaySchema>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Gateway domains are served by the gateway alone (one route per domain, DESIGN §1); allow-list entries are bare
 * JIDs or domains. `hostnameProblem` comes from schema.ts (passed in to avoid an import cycle).
 */
export function checkGateways(
  config: Obj,
  p: { add(path: (string | number)[], message: string): void },
  hostnameProblem: (name: string) => string | undefined,
): void {
  if (!isObj(config.gateways)) return;
  for (const [domain, gw] of Object.entries(config.gateways)) {
    const reason = hostnameProblem(domain);
    if (reason) p.add(['gateways', domain], reason);
    for (const other of ['hosts', 'components'] as const) {
      const section = config[other];
      if (isObj(section) && Object.hasOwn(section, domain)) {
        p.add(['gateways', domain], `is also listed under ${other}; a domain is served by one or the other`);
      }
    }
    if (!isObj(gw) || !Array.isArray(gw.allow)) continue;
    gw.allow.forEach((entry: unknown, i) => {
      if (typeof entry !== 'string') return;
      const jid = Jid.tryParse(entry);
      if (!jid || jid.resource !== null || jid.toString() !== entry || hostnameProblem(jid.domain)) {
        p.add(['gateways', domain, 'allow', i], 'must be a prepared bare JID (user@domain) or a domain');
      }
    });
    const r = gw.reconnect;
    if (isObj(r) && typeof r.initial_seconds === 'number' && typeof r.max_seconds === 'number') {
      if (r.initial_seconds > r.max_seconds) {
        p.add(['gateways', domain, 'reconnect', 'max_seconds'], 'must not be less than initial_seconds');
      }
    }
  }
}
