// Loads modules per host in dependency order and builds each one's context (DESIGN §3).
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import type { StorageDriver } from '../../storage/api/index.js';
import { SwitchboardError } from '../errors/index.js';
import { Jid } from '../jid/index.js';
import type { Router } from '../router/router.js';
import type { SessionRegistry } from '../session/registry.js';
import type { Element } from '../xml/element.js';
import type { AccountService } from './accounts.js';
import type { Origin } from './hooks.js';
import type { LocalHost } from './host.js';
import type { IqTracker } from './iq-tracker.js';
import type { ModuleContext, ModuleDefinition } from './module.js';

export interface ModuleDeps {
  router: Router;
  storage: StorageDriver;
  accounts: AccountService;
  sessions: SessionRegistry;
  log: Logger;
  iqTracker: IqTracker;
}

/** Orders the selected modules so each comes after its dependencies; unknown or cyclic ones refuse to start. */
export function orderModules(all: readonly ModuleDefinition[], wanted: readonly string[]): ModuleDefinition[] {
  const byName = new Map(all.map((m) => [m.name, m]));
  const out: ModuleDefinition[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, chain: string[]): void => {
    const m = byName.get(name);
    if (!m)
      throw new SwitchboardError(
        'SB_ERR_MODULE',
        `unknown module "${name}" (needed by ${chain.join(' → ') || 'config'})`,
      );
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting')
      throw new SwitchboardError('SB_ERR_MODULE', `module dependency cycle: ${[...chain, name].join(' → ')}`);
    state.set(name, 'visiting');
    for (const d of m.dependencies ?? []) visit(d, [...chain, name]);
    state.set(name, 'done');
    out.push(m);
  };
  for (const m of all) if (m.core) visit(m.name, []);
  for (const w of wanted) visit(w, []);
  return out;
}

export class ModuleManager {
  private readonly closers = new Map<string, (() => unknown)[]>();

  constructor(private readonly deps: ModuleDeps) {}

  async load(host: LocalHost, mod: ModuleDefinition, rawOptions: unknown): Promise<void> {
    const options = Value.Default(mod.options, structuredClone(rawOptions ?? {}));
    if (!Value.Check(mod.options, options)) {
      const first = [...Value.Errors(mod.options, options)][0];
      throw new SwitchboardError(
        'SB_ERR_CONFIG_INVALID',
        `modules.${mod.name}${first?.path.replace(/\//g, '.') ?? ''}: ${first?.message ?? 'invalid'}`,
      );
    }
    const key = `${host.name}/${mod.name}`;
    const closers: (() => unknown)[] = [];
    this.closers.set(key, closers);
    const ctx = this.context(host, mod, options, closers);
    try {
      await mod.setup(ctx);
    } catch (err) {
      throw new SwitchboardError('SB_ERR_MODULE', `module ${mod.name} failed to load on ${host.name}: ${String(err)}`, {
        cause: err,
      });
    }
  }

  async unloadAll(): Promise<void> {
    for (const [key, closers] of [...this.closers].reverse()) {
      for (const fn of closers.reverse()) {
        try {
          await fn();
        } catch (err) {
          this.deps.log.error({ err, module: key }, 'module close failed');
        }
      }
    }
    this.closers.clear();
  }

  private context<O>(host: LocalHost, mod: ModuleDefinition, options: O, closers: (() => unknown)[]): ModuleContext<O> {
    const { router, storage, accounts, sessions, iqTracker } = this.deps;
    const log = this.deps.log.child({ mod: mod.name, host: host.name });
    const origin: Origin = { kind: 'local', jid: Jid.of(null, host.name), send: () => {} };
    const send = (stanza: Element): Promise<void> => router.route(stanza, origin) ?? Promise.resolve();
    return {
      host: host.name,
      name: mod.name,
      options,
      log,
      accounts,
      sessions,
      disco: {
        features: () => [...host.features],
        identities: () => [...host.identities],
        accountFeatures: () => [...host.accountFeatures],
        items: () => [...host.items.values()],
      },
      hook: (event, fn, priority = 0) => {
        closers.push(host.bus.on(event, fn, priority, mod.name));
      },
      iq: (type, ns, name, fn, targets = ['host']) => {
        closers.push(...host.iq(type, ns, name, fn, targets, mod.name));
      },
      feature: (ns) => {
        host.features.add(ns);
        closers.push(() => host.features.delete(ns));
      },
      accountFeature: (ns) => {
        host.accountFeatures.add(ns);
        closers.push(() => host.accountFeatures.delete(ns));
      },
      identity: (category, type, name) => {
        const id = name === undefined ? { category, type } : { category, type, name };
        host.identities.push(id);
        closers.push(() => host.identities.splice(host.identities.indexOf(id), 1));
      },
      discoItem: (jid, name) => {
        host.items.set(jid, name === undefined ? { jid } : { jid, name });
        closers.push(() => host.items.delete(jid));
      },
      provide: (name, impl) => {
        host.provide(name, impl);
        closers.push(() => host.services.delete(name as string));
      },
      need: (name) => host.need(name),
      maybe: (name) => host.services.get(name as string) as never,
      store: {
        keyval: (name = mod.name) => storage.keyval(name),
        map: (name = mod.name) => storage.map(name),
        archive: (name = mod.name) => storage.archive(name),
      },
      send,
      request: (iq, timeoutMs = 30_000) => iqTracker.request(iq, timeoutMs, send),
      timer: (ms, fn, opts) => {
        const wrapped = (): void => {
          Promise.resolve()
            .then(fn)
            .catch((err: unknown) => log.error({ err }, 'timer failed'));
        };
        const t = opts?.repeat ? setInterval(wrapped, ms) : setTimeout(wrapped, ms);
        t.unref();
        closers.push(() => clearTimeout(t));
      },
      onClose: (fn) => {
        closers.push(fn);
      },
      isLocalDomain: (domain) => router.table.isLocal(domain),
      fire: (event, data) => host.bus.fire(event, data),
      parseJid: (s) => Jid.parse(s),
    };
  }
}
