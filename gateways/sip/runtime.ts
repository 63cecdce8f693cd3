// One SIP gateway instance: the shared SIP endpoint and what is not per user — routing of inbound requests to the
// logged-in users' sessions (by Request-URI per RFC 7247 §6 in mode `domain`, by registered Contact in mode
// `register`), the notifier for SIP watchers of XMPP users (RFC 6665), the presence agent for PUBLISHing SIP peers
// (RFC 3903), NOTIFY routing to subscriptions, and inbound digest authentication (RFC 3261 §22).
import type { Logger } from 'pino';
import { StanzaError } from '../../server/errors/index.js';
import type { Jid } from '../../server/jid/index.js';
import type { LegacyId, LegacyMessage, LegacyPresence, MessageRefusal } from '../core/driver.js';
import {
  canonicalId,
  isGatewayHost,
  localUserFor,
  type RedirectSpace,
  redirectToSip,
  redirectToXmpp,
} from './address.js';
import { DigestServer } from './digest.js';
import type { SendOptions, SipEndpoint } from './endpoint.js';
import { type JidKind, sipAnswer } from './errors.js';
import { fromSipIm } from './im.js';
import { Notifier } from './notifier.js';
import type { SipOptions } from './options.js';
import { PIDF_TYPE, type PidfTuple } from './pidf.js';
import { PresenceAgent } from './publication.js';
import type { Subscription } from './subscriber.js';
import { parseNameAddr } from './syntax.js';
import type { ServerTransaction } from './transaction.js';
import { aorOf, parseSipUri, type SipUri } from './uri.js';

/** What the runtime needs from a logged-in user's session. */
export interface UserEndpoint {
  /** The user's bare JID. */
  readonly user: string;
  /** Mode `register`: the user part of the Contact the session registered. */
  readonly token?: string;
  /** Mode `register`: the registered address-of-record. */
  readonly aor?: string;
  /** The user's presence for SIP watchers: one PIDF tuple per available resource (RFC 8048 §4). */
  tuples(): readonly PidfTuple[];
  watches(id: LegacyId): boolean;
  /** Whether the user approved this SIP watcher (`subscribed` to its contact JID). */
  approves(id: LegacyId): boolean;
  /** Hands a message to the XMPP side; resolves with its refusal, or null once it took the message. */
  deliverMessage(from: LegacyId, m: LegacyMessage): Promise<MessageRefusal | null>;
  deliverPresence(from: LegacyId, p: LegacyPresence): void;
  askSubscription(from: LegacyId): void;
}

const ALLOW = ['MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'OPTIONS'];
const ALLOW_REGISTER_MODE = ['MESSAGE', 'NOTIFY', 'OPTIONS'];
/** RFC 3261 §21.4.6: methods a UA knows but does not allow here get 405, unknown ones 501 (§21.5.2). */
const KNOWN = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'PRACK', 'UPDATE', 'INFO', 'REFER']);
const DIALOG_ONLY = new Set(['BYE', 'PRACK', 'UPDATE', 'INFO']);

export class SipRuntime {
  readonly users = new Map<string, UserEndpoint>();
  private readonly tokens = new Map<string, UserEndpoint>();
  /** NOTIFY routing: `Call-ID|our tag` → the subscription (RFC 6665 §4.1.2.4). */
  private readonly subscriptions = new Map<string, Subscription>();
  readonly notifier: Notifier | null;
  readonly agent: PresenceAgent | null;
  private readonly auth: DigestServer | null;
  /** Mode `register`: addresses requests may come from (the registrar/proxy), resolved at start. */
  trusted: Set<string> | null = null;
  /**
   * How long a MESSAGE waits for the user's server to take or refuse it: at most half the peer's Timer F (64·T1,
   * RFC 3261 §17.1.2.2), and 5 s.
   */
  readonly deliveryDeadlineMs: number;

  constructor(
    readonly domain: string,
    readonly options: SipOptions,
    readonly endpoint: SipEndpoint,
    readonly send: SendOptions,
    private readonly log: Logger,
    /** Addresses of the gateway's contacts and users, for the new addresses of 3xx / <gone/> (address.ts). */
    readonly space: RedirectSpace,
    /** Whether a user registered with the gateway (DriverContext.registered); absent: assume so. */
    private readonly registered?: (user: Jid) => Promise<boolean>,
  ) {
    this.deliveryDeadlineMs = Math.min(5000, 32 * options.timer_t1_ms);
    const o = options;
    const domainMode = o.mode === 'domain';
    this.auth =
      domainMode && o.inbound_auth ? new DigestServer(o.inbound_auth.realm, (u) => o.inbound_auth?.users[u]) : null;
    this.notifier = domainMode
      ? new Notifier({
          endpoint,
          send,
          log,
          minExpires: o.min_expires,
          maxExpires: o.max_expires,
          defaultExpires: 3600,
          contact: (user) => endpoint.contact(user.split('@')[0] ?? user),
          authorized: (user, watcher) => {
            const u = this.users.get(user);
            return (
              o.presence_authorization === 'open' || (u?.watches(watcher) ?? false) || (u?.approves(watcher) ?? false)
            );
          },
          tuples: (user) => this.users.get(user)?.tuples() ?? [],
          ask: (user, watcher) => this.users.get(user)?.askSubscription(watcher),
        })
      : null;
    this.agent = domainMode
      ? new PresenceAgent(
          { minExpires: o.min_expires, maxExpires: o.max_expires, maxPublications: 10_000, log },
          (aor, p) => {
            for (const u of this.users.values()) if (u.watches(aor)) u.deliverPresence(aor, p);
          },
        )
      : null;
    endpoint.onRequest((tx) => this.dispatch(tx));
  }

  attach(u: UserEndpoint): void {
    this.users.set(u.user, u);
    if (u.token) this.tokens.set(u.token, u);
  }

  detach(u: UserEndpoint): void {
    if (this.users.get(u.user) === u) this.users.delete(u.user);
    if (u.token && this.tokens.get(u.token) === u) this.tokens.delete(u.token);
  }

  route(key: string, sub: Subscription | null): void {
    if (sub) this.subscriptions.set(key, sub);
    else this.subscriptions.delete(key);
  }

  private dispatch(tx: ServerTransaction): void {
    const req = tx.request;
    if (this.trusted && !this.trusted.has(tx.source.address)) {
      tx.respond(403, { reason: 'Forbidden (requests are accepted from the registrar only)' });
      return;
    }
    const allow = this.allow.join(', ');
    switch (req.method) {
      case 'OPTIONS': // RFC 3261 §11.2
        tx.respond(200, {
          headers: [
            ['Allow', allow],
            ['Accept', `text/plain, ${PIDF_TYPE}`],
            ['Allow-Events', 'presence'],
          ],
        });
        return;
      case 'MESSAGE':
        this.onMessage(tx);
        return;
      case 'NOTIFY':
        this.onNotify(tx);
        return;
      case 'SUBSCRIBE':
        if (this.notifier) {
          this.onSubscribe(tx, this.notifier);
          return;
        }
        break;
      case 'PUBLISH':
        if (this.agent) {
          this.onPublish(tx, this.agent);
          return;
        }
        break;
      default:
        if (!KNOWN.has(req.method)) {
          tx.respond(501);
          return;
        }
        if (DIALOG_ONLY.has(req.method)) {
          tx.respond(481);
          return;
        }
    }
    tx.respond(405, { headers: [['Allow', allow]] });
  }

  private get allow(): readonly string[] {
    return this.options.mode === 'domain' ? ALLOW : ALLOW_REGISTER_MODE;
  }

  /** The final response to a request the XMPP side refused (RFC 7247 §7.1, errors.ts sipAnswer). */
  private refuse(tx: ServerTransaction, error: StanzaError, target: JidKind): void {
    const a = sipAnswer(error, target, {
      method: tx.request.method,
      allow: this.allow,
      contactFor: (uri) => redirectToSip(uri, this.space),
    });
    tx.respond(a.status, { reason: a.reason, headers: a.headers });
  }

  /** RFC 7247 Table 3 note 1: the XMPP URI for the Contact of a 3xx response, or null. */
  xmppAddressOf(contact: string | undefined): string | null {
    return contact === undefined ? null : redirectToXmpp(contact, this.space);
  }

  /** The From URI of a request as a canonical legacy id, or null (then 400). */
  private sender(tx: ServerTransaction): { id: LegacyId; uri: SipUri } | null {
    const na = parseNameAddr(tx.request.headers.get('From') ?? '');
    const uri = na ? parseSipUri(na.uri) : null;
    const id = uri ? canonicalId(uri) : null;
    return uri && id ? { id, uri } : null;
  }

  /** RFC 3261 §22.1: mode `domain` with inbound_auth challenges out-of-dialog requests; false when answered. */
  private authenticated(tx: ServerTransaction, from: SipUri): boolean {
    if (!this.auth) return true;
    const value = tx.request.headers.get('Authorization');
    if (value === undefined) {
      tx.respond(401, { headers: this.auth.challenge().map((c) => ['WWW-Authenticate', c] as const) });
      return false;
    }
    const r = this.auth.verify(tx.request.method, value);
    if (!r.ok && r.stale) {
      tx.respond(401, { headers: this.auth.challenge(true).map((c) => ['WWW-Authenticate', c] as const) });
      return false;
    }
    // RFC 3261 §22.3: credentials that do not fit (or fit another user than the From) are refused.
    if (!r.ok || r.user !== from.user) {
      tx.respond(403);
      return false;
    }
    return true;
  }

  /** The session a request is for: by Request-URI per RFC 7247 §6 (domain) or registered Contact (register). */
  private target(
    tx: ServerTransaction,
  ): { session: UserEndpoint | undefined; jidKind: JidKind; resource?: string; user?: Jid } | null {
    const uri = parseSipUri(tx.request.uri);
    if (!uri) return null;
    if (this.options.mode === 'register') {
      const byToken = uri.user !== undefined ? this.tokens.get(uri.user) : undefined;
      const to = parseSipUri(parseNameAddr(tx.request.headers.get('To') ?? '')?.uri ?? '');
      const aor = to ? aorOf(to).toLowerCase() : '';
      const byAor = [...this.users.values()].find((u) => u.aor?.toLowerCase() === aor);
      return { session: byToken ?? byAor, jidKind: 'bare' };
    }
    const jid = localUserFor(uri, this.domain, this.options.aliases, this.options.xmpp_domain);
    if (!jid || jid.local === null) return null;
    // RFC 7247 §6: `;gr=` names the resource: the message goes to that full JID.
    const session = this.users.get(jid.bareString);
    const user = jid.bare();
    return jid.resource === null
      ? { session, jidKind: 'bare', user }
      : { session, jidKind: 'full', resource: jid.resource, user };
  }

  /**
   * RFC 3428 §7 / RFC 7572 §5: a MESSAGE for an XMPP user, answered once the XMPP side has taken it (200) or refused
   * it (the RFC 7247 §7.1 code for its error).
   */
  private onMessage(tx: ServerTransaction): void {
    const from = this.sender(tx);
    if (!from) {
      tx.respond(400, { reason: 'Bad Request (From)' });
      return;
    }
    if (!this.authenticated(tx, from.uri)) return;
    const t = this.target(tx);
    if (!t) {
      tx.respond(404);
      return;
    }
    const session = t.session;
    if (!session) {
      void this.notOnline(tx, t.jidKind, t.user);
      return;
    }
    const im = fromSipIm(tx.request.headers, tx.request.body);
    if (!im.ok) {
      tx.respond(im.status, {
        reason: `${im.status === 415 ? 'Unsupported Media Type' : 'Bad Request'} (${im.reason})`,
        ...(im.status === 415 ? { headers: [['Accept', 'text/plain']] } : {}),
      });
      return;
    }
    if (!im.message) {
      tx.respond(200);
      return;
    }
    // A resource that is not online is the router's business: RFC 6121 §8.5.3.2.1 treats a message of type normal
    // as if sent to the bare JID, as it would for an XMPP sender.
    const m = t.resource ? { ...im.message, resource: t.resource } : im.message;
    session.deliverMessage(from.id, m).then(
      (refusal) => {
        // RFC 7572 §5: 200 once the message is in XMPP hands; RFC 7247 §7.1 for a refusal, about the resource that
        // answered (4xx) or the account (6xx where the table has one).
        if (refusal) this.refuse(tx, refusal.error, refusal.fromResource ? 'full' : 'bare');
        else tx.respond(200);
      },
      (err: unknown) => {
        this.log.error({ err }, 'MESSAGE delivery failed');
        tx.respond(500);
      },
    );
  }

  /**
   * A MESSAGE for a user who is not logged in to the gateway. A registered user is offline: <recipient-unavailable/>
   * (480 for a GRUU, 600 for the account). An address no registered user answers to is refused as XMPP refuses a
   * message for no account (RFC 6121 §8.5.1: <service-unavailable/>, 403 by RFC 7247 §7.1 note 5) — the same for an
   * account that never registered, so that the answer does not tell whether the account exists.
   */
  private async notOnline(tx: ServerTransaction, kind: JidKind, user: Jid | undefined): Promise<void> {
    let registered = true;
    if (user && this.registered) {
      registered = await this.registered(user).catch((err: unknown) => {
        this.log.warn({ err }, 'registration lookup failed');
        return true;
      });
    }
    this.refuse(
      tx,
      registered ? StanzaError.recipientUnavailable('not logged in to the gateway') : StanzaError.serviceUnavailable(),
      kind,
    );
  }

  /** RFC 6665 §4.1.3: a NOTIFY for one of the users' subscriptions, routed by Call-ID and our tag. */
  private onNotify(tx: ServerTransaction): void {
    const req = tx.request;
    const tag = parseNameAddr(req.headers.get('To') ?? '')?.params.get('tag');
    const sub = tag ? this.subscriptions.get(`${req.headers.get('Call-ID')}|${tag}`) : undefined;
    if (!sub) {
      tx.respond(481);
      return;
    }
    sub.notify(tx);
  }

  /** RFC 6665 §4.2.1: a watcher subscribing to an XMPP user's presence (mode `domain`). */
  private onSubscribe(tx: ServerTransaction, notifier: Notifier): void {
    if (notifier.owns(tx)) {
      notifier.refresh(tx);
      return;
    }
    if (parseNameAddr(tx.request.headers.get('To') ?? '')?.params.has('tag')) {
      tx.respond(481);
      return;
    }
    const from = this.sender(tx);
    if (!from) {
      tx.respond(400, { reason: 'Bad Request (From)' });
      return;
    }
    if (!this.authenticated(tx, from.uri)) return;
    const uri = parseSipUri(tx.request.uri);
    const jid = uri ? localUserFor(uri, this.domain, this.options.aliases, this.options.xmpp_domain) : null;
    if (!uri || !jid || jid.local === null) {
      tx.respond(404);
      return;
    }
    // RFC 6121 §3.1.1: presence subscriptions are to bare JIDs, so a `;gr=` in the Request-URI is ignored here and the
    // watcher sees every resource (RFC 8048 §4).
    notifier.subscribe(tx, jid.bareString, from.id.toLowerCase(), aorOf(uri));
  }

  /** RFC 3903 §6: a SIP peer publishing its own presence to the gateway (mode `domain`). */
  private onPublish(tx: ServerTransaction, agent: PresenceAgent): void {
    const from = this.sender(tx);
    const uri = parseSipUri(tx.request.uri);
    if (!from || !uri) {
      tx.respond(400);
      return;
    }
    if (!this.authenticated(tx, from.uri)) return;
    const aor = canonicalId(uri);
    const own = aor !== null && aorOf(uri).toLowerCase() === aorOf(from.uri).toLowerCase();
    // A peer publishes for itself only, and never for an XMPP user's address.
    const xmpp = isGatewayHost(uri.host, this.domain, this.options.aliases) || uri.host === this.options.xmpp_domain;
    if (!aor || !own || xmpp) {
      tx.respond(403, { reason: 'Forbidden (a peer may only publish its own presence)' });
      return;
    }
    agent.handle(tx, aor.toLowerCase());
  }

  async close(): Promise<void> {
    await this.notifier?.close();
    this.agent?.close();
    await this.endpoint.close();
  }
}
