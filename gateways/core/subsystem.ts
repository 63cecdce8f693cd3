// In-process gateways as a server subsystem (DESIGN §4, §6): for each `gateways.<domain>` entry, the driver is
// instantiated with its validated options, the domain is routed to a Gateway, and the local hosts list it in
// their disco#items (XEP-0030 §4) so that clients find it (XEP-0100 §4.1.1 step 1).
import { Value } from '@sinclair/typebox/value';
import { ConfigError, type ConfigProblem, type GatewayConfig } from '../../server/config/index.js';
import type { Origin } from '../../server/core/hooks.js';
import type { Server } from '../../server/core/server.js';
import type { Subsystem } from '../../server/core/subsystems.js';
import { Jid } from '../../server/jid/index.js';
import type { RosterService } from '../../server/modules/rfc6121-roster/types.js';
import type { StanzaRoute } from '../../server/router/route-table.js';
import { DRIVERS } from '../registry.js';
import type { DriverDefinition } from './driver.js';
import { Gateway } from './gateway.js';
import type { Registration } from './registration.js';

/** The keyval store holding registrations, keyed (gateway domain, user bare JID). */
export const REGISTRATION_STORE = 'gateway_registrations';

export class GatewaySubsystem implements Subsystem {
  readonly name = 'gateways';
  private readonly gateways: { gw: Gateway; route: StanzaRoute; listed: string[]; unhook: (() => void)[] }[] = [];

  constructor(
    private readonly server: Server,
    private readonly drivers: readonly DriverDefinition[],
  ) {}

  async setup(): Promise<void> {
    const entries = Object.entries(this.server.config.gateways);
    const problems: ConfigProblem[] = [];
    const made = entries.map(([domain, cfg]) => this.make(domain, cfg, problems));
    // DESIGN §1: refuse to start, naming every bad path at once.
    if (problems.length > 0) throw new ConfigError('gateways', problems);
    for (const gw of made) if (gw) this.install(gw, this.server.config.gateways[gw.domain]?.allow ?? []);
  }

  private make(domain: string, cfg: GatewayConfig, problems: ConfigProblem[]): Gateway | null {
    const def = this.drivers.find((d) => d.name === cfg.driver);
    if (!def) {
      const known = this.drivers.map((d) => d.name).join(', ') || 'none';
      problems.push({ path: `gateways.${domain}.driver`, message: `unknown driver "${cfg.driver}" (known: ${known})` });
      return null;
    }
    const options = Value.Default(def.options, structuredClone(cfg.options));
    const errors = [...Value.Errors(def.options, options)];
    for (const e of errors) {
      const at = e.path.split('/').filter(Boolean).join('.');
      problems.push({ path: `gateways.${domain}.options${at ? `.${at}` : ''}`, message: e.message });
    }
    if (errors.length > 0) return null;
    const log = this.server.log.child({ gateway: domain });
    const store = this.server.storage.keyval<Registration>(REGISTRATION_STORE);
    const driver = def.create({
      domain,
      options: options as Readonly<unknown>,
      log,
      registered: async (user) => (await store.get(domain, user.bareString)) !== null,
    });
    const routeTo = (el: Parameters<StanzaRoute['deliver']>[0]) => void this.server.router.route(el, origin);
    const gw = new Gateway({
      domain,
      name: cfg.name ?? driver.name ?? `${driver.kind.toUpperCase()} gateway`,
      driver,
      allow: cfg.allow,
      store,
      route: routeTo,
      dispatch: (el) => this.server.router.route(el, origin) ?? Promise.resolve(),
      isLocalDomain: (d) => this.server.router.table.isLocal(d),
      roster: (host) => this.server.host(host)?.services.get('roster') as RosterService | undefined,
      log,
      backoff: {
        initialMs: cfg.reconnect.initial_seconds * 1000,
        maxMs: cfg.reconnect.max_seconds * 1000,
        stableMs: cfg.reconnect.stable_seconds * 1000,
      },
      loginTimeoutMs: cfg.login_timeout_seconds * 1000,
      sendTimeoutMs: cfg.send_timeout_seconds * 1000,
    });
    // Stanzas the gateway emits enter the router like a component's: trusted for its own domain.
    const origin: Origin = { kind: 'gateway', jid: Jid.of(null, domain), send: (el) => gw.deliver(el) };
    return gw;
  }

  private install(gw: Gateway, allow: readonly string[]): void {
    const route: StanzaRoute = { kind: 'gateway', domain: gw.domain, deliver: (el) => gw.deliver(el) };
    this.server.router.table.add(gw.domain, route);
    const listed = this.listingHosts(allow);
    const unhook: (() => void)[] = [];
    for (const name of listed) {
      const host = this.server.host(name);
      if (!host) continue;
      host.items.set(gw.domain, { jid: gw.domain, name: gw.deps.name });
      // A deleted account's gateway registration goes too (its store entry is keyed by the gateway domain).
      unhook.push(
        host.bus.on(
          'user-deleted',
          async ({ host: h, username }) => {
            await gw.userDeleted(Jid.of(username, h));
          },
          0,
          `gateway ${gw.domain}`,
        ),
      );
    }
    this.gateways.push({ gw, route, listed, unhook });
  }

  /** XEP-0030 §4: the hosts whose users may use the gateway list it; an empty allow-list means every host. */
  private listingHosts(allow: readonly string[]): string[] {
    const all = this.server.router.table.domains().filter((d) => this.server.router.table.isLocal(d));
    if (allow.length === 0) return all;
    const named = new Set(allow.map((a) => a.slice(a.lastIndexOf('@') + 1)));
    return all.filter((h) => named.has(h));
  }

  async stop(): Promise<void> {
    for (const { gw, route, listed, unhook } of this.gateways.splice(0).reverse()) {
      for (const f of unhook) f();
      for (const name of listed) this.server.host(name)?.items.delete(gw.domain);
      await gw.stop();
      this.server.router.table.remove(gw.domain, route);
    }
  }
}

export const gatewaySubsystem = (server: Server): Subsystem =>
  new GatewaySubsystem(server, server.gatewayDrivers ?? DRIVERS);
