// Event state publication for presence (RFC 3903), both sides:
// - PresenceAgent: the gateway as the presence agent of SIP user agents in the same-domain mode. They PUBLISH their
//   PIDF here (RFC 3903 §6: entity-tags, refresh, modify, remove, 412 for an unknown SIP-If-Match); XMPP users who
//   subscribed to them get the aggregate as presence.
// - Publisher: the gateway publishing an XMPP user's presence to the presence server of the user's SIP account in
//   the registration mode (RFC 3903 §4), refreshing it before it expires and removing it at logout.
import type { Logger } from 'pino';
import type { LegacyId, LegacyPresence } from '../core/driver.js';
import { parseEvent } from './dialog.js';
import { newCallId, newTag, type SendOptions, type SipEndpoint } from './endpoint.js';
import { sipFailure } from './errors.js';
import { mediaType } from './im.js';
import { buildPidf, PIDF_TYPE, type PidfTuple, parsePidf } from './pidf.js';
import { parseDelta, randomToken } from './syntax.js';
import type { ServerTransaction } from './transaction.js';

interface Publication {
  readonly etag: string;
  presence: LegacyPresence;
  timer: NodeJS.Timeout;
}

export class PresenceAgent {
  private readonly byAor = new Map<LegacyId, Map<string, Publication>>();

  constructor(
    private readonly opts: { minExpires: number; maxExpires: number; maxPublications: number; log: Logger },
    private readonly onChange: (aor: LegacyId, p: LegacyPresence) => void,
  ) {}

  /** The aggregate published presence of `aor` (RFC 3903 §6: all publications compose the state), or null. */
  get(aor: LegacyId): LegacyPresence | null {
    const pubs = this.byAor.get(aor);
    if (!pubs || pubs.size === 0) return null;
    const all = [...pubs.values()].map((p) => p.presence);
    return all.find((p) => p.available) ?? all[0] ?? null;
  }

  /** A PUBLISH for `aor` (RFC 3903 §6 steps 1–8). */
  handle(tx: ServerTransaction, aor: LegacyId): void {
    const req = tx.request;
    if (parseEvent(req.headers.get('Event'))?.pkg !== 'presence') {
      tx.respond(489, { headers: [['Allow-Events', 'presence']] });
      return;
    }
    let expires = parseDelta(req.headers.get('Expires')) ?? 3600;
    if (expires > 0 && expires < this.opts.minExpires) {
      tx.respond(423, { headers: [['Min-Expires', String(this.opts.minExpires)]] });
      return;
    }
    expires = Math.min(expires, this.opts.maxExpires);
    let presence: LegacyPresence | null = null;
    if (req.body.length > 0) {
      if (mediaType(req.headers.get('Content-Type')).type !== PIDF_TYPE) {
        tx.respond(415, { headers: [['Accept', PIDF_TYPE]] });
        return;
      }
      presence = parsePidf(req.body)?.presence ?? null;
      if (!presence) {
        tx.respond(400, { reason: 'Bad Request (PIDF)' });
        return;
      }
    }
    const pubs = this.byAor.get(aor) ?? new Map<string, Publication>();
    const match = req.headers.get('SIP-If-Match')?.trim();
    let pub: Publication | undefined;
    if (match !== undefined) {
      pub = pubs.get(match);
      if (!pub) {
        tx.respond(412); // RFC 3903 §6 step 4: unknown entity-tag
        return;
      }
      pubs.delete(match);
      clearTimeout(pub.timer);
    } else if (!presence) {
      tx.respond(400, { reason: 'Bad Request (an initial PUBLISH needs a body)' }); // RFC 3903 §6 step 5
      return;
    }
    if (expires === 0) {
      tx.respond(200, { headers: [['Expires', '0']] });
      this.changed(aor, pubs);
      return;
    }
    if (!pub && this.count() >= this.opts.maxPublications) {
      tx.respond(503, { headers: [['Retry-After', '60']] });
      return;
    }
    const etag = randomToken(8);
    const next: Publication = {
      etag,
      presence: presence ?? pub?.presence ?? { available: false },
      timer: setTimeout(() => {
        pubs.delete(etag);
        this.changed(aor, pubs);
      }, expires * 1000),
    };
    pubs.set(etag, next);
    this.byAor.set(aor, pubs);
    tx.respond(200, {
      headers: [
        ['SIP-ETag', etag],
        ['Expires', String(expires)],
      ],
    });
    if (presence) this.changed(aor, pubs);
  }

  private count(): number {
    let n = 0;
    for (const m of this.byAor.values()) n += m.size;
    return n;
  }

  private changed(aor: LegacyId, pubs: Map<string, Publication>): void {
    if (pubs.size === 0) this.byAor.delete(aor);
    this.onChange(aor, this.get(aor) ?? { available: false });
  }

  close(): void {
    for (const pubs of this.byAor.values()) for (const p of pubs.values()) clearTimeout(p.timer);
    this.byAor.clear();
  }
}

export interface PublisherDeps {
  readonly endpoint: SipEndpoint;
  readonly send: SendOptions;
  readonly aor: string;
  readonly expires: number;
  readonly log: Logger;
}

/** RFC 3903 §4: one user's presence publication towards the presence server. */
export class Publisher {
  private etag: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly callId = newCallId('gw');
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private last: readonly PidfTuple[] | null = null;

  constructor(private readonly deps: PublisherDeps) {}

  /**
   * Publishes the user's state, one tuple per available resource (initial or modify, RFC 3903 §4.1, §4.4; the
   * document is the full state of this publication); serialised so entity-tags stay consistent.
   */
  publish(tuples: readonly PidfTuple[]): Promise<void> {
    this.last = tuples;
    return this.enqueue(() => this.send(buildPidf(this.deps.aor, tuples), this.deps.expires));
  }

  /** Removes the publication (RFC 3903 §4.5: Expires: 0 with SIP-If-Match). */
  remove(): Promise<void> {
    this.clear();
    this.last = null;
    return this.enqueue(async () => {
      if (this.etag) await this.send(undefined, 0).catch(() => {});
      this.etag = null;
    });
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async send(body: Buffer | undefined, expires: number, retried = false): Promise<void> {
    const headers: [string, string][] = [
      ['Event', 'presence'],
      ['Expires', String(expires)],
    ];
    if (this.etag) headers.push(['SIP-If-Match', this.etag]);
    const res = await this.deps.endpoint.request(
      {
        method: 'PUBLISH',
        uri: this.deps.aor,
        from: { uri: this.deps.aor, tag: newTag() },
        to: { uri: this.deps.aor },
        callId: this.callId,
        nextSeq: () => ++this.seq,
        headers,
        ...(body ? { body, contentType: PIDF_TYPE } : {}),
      },
      this.deps.send,
    );
    if (res.status === 412 && this.etag && !retried) {
      // RFC 3903 §4.4: the server lost our state; publish the full state anew.
      this.etag = null;
      if (expires === 0) return;
      const doc = body ?? (this.last ? buildPidf(this.deps.aor, this.last) : undefined);
      return this.send(doc, expires, true);
    }
    if (res.status === 423 && !retried) {
      const min = parseDelta(res.headers.get('Min-Expires'));
      if (min !== null && min > expires) return this.send(body, min, true);
    }
    if (res.status >= 300) throw sipFailure(res.status, res.reason);
    if (expires === 0) return;
    this.etag = res.headers.get('SIP-ETag')?.trim() ?? null;
    const granted = parseDelta(res.headers.get('Expires')) ?? expires;
    this.clear();
    // RFC 3903 §4.3: refresh (no body, SIP-If-Match) before the publication expires.
    const ms = Math.max(1000, granted * 1000 - Math.min((granted * 1000) / 3, 60_000));
    this.timer = setTimeout(() => {
      this.enqueue(() => this.send(undefined, this.deps.expires)).catch((err: unknown) =>
        this.deps.log.info({ err: String(err) }, 'PUBLISH refresh failed'),
      );
    }, ms);
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
