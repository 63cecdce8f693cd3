// External components (XEP-0114, accept method) as a server subsystem (DESIGN §4, §6): a listener of type
// `component`, and one route per configured domain in the shared route table. While the component is connected
// its route delivers every stanza addressed to the domain (exactly that domain, not its subdomains) over the
// stream; while it is not, a placeholder route bounces them with service-unavailable rather than letting the
// router treat the domain as remote.
import { isIP } from 'node:net';
import type { ComponentConfig, ListenerConfig } from '../config/index.js';
import type { Origin } from '../core/hooks.js';
import type { Server } from '../core/server.js';
import type { Subsystem } from '../core/subsystems.js';
import { StanzaError, StreamError } from '../errors/index.js';
import { Jid } from '../jid/index.js';
import type { StanzaRoute } from '../router/route-table.js';
import { type BoundListener, listen } from '../stream/listeners.js';
import type { Element } from '../xml/element.js';
import { ComponentSession, type ComponentSessionDeps } from './session.js';

/** Time a component has to send its header and handshake after connecting. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Components are few and known; more connections than this on the port are refused by the OS listener. */
const MAX_CONNECTIONS = 256;

/** One configured component domain: its routes and, while connected, its stream. */
class ComponentSlot {
  session: ComponentSession | null = null;
  readonly live: StanzaRoute;
  readonly offline: StanzaRoute;

  constructor(
    readonly domain: string,
    readonly config: ComponentConfig,
    bounce: (el: Element, origin: Origin) => void,
  ) {
    this.live = { kind: 'component', domain, deliver: (el) => this.session?.send(el) };
    const origin: Origin = { kind: 'component', jid: Jid.of(null, domain), send: () => {} };
    this.offline = { kind: 'component', domain, deliver: (el) => bounce(el, origin) };
  }
}

export class ComponentSubsystem implements Subsystem {
  readonly name = 'component';
  private readonly slots = new Map<string, ComponentSlot>();
  private readonly streams = new Set<ComponentSession>();
  private readonly log;

  constructor(private readonly server: Server) {
    this.log = server.log.child({ c: 'component' });
  }

  async setup(): Promise<void> {
    const table = this.server.router.table;
    for (const [domain, config] of Object.entries(this.server.config.components)) {
      const slot = new ComponentSlot(domain, config, (el, origin) => this.bounceOffline(el, origin));
      this.slots.set(domain, slot);
      table.add(domain, slot.offline);
    }
  }

  /** RFC 6120 §8.3.3.19: the domain exists but nothing serves it right now. */
  private bounceOffline(el: Element, origin: Origin): void {
    // An unavailable presence to a component that is gone needs no answer (RFC 6121 §4.5 has nobody to notify).
    if (el.name === 'presence' && el.attrs.type === 'unavailable') return;
    this.server.router.bounce(el, StanzaError.serviceUnavailable('the component is not connected'), origin);
  }

  async listen(l: ListenerConfig): Promise<BoundListener | null> {
    if (l.type !== 'component') return null;
    if (!isLoopback(l.address)) {
      // XEP-0114 streams are neither encrypted nor protected against replay beyond the stream id; see docs.
      this.log.warn(
        { address: l.address },
        'component listener is not on loopback: secrets and stanzas travel in clear',
      );
    }
    const deps = this.sessionDeps();
    return listen({
      type: 'component',
      address: l.address,
      port: l.port,
      mode: 'none',
      tlsOptions: () => ({}),
      alpn: '',
      maxConnections: MAX_CONNECTIONS,
      log: this.log,
      onSocket: (socket) => {
        this.streams.add(new ComponentSession(socket, deps));
      },
    });
  }

  private sessionDeps(): ComponentSessionDeps {
    const { limits } = this.server.config;
    const m = this.server.metrics;
    return {
      log: this.log,
      router: this.server.router,
      limits: {
        maxStanzaBytes: limits.component_stanza_bytes,
        maxDepth: limits.max_depth,
        maxAttributes: limits.max_attributes,
      },
      handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
      secret: (domain) => this.slots.get(domain)?.config.secret,
      connected: (domain) => this.slots.get(domain)?.session != null,
      attach: (session) => this.attach(session),
      detach: (session) => this.detach(session),
      defaultHost: Object.keys(this.server.config.hosts)[0] ?? 'localhost',
      countIn: (kind) => m.stanzas.inc({ direction: 'in', kind }),
      countOut: (kind) => m.stanzas.inc({ direction: 'out', kind }),
      countStreamError: (condition) => m.streamErrors.inc({ condition }),
    };
  }

  /** After a successful handshake: the live route replaces the placeholder, and the hosts list the domain. */
  private attach(session: ComponentSession): boolean {
    const slot = session.domain === null ? undefined : this.slots.get(session.domain);
    if (!slot || slot.session) return false;
    slot.session = session;
    const table = this.server.router.table;
    table.remove(slot.domain, slot.offline);
    table.add(slot.domain, slot.live);
    for (const host of this.listingHosts(slot.domain)) {
      host.items.set(
        slot.domain,
        slot.config.name ? { jid: slot.domain, name: slot.config.name } : { jid: slot.domain },
      );
    }
    this.server.metrics.sessions.inc({ type: 'component' });
    return true;
  }

  /** Idempotent: runs when the stream closes and again when its socket does. */
  private detach(session: ComponentSession): void {
    this.streams.delete(session);
    const slot = session.domain === null ? undefined : this.slots.get(session.domain);
    if (!slot || slot.session !== session) return;
    slot.session = null;
    const table = this.server.router.table;
    table.remove(slot.domain, slot.live);
    table.add(slot.domain, slot.offline);
    for (const host of this.listingHosts(slot.domain)) host.items.delete(slot.domain);
    this.server.metrics.sessions.dec({ type: 'component' });
    session.log.info('component disconnected');
  }

  /**
   * XEP-0030 §4: a component is listed in the disco#items of each local host whose subdomain it is; one under
   * no local host (e.g. `irc.example.net` on a server for `example.org`) is listed on every host.
   */
  private listingHosts(domain: string) {
    const names = Object.keys(this.server.config.hosts);
    const parents = names.filter((h) => domain.endsWith(`.${h}`));
    return (parents.length > 0 ? parents : names).flatMap((h) => this.server.host(h) ?? []);
  }

  async stop(): Promise<void> {
    const all = new Set<ComponentSession>(this.streams);
    for (const slot of this.slots.values()) if (slot.session) all.add(slot.session);
    // RFC 6120 §4.9.3.20: the server is going down.
    for (const s of all) s.close(new StreamError('system-shutdown'));
    const table = this.server.router.table;
    for (const slot of this.slots.values()) table.remove(slot.domain, slot.offline);
    this.slots.clear();
  }
}

function isLoopback(address: string): boolean {
  if (address === 'localhost' || address === '::1') return true;
  return isIP(address) === 4 && address.startsWith('127.');
}

export const componentSubsystem = (server: Server): Subsystem => new ComponentSubsystem(server);
