// The gateway as presence notifier (RFC 6665 §4.2, RFC 3856) for XMPP users in the same-domain mode: SIP watchers
// SUBSCRIBE to `sip:alice@xmpp-domain` and get NOTIFYs with the user's presence as PIDF (RFC 8048 §4). Authorization
// follows the gateway's policy: `open` accepts every watcher; `contacts` accepts watchers the user subscribed to
// through the gateway and keeps the others pending (RFC 6665 §4.2.1.2) while the user is asked (a `subscribe` from
// the watcher's contact JID, RFC 8048 §5); subscribing back to the watcher approves it.
import type { Logger } from 'pino';
import type { LegacyId } from '../core/driver.js';
import {
  acceptRemoteSeq,
  type Dialog,
  dialogKey,
  formatSubscriptionState,
  inboundKey,
  inDialog,
  notifierDialog,
  parseEvent,
  type SubscriptionState,
} from './dialog.js';
import { newTag, type SendOptions, type SipEndpoint } from './endpoint.js';
import { buildPidf, PIDF_TYPE, type PidfTuple } from './pidf.js';
import { parseDelta } from './syntax.js';
import type { ServerTransaction } from './transaction.js';

export interface NotifierDeps {
  readonly endpoint: SipEndpoint;
  readonly send: SendOptions;
  readonly log: Logger;
  readonly minExpires: number;
  readonly maxExpires: number;
  /** RFC 3856 §6.4: 3600 s when the SUBSCRIBE has no Expires. */
  readonly defaultExpires: number;
  /** Our Contact for the dialogs of `user`. */
  contact(user: string): string;
  /** Whether `watcher` may see `user`'s presence now. */
  authorized(user: string, watcher: LegacyId): boolean;
  /**
   * The user's current presence as PIDF tuples: one per available XMPP resource (RFC 8048 §4); empty when the user
   * is offline or not logged in (the document then has one closed tuple).
   */
  tuples(user: string): readonly PidfTuple[];
  /** Asks the user to authorize a pending watcher. */
  ask(user: string, watcher: LegacyId): void;
}

interface Watch {
  readonly key: string;
  readonly user: string;
  readonly watcher: LegacyId;
  /** The presentity URI as the watcher named it (the PIDF entity, RFC 3863 §4.1.2). */
  readonly entity: string;
  readonly dialog: Dialog;
  state: 'active' | 'pending';
  expiresAt: number;
  timer: NodeJS.Timeout | null;
  /** NOTIFYs of one subscription go out one after the other. */
  chain: Promise<void>;
  ended: boolean;
}

export class Notifier {
  private readonly watches = new Map<string, Watch>();
  private readonly byUser = new Map<string, Set<Watch>>();

  constructor(private readonly deps: NotifierDeps) {}

  /** Whether an in-dialog request belongs to one of our notifier dialogs. */
  owns(tx: ServerTransaction): boolean {
    const key = inboundKey(tx.request);
    return key !== null && this.watches.has(key);
  }

  /** A SUBSCRIBE inside one of our dialogs: refresh or unsubscribe (RFC 6665 §4.2.1.2, §4.2.1.4). */
  refresh(tx: ServerTransaction): void {
    this.subscribe(tx, '', '', '');
  }

  /**
   * A SUBSCRIBE for `user`'s presence, new or inside an existing dialog (RFC 6665 §4.2.1). `watcher` is the
   * subscriber's canonical id (its From URI); `entity` the Request-URI AOR.
   */
  subscribe(tx: ServerTransaction, user: string, watcher: LegacyId, entity: string): void {
    const req = tx.request;
    const event = parseEvent(req.headers.get('Event'));
    if (event?.pkg !== 'presence') {
      tx.respond(489, { headers: [['Allow-Events', 'presence']] }); // RFC 6665 §4.2.1.1
      return;
    }
    const accept = req.headers.all('Accept').map((a) => a.split(';')[0]?.trim().toLowerCase());
    if (accept.length > 0 && !accept.some((a) => a === PIDF_TYPE || a === '*/*' || a === 'application/*')) {
      tx.respond(406, { headers: [['Accept', PIDF_TYPE]] }); // RFC 6665 §4.2.1.1, RFC 3856 §6.6
      return;
    }
    let expires = parseDelta(req.headers.get('Expires')) ?? this.deps.defaultExpires;
    if (expires > 0 && expires < this.deps.minExpires) {
      tx.respond(423, { headers: [['Min-Expires', String(this.deps.minExpires)]] }); // RFC 6665 §4.2.1.1
      return;
    }
    expires = Math.min(expires, this.deps.maxExpires);
    const key = inboundKey(req);
    const existing = key ? this.watches.get(key) : undefined;
    if (key && !existing) {
      tx.respond(481); // a refresh for a subscription we do not have (RFC 6665 §4.2.1.2)
      return;
    }
    if (existing) {
      if (!acceptRemoteSeq(existing.dialog, req)) {
        tx.respond(500, { reason: 'Out of order CSeq' });
        return;
      }
      this.accept(tx, existing, expires);
      return;
    }
    const tag = newTag();
    const dialog = notifierDialog(req, tag, Math.floor(Math.random() * 10_000));
    if (!dialog) {
      tx.respond(400, { reason: 'Bad Request (Contact and From tag required)' });
      return;
    }
    const w: Watch = {
      key: dialogKey(dialog.callId, tag, dialog.remoteTag),
      user,
      watcher,
      entity,
      dialog,
      state: this.deps.authorized(user, watcher) ? 'active' : 'pending',
      expiresAt: 0,
      timer: null,
      chain: Promise.resolve(),
      ended: false,
    };
    this.watches.set(w.key, w);
    const set = this.byUser.get(user) ?? new Set<Watch>();
    this.byUser.set(user, set);
    set.add(w);
    this.accept(tx, w, expires, tag);
    if (w.state === 'pending') this.deps.ask(user, watcher);
  }

  /** 200 to the SUBSCRIBE, then the NOTIFY it calls for (RFC 6665 §4.2.1.2: immediately, also on refresh). */
  private accept(tx: ServerTransaction, w: Watch, expires: number, toTag?: string): void {
    tx.respond(200, {
      ...(toTag ? { toTag } : {}),
      headers: [
        ['Expires', String(expires)],
        ['Contact', `<${this.deps.contact(w.user)}>`],
      ],
    });
    if (expires === 0) {
      // Unsubscribe or fetch (RFC 6665 §4.2.1.4 / §4.4.3): one last NOTIFY with the state, then the end.
      this.end(w, { state: 'terminated', reason: 'timeout' });
      return;
    }
    w.expiresAt = Date.now() + expires * 1000;
    if (w.timer) clearTimeout(w.timer);
    w.timer = setTimeout(() => this.end(w, { state: 'terminated', reason: 'timeout' }), expires * 1000);
    this.notify(w);
  }

  /** The user's presence changed: every active watcher gets a NOTIFY. */
  update(user: string): void {
    for (const w of this.byUser.get(user) ?? []) if (w.state === 'active') this.notify(w);
  }

  /** Re-checks pending watchers of `user` (the user subscribed to one): approved ones become active. */
  reauthorize(user: string): void {
    for (const w of this.byUser.get(user) ?? []) {
      if (w.state === 'pending' && this.deps.authorized(user, w.watcher)) {
        w.state = 'active';
        this.notify(w);
      }
    }
  }

  /** The user refused or revoked `watcher` (`unsubscribed`): its subscriptions end as rejected (RFC 6665 §4.2.2). */
  revoke(user: string, watcher: LegacyId): void {
    for (const w of [...(this.byUser.get(user) ?? [])]) {
      if (w.watcher === watcher) this.end(w, { state: 'terminated', reason: 'rejected' });
    }
  }

  private notify(w: Watch): void {
    if (w.ended) return;
    const left = Math.max(0, Math.round((w.expiresAt - Date.now()) / 1000));
    this.send(w, { state: w.state, expires: left });
  }

  private end(w: Watch, state: SubscriptionState): void {
    if (w.ended) return;
    this.send(w, state);
    this.forget(w);
  }

  private forget(w: Watch): void {
    w.ended = true;
    if (w.timer) clearTimeout(w.timer);
    this.watches.delete(w.key);
    const set = this.byUser.get(w.user);
    set?.delete(w);
    if (set?.size === 0) this.byUser.delete(w.user);
  }

  /** RFC 6665 §4.2.2: NOTIFY with Event, Subscription-State and, unless pending, the PIDF document. */
  private send(w: Watch, state: SubscriptionState): void {
    const withBody =
      state.state === 'active' || (state.state === 'terminated' && w.state === 'active' && state.reason !== 'rejected');
    const body = withBody ? buildPidf(w.entity, this.deps.tuples(w.user)) : undefined;
    const spec = inDialog(w.dialog, 'NOTIFY', {
      headers: [
        ['Event', 'presence'],
        ['Subscription-State', formatSubscriptionState(state)],
      ],
      contact: this.deps.contact(w.user),
      ...(body ? { body, contentType: PIDF_TYPE } : {}),
    });
    w.chain = w.chain.then(async () => {
      try {
        const res = await this.deps.endpoint.request(spec, this.deps.send);
        // RFC 6665 §4.2.2: 481 (and other failures but 408 and 5xx-with-Retry-After) end the subscription.
        if (res.status >= 300 && !w.ended) {
          this.deps.log.info(
            { watcher: w.watcher, status: res.status },
            'watcher refused a NOTIFY; subscription removed',
          );
          this.forget(w);
        }
      } catch (err) {
        this.deps.log.info({ watcher: w.watcher, err: String(err) }, 'NOTIFY failed; subscription removed');
        if (!w.ended) this.forget(w);
      }
    });
  }

  /** Ends every subscription (gateway shutdown): RFC 6665 §4.2.2 `deactivated`, the watcher may come back. */
  async close(): Promise<void> {
    const all = [...this.watches.values()];
    for (const w of all) this.end(w, { state: 'terminated', reason: 'deactivated' });
    await Promise.race([Promise.all(all.map((w) => w.chain)), new Promise((r) => setTimeout(r, 2000).unref?.())]);
  }
}
