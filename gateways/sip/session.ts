// One XMPP user's SIP presence on the network (the driver's LegacySession): messages as SIP MESSAGE (RFC 3428,
// RFC 7572), the user's presence to watchers (mode `domain`, RFC 6665 NOTIFY) or to the presence server (mode
// `register`, RFC 3903 PUBLISH), subscriptions to contacts (RFC 8048 §5), and in mode `register` the account's
// registration (RFC 3261 §10).
import type { Logger } from 'pino';
import { StanzaError } from '../../server/errors/index.js';
import { Jid } from '../../server/jid/index.js';
import type {
  LegacyId,
  LegacyMessage,
  LegacyPresence,
  LegacySession,
  MessageRefusal,
  UpstreamSink,
} from '../core/driver.js';
import { jidToSipUri } from './address.js';
import { newCallId, newTag, type SendOptions, TooLargeForUdp } from './endpoint.js';
import { sipFailure } from './errors.js';
import { splitUtf8, toSipIm, UDP_MESSAGE_LIMIT } from './im.js';
import { type PidfTuple, resourceTuples } from './pidf.js';
import type { Publisher } from './publication.js';
import type { Registration } from './register.js';
import { networkError } from './register.js';
import type { SipRuntime, UserEndpoint } from './runtime.js';
import { fetchPresence, type SubscriberDeps, Subscription } from './subscriber.js';

export interface SessionParams {
  readonly user: string;
  /** The user's SIP identity: `sip:alice@xmpp-domain` (domain) or the registered AOR (register). */
  readonly identity: string;
  readonly display?: string;
  readonly contact: string;
  readonly token?: string;
  readonly send: SendOptions;
  readonly registration?: Registration;
  readonly publisher?: Publisher;
  /** Contacts the user subscribed to (lowercased ids), kept by the driver across logins. */
  readonly watched: Set<LegacyId>;
  /** SIP watchers the user approved (`subscribed`), lowercased, kept by the driver across logins. */
  readonly approved: Set<LegacyId>;
  readonly log: Logger;
}

/** How long subscribe() waits for the SIP answer before approving and going on in the background. */
const SUBSCRIBE_WAIT_MS = 5000;
/** How long a probe's fetch waits for the NOTIFY. */
const FETCH_WAIT_MS = 5000;

export class SipSession implements LegacySession, UserEndpoint {
  /** The user's aggregate presence (XEP-0100 §4.4). */
  presence: LegacyPresence = { available: false };
  /** Each available XMPP resource's presence, for one PIDF tuple per resource (RFC 8048 §4). */
  private readonly resources = new Map<string, LegacyPresence>();
  private readonly subs = new Map<LegacyId, Subscription>();
  /** Case as the SIP side wrote each id (XMPP localparts are case-folded, RFC 7622 §3.3). */
  private readonly cased = new Map<string, LegacyId>();
  /** RFC 7572 §4: one CSeq sequence per Call-ID (= XMPP thread). */
  private readonly threads = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly rt: SipRuntime,
    private readonly p: SessionParams,
    private readonly up: UpstreamSink,
  ) {}

  get user(): string {
    return this.p.user;
  }
  get token(): string | undefined {
    return this.p.token;
  }
  get aor(): string | undefined {
    return this.p.registration ? this.p.identity : undefined;
  }

  /** Subscribes again to the contacts the user watches (after a login). */
  resume(): void {
    for (const id of this.p.watched) void this.watch(id).catch(() => {});
  }

  watches(id: LegacyId): boolean {
    return this.p.watched.has(id.toLowerCase());
  }

  approves(id: LegacyId): boolean {
    return this.p.approved.has(id.toLowerCase());
  }

  /**
   * RFC 8048 §5: the user's answer to a SIP watcher — `subscribed` makes a pending subscription active (NOTIFY with
   * state), `unsubscribed` ends it as rejected.
   */
  async subscriptionAnswer(id: LegacyId, approved: boolean): Promise<void> {
    const key = id.toLowerCase();
    if (approved) {
      this.p.approved.add(key);
      this.rt.notifier?.reauthorize(this.p.user);
    } else {
      this.p.approved.delete(key);
      this.rt.notifier?.revoke(this.p.user, key);
    }
  }

  private original(id: LegacyId): LegacyId {
    return this.cased.get(id.toLowerCase()) ?? id;
  }

  /** A SIP peer's message to the user; resolves with the XMPP side's refusal, or null once it took it. */
  async deliverMessage(from: LegacyId, m: LegacyMessage): Promise<MessageRefusal | null> {
    if (this.closed) return { error: StanzaError.recipientUnavailable('logged out'), fromResource: false };
    this.cased.set(from.toLowerCase(), from);
    if (!this.up.messageOutcome) {
      this.up.message(from, m);
      return null;
    }
    return this.up.messageOutcome(from, m, {
      waitMs: this.rt.options.xmpp_error_wait_ms,
      deadlineMs: this.rt.deliveryDeadlineMs,
    });
  }

  deliverPresence(from: LegacyId, p: LegacyPresence): void {
    if (!this.closed) this.up.presence(this.original(from), p);
  }

  askSubscription(from: LegacyId): void {
    if (!this.closed) this.up.subscriptionRequest(this.original(from));
  }

  /** RFC 3428 §4 / RFC 7572 §4: the message as a MESSAGE request; failures mapped by RFC 7247 §7.2. */
  async sendMessage(to: LegacyId, m: LegacyMessage): Promise<void> {
    const target = this.original(to);
    const im = toSipIm(m);
    const callId = im.callId ?? newCallId('gw');
    try {
      await this.sendIm(target, im, callId, im.body, m.resource);
    } catch (err) {
      if (!(err instanceof TooLargeForUdp)) throw err;
      // No stream transport reaches the peer: split the text so each MESSAGE fits into a datagram.
      const overhead =
        600 +
        Buffer.byteLength(target) * 2 +
        Buffer.byteLength(this.p.identity) +
        Buffer.byteLength(m.resource ?? '') +
        (im.subject?.length ?? 0);
      for (const part of splitUtf8(m.body, Math.max(200, UDP_MESSAGE_LIMIT - overhead))) {
        await this.sendIm(target, im, callId, Buffer.from(part, 'utf8'), m.resource);
      }
    }
  }

  private async sendIm(
    target: string,
    im: ReturnType<typeof toSipIm>,
    callId: string,
    body: Buffer,
    resource: string | undefined,
  ): Promise<void> {
    // RFC 7572 §4 with RFC 7247 §6: a message from a full JID carries the resource as `;gr=` in the From (mode
    // `domain`; a reply to that URI reaches the same resource).
    const from = (resource !== undefined ? this.gruu(resource) : null) ?? this.p.identity;
    const headers: [string, string][] = [];
    if (im.subject !== undefined) headers.push(['Subject', im.subject]);
    if (im.language !== undefined) headers.push(['Content-Language', im.language]);
    const res = await this.rt.endpoint
      .request(
        {
          method: 'MESSAGE',
          uri: target,
          from: { uri: from, tag: newTag(), ...(this.p.display ? { display: this.p.display } : {}) },
          to: { uri: target },
          callId,
          nextSeq: () => this.nextSeq(callId),
          headers,
          body,
          contentType: im.contentType,
        },
        this.p.send,
      )
      .catch((err: unknown) => {
        if (err instanceof TooLargeForUdp) throw err;
        const le = networkError(err, 'MESSAGE');
        throw new StanzaError(le.condition, le.message);
      });
    // RFC 7247 Table 3 note 1: a redirect's Contact becomes the address in <gone/> (301) or <redirect/> (300, 302).
    if (res.status >= 300)
      throw sipFailure(
        res.status,
        res.reason,
        res.status < 400 ? this.rt.xmppAddressOf(res.headers.all('Contact')[0]) : null,
      );
  }

  private nextSeq(callId: string): number {
    const n = (this.threads.get(callId) ?? 0) + 1;
    this.threads.delete(callId);
    this.threads.set(callId, n);
    if (this.threads.size > 1000) this.threads.delete(this.threads.keys().next().value ?? '');
    return n;
  }

  /**
   * One resource's presence (null: it went unavailable while others stay). Only recorded: setPresence(), which the
   * framework calls right after, notifies the watchers (driver.ts).
   */
  async setResourcePresence(resource: string, p: LegacyPresence | null): Promise<void> {
    if (p?.available) this.resources.set(resource, p);
    else this.resources.delete(resource);
  }

  /**
   * XEP-0100 §4.4: the user's presence changed, for SIP watchers (NOTIFY) or the presence server (PUBLISH): one
   * tuple per available resource, or the aggregate alone when no resource was reported.
   */
  async setPresence(p: LegacyPresence): Promise<void> {
    this.presence = p;
    this.rt.notifier?.update(this.p.user);
    if (this.p.publisher) {
      await this.p.publisher
        .publish(this.tuples())
        .catch((err: unknown) => this.p.log.info({ err: String(err) }, 'PUBLISH failed'));
    }
  }

  /** The PIDF tuples of the user's presence (RFC 8048 §4); empty while unavailable (one closed tuple is sent). */
  tuples(): readonly PidfTuple[] {
    if (this.closed || !this.presence.available) return [];
    if (this.resources.size === 0) return [{ presence: this.presence }];
    return resourceTuples(this.resources, (r) => this.gruu(r));
  }

  /**
   * RFC 7247 §6: the SIP URI of one of the user's resources, `sip:alice@example.com;gr=phone` — only in mode
   * `domain`, where the gateway owns the user's SIP addresses; a registrar's AOR gets no GRUU it did not assign
   * (RFC 5627 §3), so mode `register` answers null.
   */
  private gruu(resource: string): string | null {
    if (this.p.registration) return null;
    const full = Jid.tryParse(`${this.p.user}/${resource}`);
    return full ? jidToSipUri(full) : null;
  }

  /** RFC 8048 §5: XMPP subscribe → SIP SUBSCRIBE; a definitive refusal rejects (the user gets unsubscribed). */
  async subscribe(id: LegacyId): Promise<void> {
    const key = id.toLowerCase();
    this.p.watched.add(key);
    this.rt.notifier?.reauthorize(this.p.user);
    await this.watch(key);
  }

  private async watch(key: LegacyId): Promise<void> {
    if (this.closed || this.subs.has(key)) return;
    const published = this.rt.agent?.get(key);
    if (published) {
      // The contact publishes to this gateway (RFC 3903): its state is here, no SUBSCRIBE needed.
      this.deliverPresence(key, published);
      return;
    }
    const sub = new Subscription(
      this.subscriberDeps(),
      this.original(key),
      (p) => this.deliverPresence(key, p),
      false,
      // RFC 8048 §5: NOTIFY terminated;reason=rejected (or a later refusal) → `unsubscribed` from the contact.
      () => {
        if (this.subs.get(key) === sub) this.subs.delete(key);
        if (!this.closed) this.up.unsubscribed?.(this.original(key));
      },
    );
    this.subs.set(key, sub);
    // A refusal (a SIP failure response) is final, except in mode `domain` where the contact may still PUBLISH
    // here; a timeout or transport failure is retried in the background by the subscription.
    const settle = (err: unknown): boolean => {
      if (!(err instanceof StanzaError)) {
        sub.retrySoon();
        return false;
      }
      if (this.subs.get(key) === sub) this.subs.delete(key);
      return this.rt.agent === null;
    };
    const started = sub.start();
    const timeout = new Promise<'wait'>((r) => setTimeout(() => r('wait'), SUBSCRIBE_WAIT_MS).unref?.());
    try {
      if ((await Promise.race([started, timeout])) === 'wait') {
        // Approved already (the framework went on); a late refusal becomes `unsubscribed` from the contact.
        started.catch((err: unknown) => {
          if (settle(err) && !this.closed) this.up.unsubscribed?.(this.original(key));
        });
      }
    } catch (err) {
      this.p.log.info({ contact: key, err: String(err) }, 'SIP subscription not established');
      if (settle(err)) throw err;
    }
  }

  /**
   * RFC 8048 §5: an XMPP probe → a fetch (SUBSCRIBE with Expires: 0, RFC 6665 §4.4.3) unless a subscription or a
   * publication already keeps the contact's presence current.
   */
  async probe(id: LegacyId): Promise<void> {
    const key = id.toLowerCase();
    if (this.closed || this.subs.has(key)) return;
    const published = this.rt.agent?.get(key);
    if (published) {
      this.deliverPresence(key, published);
      return;
    }
    const p = await fetchPresence(this.subscriberDeps(), this.original(key), FETCH_WAIT_MS);
    if (p) this.deliverPresence(key, p);
  }

  private subscriberDeps(): SubscriberDeps {
    return {
      endpoint: this.rt.endpoint,
      send: this.p.send,
      localUri: this.p.identity,
      contact: this.p.contact,
      expires: this.rt.options.subscribe_expires,
      log: this.p.log,
      route: (k, s) => this.rt.route(k, s),
    };
  }

  /** RFC 8048 §5: XMPP unsubscribe → SUBSCRIBE Expires: 0. */
  async unsubscribe(id: LegacyId): Promise<void> {
    const key = id.toLowerCase();
    this.p.watched.delete(key);
    const sub = this.subs.get(key);
    this.subs.delete(key);
    await sub?.stop();
  }

  /** XEP-0100 §4.5: ends subscriptions, withdraws presence, unregisters. */
  async logout(): Promise<void> {
    if (this.closed) return;
    this.presence = { available: false };
    this.resources.clear();
    this.rt.notifier?.update(this.p.user);
    this.closed = true;
    this.rt.detach(this);
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.all([
      ...subs.map((s) => s.stop()),
      this.p.publisher?.remove().catch(() => {}),
      this.p.registration?.unregister(),
    ]);
  }

  /** The registration was lost (mode `register`): the framework shows `offline` and logs in again with backoff. */
  lost(detail: string): void {
    if (this.closed) return;
    this.up.state('offline', detail);
  }
}
