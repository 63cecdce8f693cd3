// Typed event bus (DESIGN §1): Prosody's event names, declared in HookMap so a misspelt event is a compile error.
import type { Jid } from '../jid/index.js';
import type { ClientStream } from '../session/client-stream.js';
import type { Element } from '../xml/element.js';
import { DeadlineQueue } from './deadlines.js';

/**
 * Who sent a stanza into the router: a local client session, a peer server, a component, an in-process gateway
 * (gateways/core: trusted for its own domain, like a component) or the server itself.
 */
export interface Origin {
  readonly kind: 'c2s' | 's2s' | 'component' | 'gateway' | 'local';
  /** The authenticated full JID (c2s) or domain (s2s, component). */
  readonly jid: Jid | null;
  /** Sends a stanza back over this origin's stream. */
  send(el: Element): void;
}

export interface StanzaEvent {
  /**
   * The stanza with prepared 'from' and 'to'. Never mutate it (DESIGN §9.7); a handler that must amend it for
   * the handlers after it (e.g. XEP-0359 stanza-id stamping) assigns a modified copy here instead.
   */
  stanza: Element;
  readonly from: Jid;
  readonly to: Jid;
  readonly origin: Origin;
}

/** A client session as hooks see it. */
export interface SessionInfo extends Origin {
  readonly id: string;
  readonly kind: 'c2s';
  readonly jid: Jid;
  readonly username: string;
  readonly host: string;
  readonly resource: string;
  readonly ip: string;
  /** Last available presence sent by the client (RFC 6121 §4.2), or null while unavailable. */
  presence: Element | null;
  priority: number;
  /** Whether the resource has sent initial presence and not gone unavailable (RFC 6121 §4.2.1). */
  available: boolean;
  /** Free-form per-module state, keyed by module name. */
  readonly state: Map<string, unknown>;
  close(error?: import('../errors/index.js').StreamError): void;
}

/** See HookMap['message-delivered']. */
export interface MessageDelivered {
  /** The message as delivered (after every handler's amendments, e.g. an XEP-0359 stanza-id). */
  readonly stanza: Element;
  readonly from: Jid;
  /** The address the message was sent to: the account's bare JID or one of its full JIDs. */
  readonly to: Jid;
  readonly sessions: readonly SessionInfo[];
}

export interface IqEvent extends StanzaEvent {
  /** The single payload child of a get/set iq (RFC 6120 §8.2.3). */
  readonly payload: Element;
}

type Target = 'bare' | 'full' | 'host' | 'self';
type Kind = 'message' | 'presence' | 'iq';

export type StanzaHooks = { [K in `${Kind}/${Target}` | `pre-${Kind}/${Target}`]: StanzaEvent };
export type IqHooks = { [k: `iq-${'get' | 'set'}/${Target}/${string}`]: IqEvent };

export interface HookMap extends StanzaHooks, IqHooks {
  /** A message for an account with no available resource (RFC 6121 §8.5.2.2): offline storage claims it. */
  'message/offline': StanzaEvent;
  /**
   * A message for a local account went through the RFC 6121 §8.5 delivery rules: `sessions` are the resources
   * that received `stanza` (empty when offline storage took it). Fired after delivery, by the message module
   * only, so that features such as carbons (XEP-0280 §7) follow its rules instead of repeating them.
   */
  'message-delivered': MessageDelivered;
  /** A client session bound a resource (RFC 6120 §7). */
  'resource-bind': { session: SessionInfo };
  /** A resource sent its initial presence (RFC 6121 §4.2). */
  'session-available': { session: SessionInfo };
  /**
   * A resource became eligible for messages to the bare JID (RFC 6121 §8.5.2.1.1): available with a non-negative
   * priority, by initial presence or by a later update that raised a negative priority. Fired once per change,
   * after 'session-available' when both apply; offline messages are delivered on this (XEP-0160 §2).
   */
  'session-deliverable': { session: SessionInfo };
  /** A resource became unavailable, by unavailable presence or by its session ending (RFC 6121 §4.5). */
  'session-unavailable': { session: SessionInfo };
  /** A client session ended; error is set when it ended abnormally. */
  'resource-unbind': { session: SessionInfo; error?: string };
  'authentication-success': { host: string; username: string; ip: string; mechanism: string };
  'authentication-failure': { host: string; username: string | null; ip: string; mechanism: string; condition: string };
  /** Collect stream features offered after authentication (RFC 6120 §4.3.2). */
  'stream-features': { session: { host: string; authenticated: boolean; bound: boolean }; features: Element[] };
  /** A non-stanza element from an authenticated client (XEP-0198, XEP-0352 nonzas); the taker returns true. */
  'c2s-nonza': { session: ClientStream; element: Element };
  /** XEP-0198 §5: a session was resumed on a new transport (XEP-0352 §5.2: its CSI state is active again). */
  'c2s-resumed': { session: ClientStream };
  /** An account was created or deleted through the running server's AccountService (in-band registration). */
  'user-created': { host: string; username: string };
  /**
   * An account is about to be deleted and its data is still there: modules that must tell others do it now
   * (XEP-0077 §3.2 and RFC 6121 §2.5.2: contacts' subscriptions are cancelled). Deletion goes ahead even if a
   * handler fails. Not fired by the command line (`switchboard deluser` works on the store alone).
   */
  'user-deleting': { host: string; username: string };
  'user-deleted': { host: string; username: string };
  /** An unauthenticated client sent an iq (XEP-0077 in-band registration answers it). */
  'c2s-unauthenticated-iq': { stanza: Element; ip: string; host: string; reply(el: Element): void };
}

export type HookName = keyof HookMap;
export type Handler<T> = (event: T) => boolean | undefined | void | Promise<boolean | undefined | void>;

interface Entry {
  fn: Handler<never>;
  priority: number;
  owner: string;
}

/** Per-host event bus. Handlers run in priority order (higher first); returning true stops dispatch. */
export class HookBus {
  /** Handler lists are never changed in place (copy on write), so `fire` can walk one without copying it. */
  private readonly handlers = new Map<string, readonly Entry[]>();
  private readonly deadlines: DeadlineQueue;

  constructor(
    private readonly onError: (event: string, owner: string, err: unknown) => void,
    timeoutMs = 10_000,
  ) {
    this.deadlines = new DeadlineQueue(timeoutMs);
  }

  on<K extends HookName>(event: K, fn: Handler<HookMap[K]>, priority = 0, owner = 'core'): () => void {
    const entry: Entry = { fn: fn as Handler<never>, priority, owner };
    // Stable sort keeps registration order among equal priorities.
    const list = [...(this.handlers.get(event) ?? []), entry].sort((a, b) => b.priority - a.priority);
    this.handlers.set(event, list);
    return () => {
      const cur = this.handlers.get(event);
      if (!cur?.includes(entry)) return;
      const rest = cur.filter((e) => e !== entry);
      if (rest.length === 0) this.handlers.delete(event);
      else this.handlers.set(event, rest);
    };
  }

  has(event: string): boolean {
    return this.handlers.has(event);
  }

  /** Fires an event; resolves true if a handler claimed it. Handler errors are reported, then rethrown. */
  async fire<K extends HookName>(event: K, data: HookMap[K]): Promise<boolean> {
    const list = this.handlers.get(event);
    if (!list) return false;
    for (const entry of list) {
      let r: ReturnType<Handler<never>>;
      try {
        r = (entry.fn as Handler<HookMap[K]>)(data);
        if (r instanceof Promise)
          r = await this.deadlines.race(r, () => new HandlerTimeout(`${event} handler of ${entry.owner}`));
      } catch (err) {
        this.onError(event, entry.owner, err);
        throw err;
      }
      if (r === true) return true;
    }
    return false;
  }
}

export class HandlerTimeout extends Error {
  constructor(what: string) {
    super(`${what} timed out`);
    this.name = 'HandlerTimeout';
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HandlerTimeout(what)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
