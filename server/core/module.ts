// Module API (DESIGN §3): what a feature module sees of the server.
import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { ArchiveStore, KeyValueStore, MapStore } from '../../storage/api/index.js';
import type { Jid } from '../jid/index.js';
import type { SessionRegistry } from '../session/registry.js';
import type { Element } from '../xml/element.js';
import type { AccountService } from './accounts.js';
import type { Handler, HookMap, HookName, IqEvent } from './hooks.js';

/** Which published version of a spec a module implements, for docs and DOAP. */
export interface SpecClaim {
  rfc?: number;
  xep?: number;
  version?: string;
  status: 'complete' | 'partial' | 'planned';
  note?: string;
}

/** Typed service registry, extended by modules through declaration merging. */
// biome-ignore lint/suspicious/noEmptyInterface: extended by modules via declaration merging
export interface Services {}

export type IqTarget = 'host' | 'bare' | 'full' | 'self';
/** void → empty result, Element → result with that child; throw StanzaError for an error reply. */
export type IqHandler = (ev: IqEvent) => Element | undefined | void | Promise<Element | undefined | void>;

export interface DiscoIdentity {
  category: string;
  type: string;
  name?: string;
}

export interface DiscoView {
  features(): string[];
  identities(): DiscoIdentity[];
  /** Features advertised on a user's bare JID (account features, XEP-0030 §3.1). */
  accountFeatures(): string[];
  items(): { jid: string; name?: string }[];
}

export interface ModuleContext<Opts> {
  readonly host: string;
  readonly name: string;
  readonly options: Readonly<Opts>;
  readonly log: Logger;
  readonly accounts: AccountService;
  readonly sessions: SessionRegistry;
  readonly disco: DiscoView;
  hook<K extends HookName>(event: K, fn: Handler<HookMap[K]>, priority?: number): void;
  iq(type: 'get' | 'set', ns: string, name: string, fn: IqHandler, targets?: readonly IqTarget[]): void;
  feature(ns: string): void;
  accountFeature(ns: string): void;
  identity(category: string, type: string, name?: string): void;
  discoItem(jid: string, name?: string): void;
  provide<K extends keyof Services>(name: K, impl: Services[K]): void;
  need<K extends keyof Services>(name: K): Services[K];
  /** An optional service: undefined when no loaded module provides it. */
  maybe<K extends keyof Services>(name: K): Services[K] | undefined;
  readonly store: {
    keyval<T>(name?: string): KeyValueStore<T>;
    map<T>(name?: string): MapStore<T>;
    archive<T>(name?: string): ArchiveStore<T>;
  };
  /**
   * Routes a stanza as if the server sent it (its 'from' must be set). The promise settles when local dispatch
   * is done; a handler that re-routes a client's stanza awaits it to keep RFC 6120 §10.1 ordering.
   */
  send(stanza: Element): Promise<void>;
  /** Sends an iq and waits for its result; rejects with StanzaError on an error reply or timeout. */
  request(iq: Element, timeoutMs?: number): Promise<Element>;
  timer(ms: number, fn: () => unknown, opts?: { repeat?: boolean }): void;
  onClose(fn: () => unknown): void;
  isLocalDomain(domain: string): boolean;
  fire<K extends HookName>(event: K, data: HookMap[K]): Promise<boolean>;
  parseJid(s: string): Jid;
}

export interface ModuleDefinition<S extends TSchema = TSchema> {
  name: string;
  specs: SpecClaim[];
  options: S;
  /** Loaded on every host unless the host lists its modules explicitly. */
  defaultEnabled: boolean;
  /** Always loaded; cannot be left out of a host's module list. */
  core?: boolean;
  dependencies?: string[];
  setup(ctx: ModuleContext<Static<S>>): void | Promise<void>;
}

export const defineModule = <S extends TSchema>(m: ModuleDefinition<S>): ModuleDefinition<S> => m;
