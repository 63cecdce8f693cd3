// Registration of one user's SIP account with its registrar (RFC 3261 §10.2): REGISTER with digest authentication,
// refreshed before the granted expiry (§10.2.4), removed at logout (§10.2.2). A failed refresh is reported through
// onLost(), which the session turns into the gateway's `offline` state: the framework then logs in again with its
// backoff (DESIGN §6), so a registrar outage shows in the gateway's presence and is retried.
import type { Logger } from 'pino';
import { LegacyError } from '../core/driver.js';
import { newCallId, newTag, type SendOptions, type SipEndpoint } from './endpoint.js';
import { sipToXmppCondition } from './errors.js';
import { REASONS, type SipResponse } from './message.js';
import { parseDelta, parseNameAddr } from './syntax.js';
import { TransactionTimeout, TransportFailure } from './transaction.js';
import { parseSipUri } from './uri.js';

export interface RegistrationDeps {
  readonly endpoint: SipEndpoint;
  readonly send: SendOptions;
  /** The address-of-record, e.g. `sip:alice@sip.example.com`. */
  readonly aor: string;
  readonly contact: string;
  readonly expires: number;
  readonly log: Logger;
  onLost(detail: string): void;
}

/**
 * Whether a registrar's refusal is one retrying cannot fix (the framework then stops until the user acts): refused
 * credentials after our digest answer (401, 407, 403: RFC 3261 §22.2, §21.4.4), an address the registrar does not
 * know (404, 604) and the global failures (6xx, §21.6). Outages — 5xx, 408 Request Timeout, 480 Temporarily
 * Unavailable — and other 4xx are retried with backoff.
 */
export function permanentRegistrarFailure(status: number): boolean {
  return status === 401 || status === 403 || status === 407 || status === 404 || status >= 600;
}

/**
 * A REGISTER failure as the XEP-0100 login failure the user sees: the condition RFC 7247 §7.2 (Table 3) gives the
 * code, like any SIP failure (401 not-authorized, 403 forbidden, 407 registration-required, 404 item-not-found,
 * 408 and 504 remote-server-timeout, 503 internal-server-error — never service-unavailable, note 9), the code and
 * phrase as text, and whether retrying can help (permanentRegistrarFailure).
 */
export function registrationError(res: SipResponse): LegacyError {
  const text = `registrar answered ${res.status} ${res.reason || REASONS[res.status] || ''}`.trim();
  return new LegacyError(text, sipToXmppCondition(res.status), permanentRegistrarFailure(res.status));
}

/** A transport or transaction failure as a login failure (retried with backoff). */
export function networkError(err: unknown, what: string): LegacyError {
  if (err instanceof LegacyError) return err;
  if (err instanceof TransactionTimeout) return new LegacyError(`${what}: no answer`, 'remote-server-timeout');
  if (err instanceof TransportFailure) return new LegacyError(`${what}: ${err.message}`, 'remote-server-not-found');
  return new LegacyError(`${what}: ${err instanceof Error ? err.message : String(err)}`, 'remote-server-not-found');
}

export class Registration {
  private readonly callId = newCallId('gw');
  private readonly tag = newTag();
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private active = false;
  private readonly registrarUri: string;

  constructor(private readonly deps: RegistrationDeps) {
    const u = parseSipUri(deps.aor);
    if (!u) throw new LegacyError(`not a SIP address: ${deps.aor}`, 'not-acceptable', true);
    // §10.2: the Request-URI names the domain of the registrar, without a user part.
    this.registrarUri = `${u.scheme}:${u.host}${u.port === undefined ? '' : `:${u.port}`}`;
  }

  /** Registers (or refreshes); resolves with the granted expiry in seconds, rejects with a LegacyError. */
  async register(expires = this.deps.expires, retried = false): Promise<number> {
    let res: SipResponse;
    try {
      res = await this.deps.endpoint.request(
        {
          method: 'REGISTER',
          uri: this.registrarUri,
          from: { uri: this.deps.aor, tag: this.tag },
          to: { uri: this.deps.aor },
          callId: this.callId,
          nextSeq: () => ++this.seq,
          contact: this.deps.contact,
          headers: [['Expires', String(expires)]],
        },
        this.deps.send,
      );
    } catch (err) {
      throw networkError(err, 'REGISTER');
    }
    if (res.status === 423 && !retried) {
      // §10.2.8: Interval Too Brief; ask again with the registrar's minimum.
      const min = parseDelta(res.headers.get('Min-Expires'));
      if (min !== null && min > expires) return this.register(min, true);
    }
    if (res.status >= 300) throw registrationError(res);
    if (expires === 0) return 0;
    const granted = this.granted(res) ?? expires;
    this.active = true;
    this.schedule(granted);
    return granted;
  }

  /** §10.2.4: the expiry of our own binding among the Contacts of the 2xx, else its Expires header. */
  private granted(res: SipResponse): number | null {
    const mine = parseSipUri(this.deps.contact);
    for (const c of res.headers.all('Contact')) {
      const na = parseNameAddr(c);
      const u = na ? parseSipUri(na.uri) : null;
      if (na && u && mine && u.user === mine.user && u.host === mine.host && (u.port ?? 5060) === (mine.port ?? 5060)) {
        const e = parseDelta(na.params.get('expires') ?? undefined);
        if (e !== null) return e;
      }
    }
    return parseDelta(res.headers.get('Expires'));
  }

  private schedule(granted: number): void {
    this.clear();
    if (!this.active) return;
    // Refresh well before the binding lapses: halfway for short expiries, a minute early for long ones.
    const ms = Math.max(1000, granted > 120 ? (granted - 60) * 1000 : granted * 500);
    this.timer = setTimeout(() => {
      this.register().catch((err: unknown) => {
        if (!this.active) return;
        this.active = false;
        const detail = err instanceof Error ? err.message : String(err);
        this.deps.log.info({ aor: this.deps.aor, detail }, 'SIP registration refresh failed');
        this.deps.onLost(`SIP registration lost: ${detail}`);
      });
    }, ms);
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** §10.2.2: removes our binding (Expires: 0); never throws. */
  async unregister(): Promise<void> {
    const was = this.active;
    this.active = false;
    this.clear();
    if (!was) return;
    try {
      await this.register(0);
    } catch (err) {
      this.deps.log.debug({ err: String(err) }, 'REGISTER expires=0 failed');
    }
  }

  /** Stops refreshing without telling the registrar (the binding then lapses on its own). */
  abandon(): void {
    this.active = false;
    this.clear();
  }
}
