// The gateway as a presence subscriber (RFC 6665 §4.1, event package presence of RFC 3856) on behalf of an XMPP user
// watching a SIP contact (RFC 8048 §5: XMPP subscribe ⇄ SIP SUBSCRIBE). It refreshes the subscription itself before
// it expires (RFC 8048 §5.1: the XMPP side has no refresh), re-subscribes after `deactivated`/`timeout`
// terminations (RFC 6665 §4.1.3), and turns each NOTIFY's PIDF into presence. A fetch (SUBSCRIBE with Expires: 0,
// RFC 6665 §4.4.3) serves RFC 8048's probe.
import type { Logger } from 'pino';
import { StanzaError } from '../../server/errors/index.js';
import type { LegacyPresence } from '../core/driver.js';
import {
  acceptRemoteSeq,
  type Dialog,
  inDialog,
  parseSubscriptionState,
  type SubscriptionState,
  subscriberDialog,
} from './dialog.js';
import { newCallId, newTag, type RequestSpec, type SendOptions, type SipEndpoint } from './endpoint.js';
import { sipFailure } from './errors.js';
import { mediaType } from './im.js';
import type { SipRequest } from './message.js';
import { PIDF_TYPE, parsePidf } from './pidf.js';
import { parseDelta } from './syntax.js';
import { type ServerTransaction, TransactionTimeout } from './transaction.js';

export interface SubscriberDeps {
  readonly endpoint: SipEndpoint;
  readonly send: SendOptions;
  /** The user's own SIP identity (From) and Contact. */
  readonly localUri: string;
  readonly contact: string;
  readonly expires: number;
  readonly log: Logger;
  /** Routes in-dialog NOTIFYs for `callId|ourTag` to this subscription (null: forget). */
  route(key: string, sub: Subscription | null): void;
}

const PRESENCE_HEADERS: readonly (readonly [string, string])[] = [
  ['Event', 'presence'],
  ['Accept', PIDF_TYPE],
];

/** Reasons after which the subscriber must not try again (RFC 6665 §4.1.3). */
const FINAL_REASONS: ReadonlySet<string> = new Set(['rejected', 'noresource', 'invariant']);

export class Subscription {
  private dialog: Dialog | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private failures = 0;
  private key = '';
  private spec: RequestSpec | null = null;
  private seq = 0;

  constructor(
    private readonly deps: SubscriberDeps,
    readonly target: string,
    private readonly onPresence: (p: LegacyPresence) => void,
    /** A fetch (Expires: 0): one NOTIFY is expected, no refresh and no re-subscription. */
    private readonly fetch = false,
    /** The notifier ended the subscription for good (rejected, noresource, invariant). */
    private readonly onRejected?: (reason: string) => void,
  ) {}

  /** Sends the initial SUBSCRIBE; rejects (with the RFC 7247 §7 mapped error) when the peer refuses it. */
  async start(): Promise<void> {
    const callId = newCallId('gw');
    const tag = newTag();
    this.seq = 0;
    this.dialog = null;
    this.key = `${callId}|${tag}`;
    this.deps.route(this.key, this);
    const spec: RequestSpec = {
      method: 'SUBSCRIBE',
      uri: this.target,
      from: { uri: this.deps.localUri, tag },
      to: { uri: this.target },
      callId,
      nextSeq: () => ++this.seq,
      contact: this.deps.contact,
      headers: [...PRESENCE_HEADERS, ['Expires', String(this.deps.expires)]],
    };
    this.spec = spec;
    const res = await this.deps.endpoint.request(spec, this.deps.send);
    if (res.status >= 300) {
      this.deps.route(this.key, null);
      throw sipFailure(res.status, res.reason);
    }
    const existing = this.dialog as Dialog | null; // a NOTIFY may have created it already (RFC 6665 §4.1.2.4)
    if (existing) existing.localSeq = Math.max(existing.localSeq, this.seq);
    else this.dialog = subscriberDialog(spec, this.seq, res);
    this.failures = 0;
    if (!this.fetch) this.schedule(parseDelta(res.headers.get('Expires')) ?? this.deps.expires);
  }

  /** An in-dialog (or dialog-creating) NOTIFY for this subscription (RFC 6665 §4.1.3). */
  notify(tx: ServerTransaction): void {
    const req = tx.request;
    if (this.stopped) {
      tx.respond(200);
      return;
    } // the final NOTIFY after an unsubscribe
    const state = parseSubscriptionState(req.headers.get('Subscription-State'));
    if (!state) {
      tx.respond(400, { reason: 'Bad Request (Subscription-State)' });
      return;
    }
    if (!this.dialog && this.spec) this.dialog = subscriberDialog(this.spec, this.seq, req);
    if (this.dialog && !acceptRemoteSeq(this.dialog, req)) {
      tx.respond(500, { reason: 'Out of order CSeq' });
      return;
    }
    const body = this.readBody(req);
    if (body === 'bad') {
      tx.respond(400, { reason: 'Bad Request (PIDF)' });
      return;
    }
    if (body === 'unsupported') {
      tx.respond(415, { headers: [['Accept', PIDF_TYPE]] });
      return;
    }
    tx.respond(200);
    if (body) this.onPresence(body);
    this.onState(state);
  }

  private readBody(req: SipRequest): LegacyPresence | null | 'bad' | 'unsupported' {
    if (req.body.length === 0) return null;
    if (mediaType(req.headers.get('Content-Type')).type !== PIDF_TYPE) return 'unsupported';
    return parsePidf(req.body)?.presence ?? 'bad';
  }

  private onState(s: SubscriptionState): void {
    if (this.stopped || this.fetch) return;
    if (s.state === 'active' || s.state === 'pending') {
      if (s.expires !== undefined) this.schedule(s.expires);
      return;
    }
    if (s.state !== 'terminated') return;
    this.clear();
    this.deps.route(this.key, null);
    this.dialog = null;
    this.onPresence({ available: false });
    if (s.reason !== undefined && FINAL_REASONS.has(s.reason)) {
      this.deps.log.info({ target: this.target, reason: s.reason }, 'SIP presence subscription ended');
      this.stopped = true;
      this.onRejected?.(s.reason);
      return;
    }
    // deactivated / timeout: at once; probation / giveup / unknown: after retry-after (RFC 6665 §4.1.3).
    const now = s.reason === 'deactivated' || s.reason === 'timeout';
    this.retryIn(now ? 0 : (s.retryAfter ?? 60) * 1000);
  }

  /** RFC 6665 §4.1.2.2: refresh before the subscription expires. */
  private schedule(expires: number): void {
    this.clear();
    if (this.stopped || expires <= 0) return;
    const ms = Math.max(1000, expires * 1000 - Math.min((expires * 1000) / 3, 60_000));
    this.refreshTimer = setTimeout(() => void this.refresh(), ms);
  }

  private async refresh(): Promise<void> {
    const d = this.dialog;
    if (this.stopped) return;
    if (!d) return this.restart();
    try {
      const res = await this.deps.endpoint.request(
        inDialog(d, 'SUBSCRIBE', {
          headers: [...PRESENCE_HEADERS, ['Expires', String(this.deps.expires)]],
          contact: this.deps.contact,
        }),
        this.deps.send,
      );
      if (res.status >= 300) {
        // 481 and friends: the subscription is gone at the notifier; start a new one.
        this.deps.log.info({ target: this.target, status: res.status }, 'SIP subscription refresh refused');
        return this.restart();
      }
      this.failures = 0;
      this.schedule(parseDelta(res.headers.get('Expires')) ?? this.deps.expires);
    } catch (err) {
      this.deps.log.info({ target: this.target, err: String(err) }, 'SIP subscription refresh failed');
      this.onPresence({ available: false });
      this.retryIn(this.backoff());
    }
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    this.deps.route(this.key, null);
    try {
      await this.start();
    } catch (err) {
      this.deps.log.info({ target: this.target, err: String(err) }, 'SIP re-subscription failed');
      if (err instanceof StanzaError && err.type === 'cancel') return; // refused for good
      this.retryIn(this.backoff());
    }
  }

  /** After a failed start() that was not a refusal: try again later with backoff. */
  retrySoon(): void {
    this.retryIn(this.backoff());
  }

  private backoff(): number {
    this.failures++;
    return Math.min(300_000, 5000 * 2 ** Math.min(this.failures - 1, 6));
  }

  private retryIn(ms: number): void {
    this.clear();
    if (this.stopped) return;
    this.refreshTimer = setTimeout(() => void this.restart(), ms);
  }

  private clear(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }

  /** Unsubscribes (RFC 6665 §4.1.2.3: SUBSCRIBE with Expires: 0 in the dialog); never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.clear();
    const d = this.fetch ? null : this.dialog;
    this.dialog = null;
    // Keep routing the final NOTIFY (terminated) for a moment; it is answered 200 and ignored.
    setTimeout(() => this.deps.route(this.key, null), 5000).unref?.();
    if (!d) return;
    try {
      await this.deps.endpoint.request(
        inDialog(d, 'SUBSCRIBE', { headers: [...PRESENCE_HEADERS, ['Expires', '0']], contact: this.deps.contact }),
        this.deps.send,
      );
    } catch (err) {
      if (!(err instanceof TransactionTimeout)) this.deps.log.debug({ err: String(err) }, 'unsubscribe failed');
    }
  }
}

/**
 * RFC 6665 §4.4.3 fetch (RFC 8048 §5: an XMPP probe): SUBSCRIBE with Expires: 0 and the state in the NOTIFY that
 * follows. Resolves with null when no NOTIFY with a document arrives within `waitMs`.
 */
export async function fetchPresence(
  deps: SubscriberDeps,
  target: string,
  waitMs: number,
): Promise<LegacyPresence | null> {
  let got: LegacyPresence | null = null;
  let wake: () => void = () => {};
  const arrived = new Promise<void>((r) => {
    wake = r;
  });
  const sub = new Subscription(
    { ...deps, expires: 0 },
    target,
    (p) => {
      got = p;
      wake();
    },
    true,
  );
  try {
    await sub.start();
    const timer = new Promise<void>((r) => setTimeout(r, waitMs).unref?.());
    await Promise.race([arrived, timer]);
  } catch {
    return null;
  } finally {
    await sub.stop();
  }
  return got;
}
