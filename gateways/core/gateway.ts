// One configured gateway domain (XEP-0100): receives every stanza routed to the domain and to the contact JIDs
// under it, enforces the allow-list, and drives each user's UserLink. iq payloads are answered in iq.ts.
import type { Logger } from 'pino';
import { HandlerTimeout } from '../../server/core/hooks.js';
import { KeyedSerial } from '../../server/core/keyed-serial.js';
import { StanzaError } from '../../server/errors/index.js';
import { Jid } from '../../server/jid/index.js';
import type { RosterService } from '../../server/modules/rfc6121-roster/types.js';
import { errorReply, mayBounce } from '../../server/router/stanza.js';
import type { Element } from '../../server/xml/element.js';
import type { KeyValueStore } from '../../storage/api/index.js';
import { AddressMapper } from './address.js';
import type { BackoffOptions } from './backoff.js';
import { Bounces } from './bounces.js';
import { type GatewayDriver, LegacyError, type LegacyId } from './driver.js';
import { handleIq } from './iq.js';
import { UserLink } from './link.js';
import type { Registration } from './registration.js';
import { contactPresence, readMessage, readPresence, typedPresence } from './stanzas.js';

export interface GatewayDeps {
  readonly domain: string;
  /** Shown in disco (XEP-0030 §3.1 identity name) and in the hosts' disco#items. */
  readonly name: string;
  readonly driver: GatewayDriver;
  /** Bare JIDs and domains allowed to use the gateway; empty: every local user. */
  readonly allow: readonly string[];
  /** Registrations keyed (gateway domain, user bare JID). */
  readonly store: KeyValueStore<Registration>;
  /** Routes a stanza the gateway emits (from its domain or a contact JID). */
  route(el: Element): void;
  /**
   * Optional: routes like route() and settles once the local server has handled the stanza — delivered, stored or
   * bounced it (the router's dispatch promise). Without it messages count as taken as soon as they are routed.
   */
  dispatch?(el: Element): Promise<void>;
  isLocalDomain(domain: string): boolean;
  /** The roster service of a local host, if that host loads the roster module. */
  roster(host: string): RosterService | undefined;
  readonly log: Logger;
  readonly backoff: BackoffOptions;
  readonly loginTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly random?: () => number;
}

/** Access a local user has to the gateway. */
export type Access = 'allowed' | 'forbidden';

export class Gateway {
  readonly mapper: AddressMapper;
  private readonly links = new Map<string, UserLink>();
  /** RFC 6120 §10.1: stanzas from one user are handled in the order they arrived. */
  private readonly serial = new KeyedSerial();
  /** Messages from contacts whose outcome a driver awaits (UpstreamSink.messageOutcome). */
  private readonly bounces = new Bounces();

  constructor(readonly deps: GatewayDeps) {
    this.mapper = new AddressMapper(deps.driver.address, deps.domain);
  }

  get domain(): string {
    return this.deps.domain;
  }

  get driver(): GatewayDriver {
    return this.deps.driver;
  }

  /** The route table's entry point: never throws, and never answers an error with an error (RFC 6120 §8.3.1). */
  deliver(el: Element): void {
    const from = Jid.tryParse(el.attrs.from);
    const to = Jid.tryParse(el.attrs.to);
    if (!from || !to) return;
    // A bounce of a message whose outcome a driver awaits goes to that driver, not through the user's queue.
    if (el.attrs.type === 'error' && el.name === 'message' && this.bounces.take(el)) return;
    this.serial
      .run(from.bareString, () => this.handle(el, from, to))
      .catch((err: unknown) => {
        const se = err instanceof StanzaError ? err : toStanzaError(err, this.deps.log);
        if (mayBounce(el)) this.deps.route(errorReply(el, se));
      });
  }

  private async handle(el: Element, from: Jid, to: Jid): Promise<void> {
    if (el.attrs.type === 'error') return;
    if (el.name === 'iq') return handleIq(this, el, from, to);
    if (el.name === 'presence') return this.presence(el, from, to);
    if (el.name === 'message') return this.message(el, from, to);
  }

  /** The allow-list (config `gateways.<domain>.allow`): local users only, then by bare JID or by domain. */
  access(user: Jid): Access {
    if (user.local === null || !this.deps.isLocalDomain(user.domain)) return 'forbidden';
    const { allow } = this.deps;
    if (allow.length === 0) return 'allowed';
    return allow.includes(user.bareString) || allow.includes(user.domain) ? 'allowed' : 'forbidden';
  }

  /** Throws forbidden for users outside the allow-list. */
  requireAccess(user: Jid): void {
    if (this.access(user) === 'forbidden') throw StanzaError.forbidden(`${user.bareString} may not use ${this.domain}`);
  }

  registration(user: Jid): Promise<Registration | null> {
    return this.deps.store.get(this.domain, user.bareString);
  }

  /** Throws registration-required (XEP-0100 §4.4.2) when the user has not registered. */
  async requireRegistration(user: Jid): Promise<Registration> {
    const reg = await this.registration(user);
    if (!reg) throw new StanzaError('registration-required', `register with ${this.domain} first (XEP-0077)`);
    return reg;
  }

  link(user: Jid): UserLink | undefined {
    return this.links.get(user.bareString);
  }

  private linkFor(user: Jid): UserLink {
    const bare = user.bare();
    let link = this.links.get(bare.toString());
    if (!link) {
      link = new UserLink(
        bare,
        {
          driver: this.driver,
          mapper: this.mapper,
          log: this.deps.log.child({ user: bare.toString() }),
          loadCred: async () => (await this.registration(bare))?.cred ?? null,
          send: (el) => this.deps.route(el),
          deliver: (el, opts) => this.bounces.send(el, (e) => this.dispatch(e), opts),
          backoff: this.deps.backoff,
          loginTimeoutMs: this.deps.loginTimeoutMs,
          sendTimeoutMs: this.deps.sendTimeoutMs,
        },
        this.deps.random,
      );
      this.links.set(bare.toString(), link);
    }
    return link;
  }

  private dispatch(el: Element): Promise<void> {
    if (this.deps.dispatch) return this.deps.dispatch(el);
    this.deps.route(el);
    return Promise.resolve();
  }

  private async presence(el: Element, from: Jid, to: Jid): Promise<void> {
    const type = el.attrs.type;
    if (to.local === null) return this.gatewayPresence(el, from, type);
    const id = this.mapper.fromJid(to);
    if (id === null || this.access(from) === 'forbidden') {
      if (type === 'subscribe') this.deps.route(typedPresence('unsubscribed', to.bareString, from.bareString));
      return;
    }
    if (to.resource !== null && this.driver.address.occupant) {
      // XEP-0045 §7.2 / §7.14: presence to `room@gateway/nick` enters or leaves a legacy group chat.
      if (type !== undefined && type !== 'unavailable') return;
      const link = this.link(from);
      if (link) await link.rooms.presence(el, from, to, id, () => link.awaitSession());
      else if (type === undefined) throw StanzaError.recipientUnavailable(`send presence to ${this.domain} first`);
      return;
    }
    if (type === 'probe') {
      // RFC 6121 §4.3.2 on the contact's behalf: its last known presence, else unavailable.
      const p = this.link(from)?.contactPresence(id) ?? { available: false };
      this.deps.route(contactPresence(to.bare(), from.toString(), p));
      // Drivers that can ask the legacy network (e.g. a SIP fetch, RFC 8048 §5) report fresh presence upstream.
      this.link(from)
        ?.legacySession?.probe?.(id)
        .catch((err: unknown) => this.deps.log.debug({ err, contact: to.bareString }, 'legacy probe failed'));
    } else if (type === 'subscribe' || type === 'unsubscribe') {
      await this.contactSubscription(from, to, id, type);
    } else if (type === 'subscribed' || type === 'unsubscribed') {
      // XEP-0100 §5.1: the user's answer to a contact's request, for drivers whose network asks (e.g. SIP watchers).
      await this.link(from)?.legacySession?.subscriptionAnswer?.(id, type === 'subscribed');
    }
    // Directed available/unavailable to a contact needs nothing from the legacy network: the account's presence
    // is the one sent to the gateway.
  }

  /** XEP-0100 §4.4 (log in), §4.5 (log out), §4.1.1 (subscription with the gateway itself). */
  private async gatewayPresence(el: Element, from: Jid, type: string | undefined): Promise<void> {
    const user = from.bareString;
    const allowed = this.access(from) === 'allowed';
    const reg = allowed ? await this.registration(from) : null;
    switch (type) {
      case undefined: {
        if (!allowed) throw StanzaError.forbidden(`${user} may not use ${this.domain}`);
        if (!reg) throw new StanzaError('registration-required', `register with ${this.domain} first (XEP-0077)`);
        this.linkFor(from).available(from.toString(), readPresence(el));
        return;
      }
      case 'unavailable': {
        const link = this.link(from);
        await link?.unavailable(from.toString());
        // An idle link holds nothing worth keeping: drop it so that offline users cost no memory.
        if (link && !link.active && link.state === 'idle') this.links.delete(user);
        return;
      }
      case 'probe':
        if (reg)
          this.deps.route(
            this.link(from)?.presenceFor(from.toString()) ?? typedPresence('unavailable', this.domain, from.toString()),
          );
        return;
      case 'subscribe':
        // XEP-0100 §4.1.1: the gateway approves the registered user's subscription to it.
        this.deps.route(typedPresence(reg ? 'subscribed' : 'unsubscribed', this.domain, user));
        return;
      default:
        return;
    }
  }

  /** XEP-0100 §4.6 (add contact) and §4.7 (delete contact). */
  private async contactSubscription(
    from: Jid,
    to: Jid,
    id: LegacyId,
    type: 'subscribe' | 'unsubscribe',
  ): Promise<void> {
    const contact = to.bareString;
    const user = from.bareString;
    if (!(await this.registration(from))) {
      if (type === 'subscribe') this.deps.route(typedPresence('unsubscribed', contact, user));
      return;
    }
    const session = this.link(from)?.legacySession ?? null;
    try {
      if (type === 'subscribe') await session?.subscribe?.(id);
      else await session?.unsubscribe?.(id);
    } catch (err) {
      this.deps.log.info({ err, contact }, 'legacy network refused the subscription change');
      if (type === 'subscribe') this.deps.route(typedPresence('unsubscribed', contact, user));
      return;
    }
    // Drivers without contact lists approve at once; the contact's presence follows from the legacy side.
    this.deps.route(typedPresence(type === 'subscribe' ? 'subscribed' : 'unsubscribed', contact, user));
  }

  /** XEP-0100 §4.8: a message from the user to a legacy contact goes through the per-peer queue. */
  private async message(el: Element, from: Jid, to: Jid): Promise<void> {
    this.requireAccess(from);
    if (to.local === null) throw StanzaError.serviceUnavailable('the gateway itself takes no messages');
    const target = this.mapper.fromJid(to);
    // XEP-0045 §7.5: a private message to a room occupant goes to that occupant's legacy id, never to the room.
    const id =
      target !== null && to.resource !== null && el.attrs.type !== 'groupchat'
        ? (this.driver.address.occupant?.(target, to.resource) ?? null)
        : target;
    if (id === null) throw StanzaError.itemNotFound(`${to.toString()} names no legacy address`);
    await this.requireRegistration(from);
    const read = readMessage(el);
    if (!read) return; // no body: chat states, receipts — nothing the legacy network carries
    // The sending resource, for networks that address it (a SIP GRUU `;gr=` in the From, RFC 7247 §6).
    const m = from.resource !== null && read.type !== 'groupchat' ? { ...read, resource: from.resource } : read;
    const link = this.link(from);
    if (!link?.active) {
      throw StanzaError.recipientUnavailable(`send presence to ${this.domain} to log in`);
    }
    // Not awaited: the per-peer queue keeps the order, and other stanzas of the user need not wait for the network.
    link.sendMessage(id, m).catch((err: unknown) => {
      this.deps.route(errorReply(el, toStanzaError(err, this.deps.log)));
    });
  }

  /** XEP-0100 §4.3.1: unregistration logs out, removes the legacy contacts and forgets the credentials. */
  async unregister(user: Jid): Promise<void> {
    const bare = user.bare();
    const link = this.links.get(bare.toString());
    this.links.delete(bare.toString());
    await link?.logout('unregistered');
    await this.purgeContacts(bare);
    await this.deps.store.set(this.domain, bare.toString(), null);
  }

  /** Removes every legacy contact (JIDs with a localpart on the gateway domain) from the user's roster. */
  private async purgeContacts(user: Jid): Promise<void> {
    const roster = this.deps.roster(user.domain);
    if (!roster || user.local === null) return;
    const items = await roster.get(user.domain, user.local);
    for (const jid of items.keys()) {
      const c = Jid.tryParse(jid);
      if (c && c.domain === this.domain && c.local !== null) await roster.setItem(user.domain, user.local, jid, null);
    }
  }

  /** A local account was deleted: its registration goes with it (storage keys it by the gateway domain). */
  async userDeleted(user: Jid): Promise<void> {
    const link = this.links.get(user.bareString);
    this.links.delete(user.bareString);
    await link?.logout('account deleted');
    await this.deps.store.set(this.domain, user.bareString, null);
  }

  /** Logs every user out (server shutdown), then releases the driver. */
  async stop(): Promise<void> {
    const links = [...this.links.values()];
    this.links.clear();
    await Promise.all(links.map((l) => l.logout('the gateway is shutting down')));
    await this.driver.close?.();
  }
}

/** A driver's or the queue's failure as the stanza error the user sees (RFC 6120 §8.3.3). */
export function toStanzaError(err: unknown, log: Logger): StanzaError {
  if (err instanceof StanzaError) return err;
  if (err instanceof LegacyError) return new StanzaError(err.condition, err.message);
  if (err instanceof HandlerTimeout)
    return StanzaError.remoteServerTimeout('the legacy network did not answer in time');
  const id = Math.random().toString(36).slice(2, 10);
  log.error({ err, errorId: id }, 'gateway failure');
  return StanzaError.internal(`error id ${id}`);
}
