// One local user's connection to the legacy network through a gateway: login on the first available resource and
// logout after the last one (XEP-0100 §4.4, §4.5), reconnection with backoff (DESIGN §6), one ordered queue per
// legacy peer for outgoing messages, and the upstream sink that turns driver calls into stanzas for the user.
import type { Logger } from 'pino';
import { withTimeout } from '../../server/core/hooks.js';
import { KeyedSerial } from '../../server/core/keyed-serial.js';
import { StanzaError } from '../../server/errors/index.js';
import { Jid } from '../../server/jid/index.js';
import type { Element } from '../../server/xml/element.js';
import type { AddressMapper } from './address.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type OutcomeOptions, outcomeId } from './bounces.js';
import {
  type GatewayDriver,
  LegacyError,
  type LegacyId,
  type LegacyMessage,
  type LegacyPresence,
  type LegacySession,
  type LegacyState,
  type MessageRefusal,
  type UpstreamSink,
} from './driver.js';
import { Rooms } from './rooms.js';
import { contactMessage, contactPresence, gatewayPresence, subscriptionRequest, typedPresence } from './stanzas.js';

export interface LinkDeps {
  readonly driver: GatewayDriver;
  readonly mapper: AddressMapper;
  readonly log: Logger;
  /** The user's stored credentials, or null when the user is not (or no longer) registered. */
  loadCred(): Promise<unknown>;
  /** Routes a stanza from the gateway (or one of its contacts) to the user. */
  send(el: Element): void;
  /** Optional: routes a contact's message and resolves with the XMPP side's refusal, or null (bounces.ts). */
  deliver?(el: Element, opts?: OutcomeOptions): Promise<MessageRefusal | null>;
  readonly backoff: BackoffOptions;
  readonly loginTimeoutMs: number;
  readonly sendTimeoutMs: number;
}

type Phase = 'idle' | 'connecting' | 'online' | 'waiting' | 'failed';

export class UserLink {
  /**
   * Full JIDs of the user's resources that sent the gateway available presence, with that presence, in the order of
   * their last update (the last one is the aggregate handed to setPresence()).
   */
  private readonly resources = new Map<string, LegacyPresence>();
  /** Last presence of each legacy contact reported available, to answer probes and to send unavailable at logout. */
  private readonly contacts = new Map<LegacyId, LegacyPresence>();
  private readonly queue = new KeyedSerial();
  private readonly backoff: Backoff;
  private phase: Phase = 'idle';
  private session: LegacySession | null = null;
  private abort: AbortController | null = null;
  private retry: NodeJS.Timeout | null = null;
  /** Bumped by every login attempt and logout: sinks and callbacks of older attempts fall silent. */
  private generation = 0;
  private shown: { state: LegacyState | 'idle'; detail?: string } = { state: 'idle' };
  private waiters: { resolve: (s: LegacySession) => void; reject: (e: Error) => void }[] = [];
  /** The aggregate last given to setPresence(), to skip repeating it. */
  private mirrored: LegacyPresence | null = null;
  /** XEP-0045 rooms the user's resources joined, for drivers with rooms (rooms.ts). */
  readonly rooms: Rooms;

  constructor(
    readonly user: Jid,
    private readonly deps: LinkDeps,
    random?: () => number,
  ) {
    this.backoff = new Backoff(deps.backoff, random);
    this.rooms = new Rooms({ mapper: deps.mapper, log: deps.log, send: (el) => deps.send(el) });
  }

  /** Whether any resource of the user is available to the gateway. */
  get active(): boolean {
    return this.resources.size > 0;
  }

  get state(): Phase {
    return this.phase;
  }

  /** The legacy session while online (XEP-0100 §4.6, §4.7 contact list changes go through it). */
  get legacySession(): LegacySession | null {
    return this.phase === 'online' ? this.session : null;
  }

  /** XEP-0100 §4.4: available presence from a resource; the first one logs in, later ones update the presence. */
  available(full: string, p: LegacyPresence): void {
    const first = this.resources.size === 0;
    this.resources.delete(full);
    this.resources.set(full, p);
    if (this.phase === 'idle' || (first && this.phase === 'failed')) {
      this.backoff.reset();
      this.start();
    } else if (this.phase === 'online' && this.session) {
      this.mirror(this.session, full, p, true);
    }
  }

  /** XEP-0100 §4.5: unavailable from a resource; after the last one the legacy session is logged out. */
  async unavailable(full: string): Promise<void> {
    if (!this.resources.delete(full)) return;
    if (this.resources.size === 0) return this.logout('the user went offline');
    // Other resources stay: drivers that show resources drop this one, and the aggregate may change.
    if (this.phase === 'online' && this.session) this.mirror(this.session, full, null, false);
  }

  /** The aggregate presence: that of the most recently updated available resource (null: none). */
  private aggregate(): LegacyPresence | null {
    let last: LegacyPresence | null = null;
    for (const p of this.resources.values()) last = p;
    return last;
  }

  /**
   * Hands one resource's change to the session: setResourcePresence() (optional) and then, synchronously after it,
   * setPresence() with the aggregate — always after an available presence, otherwise when the aggregate changed or
   * the driver shows resources (it acts in setPresence(), see driver.ts).
   */
  private mirror(session: LegacySession, full: string, p: LegacyPresence | null, always: boolean): void {
    const warn = (what: string) => (err: unknown) => this.deps.log.warn({ err }, `${what} failed`);
    const resource = Jid.tryParse(full)?.resource ?? null;
    const perResource = session.setResourcePresence !== undefined && resource !== null;
    if (perResource) session.setResourcePresence?.(resource, p).catch(warn('setResourcePresence'));
    const agg = this.aggregate();
    if (!agg || !(always || perResource || !samePresence(agg, this.mirrored))) return;
    this.mirrored = agg;
    session.setPresence(agg).catch(warn('setPresence'));
  }

  /** Credentials changed (XEP-0100 §4.2): log in again with them if the user is online. */
  async restart(): Promise<void> {
    if (!this.active) return;
    await this.disconnect('credentials changed');
    this.backoff.reset();
    this.start();
  }

  /** Logs out and forgets the resources (unregistration, shutdown, last resource gone). */
  async logout(reason: string): Promise<void> {
    this.resources.clear();
    await this.disconnect(reason);
    this.phase = 'idle';
    this.show('idle', reason === 'the user went offline' ? undefined : reason);
  }

  /** The gateway's current presence for a probe (RFC 6121 §4.3.2) from the user. */
  presenceFor(to: string): Element {
    return gatewayPresence(this.deps.mapper.domain, to, this.shown.state, this.shown.detail);
  }

  /** Last known presence of a legacy contact (null: unavailable). */
  contactPresence(id: LegacyId): LegacyPresence | null {
    return this.contacts.get(id) ?? null;
  }

  /**
   * Sends a message through the per-peer queue (DESIGN §6): messages to one peer leave in the order they arrived,
   * each waiting for the previous sendMessage() to settle, while other peers are not held up.
   */
  sendMessage(to: LegacyId, m: LegacyMessage): Promise<void> {
    return this.queue.run(to, async () => {
      const session = await this.ready();
      await withTimeout(session.sendMessage(to, m), this.deps.sendTimeoutMs, 'legacy sendMessage');
    });
  }

  /** The session once online (waiting through a login in progress, up to the login timeout); rejects otherwise. */
  awaitSession(): Promise<LegacySession> {
    return this.ready();
  }

  /** The session while online; during a login or a backoff wait, waits for it up to the login timeout. */
  private ready(): Promise<LegacySession> {
    if (this.phase === 'online' && this.session) return Promise.resolve(this.session);
    if (this.phase !== 'connecting' && this.phase !== 'waiting') {
      return Promise.reject(new LegacyError('not logged in to the legacy network', 'recipient-unavailable'));
    }
    return new Promise<LegacySession>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new LegacyError('the legacy network is not reachable', 'recipient-unavailable'));
      }, this.deps.loginTimeoutMs);
      const w = {
        resolve: (s: LegacySession) => {
          clearTimeout(t);
          resolve(s);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  private start(): void {
    const gen = ++this.generation;
    this.clearRetry();
    this.phase = 'connecting';
    this.attempt(gen).catch((err: unknown) => this.deps.log.error({ err }, 'login attempt failed unexpectedly'));
  }

  private async attempt(gen: number): Promise<void> {
    this.show('connecting');
    const cred = await this.deps.loadCred();
    if (gen !== this.generation) return;
    if (cred === null) return this.lost(gen, 'not registered with this gateway', true);
    const ac = new AbortController();
    this.abort = ac;
    const timer = setTimeout(
      () => ac.abort(new LegacyError('login timed out', 'remote-server-timeout')),
      this.deps.loginTimeoutMs,
    );
    let session: LegacySession;
    try {
      session = await this.deps.driver.login(this.user, cred, this.sink(gen), ac.signal);
    } catch (err) {
      if (gen !== this.generation) return;
      const permanent = err instanceof LegacyError && err.permanent;
      return this.lost(gen, err instanceof Error ? err.message : String(err), permanent);
    } finally {
      clearTimeout(timer);
      if (this.abort === ac) this.abort = null;
    }
    if (gen !== this.generation) {
      // Logged out (or restarted) while the login was in flight: release the late session.
      await session.logout('superseded').catch((err: unknown) => this.deps.log.warn({ err }, 'logout failed'));
      return;
    }
    this.session = session;
    this.phase = 'online';
    this.backoff.connected();
    this.show('online');
    for (const w of this.waiters.splice(0)) w.resolve(session);
    // Every available resource once (drivers that show resources), then the aggregate.
    if (session.setResourcePresence) {
      for (const [full, p] of [...this.resources]) {
        const resource = Jid.tryParse(full)?.resource;
        if (!resource) continue;
        await session
          .setResourcePresence(resource, p)
          .catch((err: unknown) => this.deps.log.warn({ err }, 'setResourcePresence failed'));
      }
    }
    const agg = this.aggregate();
    this.mirrored = agg;
    if (agg) {
      await session.setPresence(agg).catch((err: unknown) => this.deps.log.warn({ err }, 'setPresence failed'));
    }
  }

  /** A failed login or a lost connection: retry after a backoff delay unless the failure is permanent. */
  private lost(gen: number, detail: string, permanent: boolean): void {
    const dropped = this.session;
    this.session = null;
    if (dropped) {
      dropped.logout('connection lost').catch((err: unknown) => this.deps.log.debug({ err }, 'logout after loss'));
    }
    this.contactsGone();
    this.rooms.gone(detail);
    const err = new LegacyError(detail, 'recipient-unavailable');
    if (permanent || !this.active) {
      for (const w of this.waiters.splice(0)) w.reject(err);
      this.phase = permanent ? 'failed' : 'idle';
      this.show('failed', detail);
      return;
    }
    this.phase = 'waiting';
    this.show('offline', detail);
    const delay = this.backoff.failed();
    this.deps.log.info({ user: this.user.toString(), delay, attempt: this.backoff.attempts, detail }, 'reconnecting');
    this.retry = setTimeout(() => {
      this.retry = null;
      if (gen === this.generation && this.active) this.start();
    }, delay);
  }

  private async disconnect(reason: string): Promise<void> {
    this.generation++;
    this.clearRetry();
    this.abort?.abort(new LegacyError(reason, 'recipient-unavailable'));
    this.abort = null;
    const session = this.session;
    this.session = null;
    for (const w of this.waiters.splice(0)) w.reject(new LegacyError(reason, 'recipient-unavailable'));
    this.contactsGone();
    this.rooms.gone(reason);
    if (session) await session.logout(reason).catch((err: unknown) => this.deps.log.warn({ err }, 'logout failed'));
  }

  private clearRetry(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
  }

  /** XEP-0100 §4.5.1: when the legacy session ends, every contact it showed available goes unavailable. */
  private contactsGone(): void {
    const to = this.user.toString();
    for (const id of this.contacts.keys()) {
      const jid = this.deps.mapper.tryToJid(id);
      if (jid) this.deps.send(contactPresence(jid, to, { available: false }));
    }
    this.contacts.clear();
  }

  /** Sends the gateway's presence for a state change, once per distinct state (DESIGN §6). */
  private show(state: LegacyState | 'idle', detail?: string): void {
    const same = this.shown.state === state && this.shown.detail === detail;
    this.shown = detail === undefined ? { state } : { state, detail };
    if (same) return;
    this.deps.send(this.presenceFor(this.user.toString()));
  }

  /** The sink handed to one login attempt; calls from superseded attempts are dropped. */
  private sink(gen: number): UpstreamSink {
    const to = this.user.toString();
    const current = (what: string, from?: LegacyId) => {
      if (gen === this.generation) return true;
      this.deps.log.debug({ what, from }, 'upstream call from a finished legacy session dropped');
      return false;
    };
    const jidOf = (id: LegacyId) => {
      const jid = this.deps.mapper.tryToJid(id);
      if (!jid) this.deps.log.warn({ id }, 'legacy id has no JID form; dropped');
      return jid;
    };
    const refused = (error: StanzaError): MessageRefusal => ({ error, fromResource: false });
    const sink: UpstreamSink = {
      message: (from, m) => {
        if (m.type === 'groupchat') {
          if (current('message', from)) this.rooms.message(from, m);
          return;
        }
        const jid = current('message', from) ? jidOf(from) : null;
        if (jid) this.deps.send(contactMessage(jid, this.addressee(m.resource), m));
      },
      messageOutcome: async (from, m, opts) => {
        if (m.type === 'groupchat' || !this.deps.deliver) {
          sink.message(from, m);
          return null;
        }
        if (!current('message', from)) return refused(StanzaError.recipientUnavailable('the legacy session ended'));
        const jid = jidOf(from);
        if (!jid) return refused(StanzaError.jidMalformed(`${from} has no JID form`));
        const el = contactMessage(jid, this.addressee(m.resource), { ...m, id: outcomeId() });
        return this.deps.deliver(el, opts);
      },
      occupant: (room, o) => {
        if (current('occupant', room)) this.rooms.occupant(room, o);
      },
      presence: (from, p) => {
        const jid = current('presence', from) ? jidOf(from) : null;
        if (!jid) return;
        if (p.available) this.contacts.set(from, p);
        else this.contacts.delete(from);
        this.deps.send(contactPresence(jid, to, p));
      },
      subscriptionRequest: (from, nick) => {
        const jid = current('subscriptionRequest', from) ? jidOf(from) : null;
        if (jid) this.deps.send(subscriptionRequest(jid, to, nick));
      },
      unsubscribed: (from) => {
        const jid = current('unsubscribed', from) ? jidOf(from) : null;
        if (jid) this.deps.send(typedPresence('unsubscribed', jid.bareString, this.user.bareString));
      },
      state: (s, detail) => {
        if (current('state')) this.onState(gen, s, detail);
      },
    };
    return sink;
  }

  /**
   * Where an upstream message goes: the user's full JID when the driver names a resource (e.g. a SIP `;gr=`,
   * RFC 7247 §6) — the router then applies RFC 6121 §8.5.3 — else the bare JID (XEP-0100 §5.3).
   */
  private addressee(resource: string | undefined): string {
    if (resource === undefined || resource === '') return this.user.toString();
    const full = Jid.tryParse(`${this.user.bareString}/${resource}`);
    if (!full) this.deps.log.debug({ resource }, 'invalid resource from the driver; message sent to the bare JID');
    return full?.toString() ?? this.user.toString();
  }

  private onState(gen: number, s: LegacyState, detail?: string): void {
    // While login() is pending, its outcome decides; the driver's progress is only shown.
    if (this.phase === 'connecting' || !this.session) {
      this.show(s === 'online' ? 'connecting' : s, detail);
      return;
    }
    if (s === 'offline' || s === 'failed') this.lost(gen, detail ?? 'connection lost', s === 'failed');
    else this.show(s, detail);
  }
}

function samePresence(a: LegacyPresence, b: LegacyPresence | null): boolean {
  return b !== null && a.available === b.available && a.show === b.show && a.status === b.status;
}
