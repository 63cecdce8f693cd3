// The composition root (DESIGN §1): the only place that wires configuration, storage, routing and listeners.
import type { Logger } from 'pino';
import type { DriverDefinition } from '../../gateways/core/driver.js';
import type { StorageDriver } from '../../storage/api/index.js';
import type { Config } from '../config/index.js';
import { StreamError } from '../errors/index.js';
import { MODULES } from '../modules/registry.js';
import { startHttpListener } from '../observability/http.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { RouteTable } from '../router/route-table.js';
import { Router } from '../router/router.js';
import { C2SSession } from '../session/c2s.js';
import type { C2SDeps } from '../session/c2s-negotiation.js';
import { SessionRegistry } from '../session/registry.js';
import { type BoundListener, listen } from '../stream/listeners.js';
import { AuthThrottle } from '../stream/sasl/index.js';
import { createSecureContexts, loadTlsMaterial } from '../stream/tls-context.js';
import { AccountService } from './accounts.js';
import { LocalHost } from './host.js';
import { IqTracker } from './iq-tracker.js';
import type { ModuleDefinition } from './module.js';
import { ModuleManager, orderModules } from './module-manager.js';
import { openStorage } from './storage.js';
import { SUBSYSTEMS, type Subsystem } from './subsystems.js';

export interface ServerOptions {
  config: Config;
  /** Injected in tests; otherwise opened from config.storage. */
  storage?: StorageDriver;
  log?: Logger;
  modules?: readonly ModuleDefinition[];
  /** Gateway drivers (DESIGN §6); defaults to gateways/registry.ts. Tests inject their own. */
  gatewayDrivers?: readonly DriverDefinition[];
}

export class Server {
  readonly router: Router;
  readonly sessions = new SessionRegistry();
  readonly accounts: AccountService;
  readonly metrics: Metrics;
  readonly listeners: BoundListener[] = [];
  private readonly hosts = new Map<string, LocalHost>();
  private readonly c2s = new Set<C2SSession>();
  /** 'resource-unbind' handlers still running (they may write to storage): `stop` lets them finish first. */
  private readonly unbinding = new Set<Promise<void>>();
  private readonly iqTracker = new IqTracker();
  private readonly modules: ModuleManager;
  private tls: Awaited<ReturnType<typeof createSecureContexts>> | null = null;
  private readonly subsystems: Subsystem[] = [];
  private started = false;
  /** The drivers the gateway subsystem may instantiate; undefined: the shipped registry. */
  gatewayDrivers: readonly DriverDefinition[] | undefined;

  private constructor(
    readonly config: Config,
    readonly storage: StorageDriver,
    readonly log: Logger,
    private readonly moduleList: readonly ModuleDefinition[],
  ) {
    this.metrics = createMetrics();
    const t = config.auth.throttle;
    const throttle = {
      maxFailures: t.max_failures,
      windowMs: t.window_seconds * 1000,
      lockoutMs: t.lockout_seconds * 1000,
    };
    this.throttles = { ip: new AuthThrottle(throttle), user: new AuthThrottle(throttle) };
    this.router = new Router(new RouteTable(), log.child({ c: 'router' }), (kind, s) =>
      this.metrics.routeSeconds.observe({ kind }, s),
    );
    this.accounts = new AccountService(storage.accounts, config.auth.scram_iterations, {
      created: async (host, username) => {
        await this.hosts.get(host)?.fire('user-created', { host, username });
      },
      deleting: async (host, username) => {
        try {
          await this.hosts.get(host)?.fire('user-deleting', { host, username });
        } catch (err) {
          // The user asked for the deletion: a failed notification is logged, it does not keep the account.
          this.log.error({ err, host, username }, 'user-deleting handler failed; deleting anyway');
        }
      },
      deleted: async (host, username) => {
        await this.hosts.get(host)?.fire('user-deleted', { host, username });
        this.endSessionsOf(`${username}@${host}`);
      },
    });
    this.modules = new ModuleManager({
      router: this.router,
      storage,
      accounts: this.accounts,
      sessions: this.sessions,
      log,
      iqTracker: this.iqTracker,
    });
  }

  static async create(opts: ServerOptions): Promise<Server> {
    const log = opts.log ?? createLogger(opts.config.log);
    const storage = opts.storage ?? (await openStorage(opts.config, log));
    const server = new Server(opts.config, storage, log, opts.modules ?? MODULES);
    await server.setupHosts();
    server.gatewayDrivers = opts.gatewayDrivers;
    for (const make of SUBSYSTEMS) server.subsystems.push(make(server));
    for (const sub of server.subsystems) await sub.setup?.();
    return server;
  }

  private async setupHosts(): Promise<void> {
    for (const [name, hostCfg] of Object.entries(this.config.hosts)) {
      const host = new LocalHost(
        name,
        this.log.child({ host: name }),
        (st, origin) => void this.router.route(st, origin),
      );
      host.provide('iq-tracker', this.iqTracker);
      this.hosts.set(name, host);
      this.router.addHost(host);
      const wanted = hostCfg.modules ?? this.moduleList.filter((m) => m.defaultEnabled).map((m) => m.name);
      for (const mod of orderModules(this.moduleList, wanted)) {
        await this.modules.load(host, mod, this.config.modules[mod.name]);
      }
    }
  }

  host(name: string): LocalHost | undefined {
    return this.hosts.get(name);
  }

  /** Loads certificates and opens every configured listener. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const material = await loadTlsMaterial(
      this.config.tls,
      this.config.data_dir,
      [...this.hosts.keys()],
      this.log,
      this.config.hosts,
    );
    this.tls = createSecureContexts(material, this.config.tls);
    for (const l of this.config.listeners) {
      if (l.type === 'http') {
        const h = await startHttpListener(
          {
            address: l.address,
            port: l.port,
            metrics: this.metrics,
            health: () => ({ ok: true, sessions: this.sessions.count() }),
          },
          this.log,
        );
        this.listeners.push({ type: 'http', tls: 'none', address: l.address, port: h.port, close: h.close });
        continue;
      }
      if (l.type !== 'c2s') {
        this.listeners.push(await this.subsystemListener(l));
        continue;
      }
      this.listeners.push(
        await listen({
          type: l.type,
          address: l.address,
          port: l.port,
          mode: l.tls,
          tlsOptions: () => this.tlsOptions(),
          alpn: 'xmpp-client',
          maxConnections: 18_000,
          log: this.log,
          onSocket: (socket, direct) => {
            const session = new C2SSession(socket, this.c2sDeps(l.tls !== 'none'), direct);
            this.c2s.add(session);
          },
        }),
      );
    }
  }

  /** Asks each subsystem (s2s, components, gateways) in turn to open a listener of its own type. */
  private async subsystemListener(l: Config['listeners'][number]): Promise<BoundListener> {
    for (const sub of this.subsystems) {
      const bound = sub.listen ? await sub.listen(l) : null;
      if (bound) return bound;
    }
    throw new Error(`no subsystem opens listeners of type ${l.type}`);
  }

  /** TLS options for a server-side socket: the default certificate and an SNI callback for per-host ones. */
  tlsOptions() {
    if (!this.tls) throw new Error('TLS is not loaded');
    return { ...this.tls.options };
  }

  private c2sDepsCache: C2SDeps | null = null;
  private c2sDeps(tlsAvailable: boolean): C2SDeps {
    if (this.c2sDepsCache && this.c2sDepsCache.tlsAvailable === tlsAvailable) return this.c2sDepsCache;
    const { limits, auth, tls } = this.config;
    const _throttle = {
      maxFailures: auth.throttle.max_failures,
      windowMs: auth.throttle.window_seconds * 1000,
      lockoutMs: auth.throttle.lockout_seconds * 1000,
    };
    const m = this.metrics;
    const deps: C2SDeps = {
      log: this.log.child({ c: 'c2s' }),
      router: this.router,
      sessions: this.sessions,
      accounts: this.accounts,
      limits: {
        maxStanzaBytes: limits.c2s_stanza_bytes,
        maxDepth: limits.max_depth,
        maxAttributes: limits.max_attributes,
      },
      defaultHost: [...this.hosts.keys()][0] ?? 'localhost',
      host: (name) => this.hosts.get(name),
      tlsOptions: () => this.tlsOptions(),
      tlsAvailable,
      requireTls: tls.require_c2s && tlsAvailable,
      mechanisms: [...auth.mechanisms],
      throttleIp: this.throttles.ip,
      throttleUser: this.throttles.user,
      maxAuthFailures: 3,
      maxResources: 32,
      negotiationTimeoutMs: limits.c2s_timeout_seconds * 1000,
      // XEP-0198 and XEP-0352 nonzas go to the modules of the session's host.
      nonza: (session, element) =>
        this.hosts.get(session.host)?.fire('c2s-nonza', { session, element }) ?? Promise.resolve(false),
      onOpen: () => m.sessions.inc({ type: 'c2s' }),
      onClose: (session, error) => this.sessionClosed(session, error),
      countIn: (kind) => m.stanzas.inc({ direction: 'in', kind }),
      countOut: (kind) => m.stanzas.inc({ direction: 'out', kind }),
      countStreamError: (condition) => m.streamErrors.inc({ condition }),
      countAuthFailure: () => m.authFailures.inc(),
    };
    this.c2sDepsCache = deps;
    return deps;
  }
  /** Failed-login throttles shared by every client listener: per address and per account. */
  private readonly throttles: { ip: AuthThrottle; user: AuthThrottle };

  private sessionClosed(session: C2SSession, error?: string): void {
    this.c2s.delete(session);
    this.metrics.sessions.dec({ type: 'c2s' });
    if (!session.isBound) return;
    this.sessions.remove(session);
    session.available = false;
    const host = this.hosts.get(session.host);
    const ev = error === undefined ? { session } : { session, error };
    if (!host) return;
    const done = host.fire('resource-unbind', ev).then(
      () => undefined,
      (err: unknown) => this.log.error({ err }, 'resource-unbind failed'),
    );
    this.unbinding.add(done);
    void done.then(() => this.unbinding.delete(done));
  }

  /**
   * XEP-0077 §3.2: once an account is deleted, its sessions end with a not-authorized stream error. A turn of
   * the event loop later, so that the answer to an in-band <remove/>, routed when its handler returns (through
   * in-memory hooks only), is written before the stream closes.
   */
  private endSessionsOf(bare: string): void {
    if (this.sessions.resources(bare).length === 0) return;
    setImmediate(() => {
      for (const s of this.sessions.resources(bare))
        s.close(new StreamError('not-authorized', 'the account was deleted'));
    });
  }

  /** Closes listeners and sessions (RFC 6120 §4.9.3.20 system-shutdown), then modules and storage. */
  async stop(): Promise<void> {
    // Sessions first: closing a listener destroys its sockets, which would drop the <system-shutdown/> unsent.
    for (const s of [...this.c2s]) s.close(new StreamError('system-shutdown'));
    for (const sub of [...this.subsystems].reverse()) await sub.stop?.();
    this.iqTracker.cancelAll();
    await new Promise((r) => setTimeout(r, 50));
    for (const l of this.listeners.splice(0)) await l.close();
    // The sessions end as their sockets close, a few ticks later; what their end sets off (last presence, last
    // activity …) still writes to storage, so it finishes before modules and storage go (each handler is bounded
    // by its hook deadline). Hibernating sessions (XEP-0198) have no socket: the stream management module ends them.
    for (let i = 0; i < 300 && [...this.c2s].some((s) => !s.hibernating); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    while (this.unbinding.size > 0) await Promise.all(this.unbinding);
    await this.modules.unloadAll();
    await this.storage.close();
  }

  /** The port a listener of that type (and TLS mode) is bound to; tests listen on port 0. */
  port(type: string, tls?: string): number {
    const l = this.listeners.find((x) => x.type === type && (tls === undefined || x.tls === tls));
    if (!l) throw new Error(`no ${type} listener`);
    return l.port;
  }
}
