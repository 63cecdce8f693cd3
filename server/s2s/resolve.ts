// Where to connect for a remote domain: a static route, else DNS SRV (RFC 6120 §3.2.1, XEP-0368 for direct TLS)
// ordered by RFC 2782, else the domain's own addresses on port 5269 (RFC 6120 §3.2.2).
import { randomInt } from 'node:crypto';
import { lookup, Resolver } from 'node:dns/promises';
import { parseHostPort, type S2sRouteConfig } from '../config/s2s-schema.js';

export interface Target {
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte (ALPN xmpp-server) instead of STARTTLS. */
  directTls: boolean;
  /** How the target was found, for log lines. */
  via: 'route' | 'srv' | 'a/aaaa';
}

export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** DNS resolution failed in a way that leaves no target to try; `timeout` tells a slow resolver from NXDOMAIN. */
export class ResolveError extends Error {
  constructor(
    message: string,
    readonly timeout: boolean,
  ) {
    super(message);
    this.name = 'ResolveError';
  }
}

export interface ResolverLike {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  lookup(host: string): Promise<string[]>;
}

/** node:dns with a per-query timeout (DESIGN §9.9: every external call has one). */
export function systemResolver(timeoutMs: number): ResolverLike {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  return {
    resolveSrv: (name) => withTimeout(resolver.resolveSrv(name), timeoutMs * 2, `SRV ${name}`),
    // getaddrinfo, so /etc/hosts mappings work (private federation on loopback addresses).
    lookup: (host) =>
      withTimeout(
        lookup(host, { all: true }).then((list) => list.map((a) => a.address)),
        timeoutMs * 2,
        `address of ${host}`,
      ),
  };
}

export const DEFAULT_S2S_PORT = 5269;

/** Targets in the order to try them. Throws ResolveError when there are none. */
export async function resolveTargets(
  domain: string,
  routes: Readonly<Record<string, S2sRouteConfig>>,
  dns: ResolverLike,
): Promise<Target[]> {
  const route = routes[domain];
  if (route !== undefined) return [staticTarget(route)];
  const [direct, starttls] = await Promise.all([
    srv(dns, `_xmpps-server._tcp.${domain}`),
    srv(dns, `_xmpp-server._tcp.${domain}`),
  ]);
  const records = [
    ...direct.map((r) => ({ ...r, directTls: true })),
    ...starttls.map((r) => ({ ...r, directTls: false })),
  ];
  // RFC 2782: a single record with target "." means the service is decidedly not available at this domain.
  if (records.length === 1 && records[0]?.name === '.') {
    throw new ResolveError(`${domain} announces no XMPP server (SRV target ".")`, false);
  }
  const usable = records.filter((r) => r.name !== '.' && r.name !== '');
  if (usable.length > 0) return orderSrv(usable).map((r) => ({ ...r, host: r.name, via: 'srv' as const }));
  // RFC 6120 §3.2.2: no SRV records: fall back to the domain's own addresses on the default port.
  try {
    const addresses = await dns.lookup(domain);
    if (addresses.length === 0) throw new ResolveError(`${domain} has no address`, false);
    return addresses.map((host) => ({ host, port: DEFAULT_S2S_PORT, directTls: false, via: 'a/aaaa' as const }));
  } catch (err) {
    if (err instanceof ResolveError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const timeout = err instanceof DnsTimeout || code === 'ETIMEOUT';
    throw new ResolveError(`cannot resolve ${domain}: ${code || (err as Error).message}`, timeout);
  }
}

function staticTarget(route: S2sRouteConfig): Target {
  const address = typeof route === 'string' ? route : route.address;
  const parsed = parseHostPort(address);
  // The config loader refused malformed routes; this guards the type only.
  if (!parsed) throw new ResolveError(`malformed static route ${address}`, false);
  const directTls = typeof route === 'string' ? false : route.direct_tls;
  return { host: parsed.host, port: parsed.port, directTls, via: 'route' };
}

/** SRV records, or none when the name does not exist, has none, or the resolver fails (then A/AAAA is tried). */
async function srv(dns: ResolverLike, name: string): Promise<SrvRecord[]> {
  try {
    return await dns.resolveSrv(name);
  } catch {
    return [];
  }
}

/**
 * RFC 2782 ordering: ascending priority; within one priority, a weighted random order where a record's chance
 * to come next is proportional to its weight (zero-weight records first in the running sum, so they are rarely
 * picked early). XEP-0368 §3: direct TLS and STARTTLS records share one ordering by priority and weight; on a
 * tie we keep direct TLS first by sorting it ahead before the weighted draw.
 */
export function orderSrv<T extends SrvRecord & { directTls?: boolean }>(records: T[], rand = randomInt): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const out: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = (byPriority.get(priority) ?? []).sort(
      (a, b) => a.weight - b.weight || Number(b.directTls ?? false) - Number(a.directTls ?? false),
    );
    while (group.length > 0) {
      const total = group.reduce((sum, r) => sum + r.weight, 0);
      const pick = total === 0 ? 0 : rand(total + 1);
      let running = 0;
      let index = group.findIndex((r) => {
        running += r.weight;
        return running >= pick;
      });
      if (index < 0) index = group.length - 1;
      out.push(...group.splice(index, 1));
    }
  }
  return out;
}

class DnsTimeout extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DnsTimeout(`DNS query for ${what} timed out`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
