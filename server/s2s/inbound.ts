// An inbound server-to-server stream (RFC 6120): header checks, STARTTLS, SASL EXTERNAL (XEP-0178), dialback in
// the receiving and authoritative roles (XEP-0220 §2.2), then stanzas whose 'from' domain this stream
// authenticated, processed in order (RFC 6120 §10.1) and handed to the router.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { S2sConfig } from '../config/index.js';
import type { Origin } from '../core/hooks.js';
import { StanzaError, StreamError } from '../errors/index.js';
import { Jid } from '../jid/index.js';
import { errorReply, mayBounce } from '../router/stanza.js';
import { type Element, xml } from '../xml/element.js';
import type { FramerLimits } from '../xml/framer.js';
import { NS } from '../xml/ns.js';
import { type DialbackKeys, dialbackFeature, parseDialback } from './dialback.js';
import { handleDialback } from './inbound-dialback.js';
import type { VerifyOutcome } from './outbound-stream.js';
import type { FederationPolicy, RateLimiter } from './policy.js';
import { prepareDomainOrNull, S2sStream, type StreamHooks } from './stream.js';
import type { PeerCheck, S2sTrust } from './trust.js';

const HIGH_WATER = 512;
const LOW_WATER = 64;

export interface InboundDeps extends StreamHooks {
  log: Logger;
  limits: FramerLimits;
  config: S2sConfig;
  trust: S2sTrust;
  keys: DialbackKeys;
  policy: FederationPolicy;
  rate: RateLimiter;
  /** RFC 6120 §5.4.3.3: the TLS handshake as server on this stream's socket, as `local` without SNI. */
  upgradeTls(raw: Socket, local: string | null): Promise<TLSSocket>;
  /** Whether a domain is served here: a local host, a component or a gateway. */
  served(domain: string): boolean;
  origin(remote: string): Origin;
  route(stanza: Element, origin: Origin): Promise<void> | undefined;
  /** XEP-0220 §2.1.2: asks `originating`'s authoritative server whether it issued `key`. */
  verify(receiving: string, originating: string, streamId: string, key: string): Promise<VerifyOutcome>;
  onClose(stream: InboundStream): void;
  countIn(kind: string): void;
}

export class InboundStream extends S2sStream {
  /** The 'to' and 'from' of the first header; restarts must keep them (RFC 6120 §4.3.3). */
  localDomain: string | null = null;
  remoteDomain: string | null = null;
  /** The ID of our latest response header; dialback keys are bound to it (XEP-0220 §2.1.1). */
  streamId = '';
  /** Remote domain → local domains it is authenticated for (SASL EXTERNAL or dialback). */
  readonly authorized = new Map<string, Set<string>>();
  /** Dialback requests being verified, as 'remote local'. */
  readonly pendingResults = new Set<string>();
  saslDone = false;
  private readonly queue: Element[] = [];
  private running = false;
  private readonly negotiationTimer: NodeJS.Timeout;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly peerChecks = new Map<string, PeerCheck>();

  constructor(
    socket: Socket,
    directTls: boolean,
    readonly deps: InboundDeps,
  ) {
    super(socket, directTls, deps.log.child({ dir: 'in', ip: socket.remoteAddress }), deps.limits, deps);
    const cfg = deps.config;
    this.negotiationTimer = setTimeout(() => {
      if (this.authorized.size === 0) this.close(new StreamError('connection-timeout', 'no domain authenticated'));
    }, cfg.negotiation_timeout_seconds * 1000);
    this.negotiationTimer.unref();
    this.idleTimer = setTimeout(() => {
      this.log.info('closing idle s2s stream');
      this.close();
    }, cfg.idle_timeout_seconds * 1000);
    this.idleTimer.unref();
  }

  /** RFC 6125 / XEP-0178: whether the peer's TLS certificate proves `domain` (cached per domain). */
  peerCheck(domain: string): PeerCheck {
    if (!this.secure) return { valid: false, reason: 'no TLS' };
    let check = this.peerChecks.get(domain);
    if (!check) {
      check = this.deps.trust.checkPeer(this.socket as TLSSocket, domain);
      this.peerChecks.set(domain, check);
      this.log.debug({ domain, valid: check.valid, reason: check.reason }, 'peer certificate checked');
    }
    return check;
  }

  authorize(remote: string, local: string, method: string): void {
    const set = this.authorized.get(remote) ?? new Set<string>();
    set.add(local);
    this.authorized.set(remote, set);
    clearTimeout(this.negotiationTimer);
    this.log.info({ remote, local, method }, 's2s peer authenticated');
  }

  protected onHeader(name: string, attrs: Record<string, string>): void {
    const problem = this.headerProblem(name, attrs) ?? this.checkAddresses(attrs);
    // RFC 6120 §4.7.3: a fresh, unpredictable ID for every response header, restarts included.
    this.streamId = randomBytes(16).toString('hex');
    this.writeHeader({ id: this.streamId, from: this.localDomain ?? undefined, to: this.remoteDomain ?? undefined });
    if (problem) {
      this.close(problem);
      return;
    }
    this.sendFeatures();
  }

  /** RFC 6120 §4.7.1, §4.9.3.6, §4.9.3.9: 'to' must be served here, 'from' must name a remote domain. */
  private checkAddresses(attrs: Record<string, string>): StreamError | null {
    const to = prepareDomainOrNull(attrs.to);
    if (!to || !this.deps.served(to)) {
      return new StreamError('host-unknown', attrs.to ? `this server does not serve ${attrs.to}` : "no 'to'");
    }
    if (this.localDomain !== null && this.localDomain !== to) {
      return new StreamError('host-unknown', "a stream restart must keep the same 'to'");
    }
    this.localDomain = to;
    const from = prepareDomainOrNull(attrs.from);
    if (!from) return new StreamError('invalid-from', "the stream header needs a 'from' domain");
    if (this.deps.served(from)) return new StreamError('invalid-from', `${from} is served by this server`);
    if (this.remoteDomain !== null && this.remoteDomain !== from) {
      return new StreamError('invalid-from', "a stream restart must keep the same 'from'");
    }
    this.remoteDomain = from;
    if (!this.deps.policy.allows(to, from)) {
      this.log.warn({ local: to, remote: from }, 's2s policy denies this domain; refusing the stream');
      return new StreamError('policy-violation', `${to} does not federate with ${from}`);
    }
    return null;
  }

  /** RFC 6120 §4.3.2; XEP-0178 §3 (EXTERNAL when the certificate proves 'from'); XEP-0220 §2.4.2. */
  private sendFeatures(): void {
    const cfg = this.deps.config;
    const features: Element[] = [];
    if (!this.secure) features.push(xml('starttls', { xmlns: NS.TLS }, cfg.require_tls ? xml('required') : null));
    if (this.secure || !cfg.require_tls) {
      if (this.externalOffered()) {
        features.push(xml('mechanisms', { xmlns: NS.SASL }, xml('mechanism', null, 'EXTERNAL')));
      }
      if (cfg.dialback && !cfg.require_valid_certificates) features.push(dialbackFeature());
    }
    this.send(xml('stream:features', null, ...features));
  }

  private externalOffered(): boolean {
    const cfg = this.deps.config;
    return this.secure && cfg.sasl_external && !this.saslDone && this.peerCheck(this.remoteDomain ?? '').valid;
  }

  protected onElement(el: Element): void {
    // RFC 6120 §5.4.3.3: nothing after <starttls/> may be read as plaintext; stop reading at once.
    if (el.name === 'starttls' && el.attrs.xmlns === NS.TLS && !this.secure) {
      this.discarding = true;
      this.socket.pause();
    }
    this.enqueue(el);
  }

  private enqueue(item: Element): void {
    this.queue.push(item);
    if (this.queue.length > HIGH_WATER && !this.discarding) this.socket.pause();
    if (!this.running) void this.drain();
  }

  /** RFC 6120 §10.1: stanzas from one stream are processed in the order received. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue.shift();
        if (item === undefined) break;
        await this.handle(item);
        if (this.queue.length < LOW_WATER && !this.discarding && this.socket.isPaused()) this.socket.resume();
      }
    } catch (err) {
      this.log.error({ err }, 's2s stream failed');
      this.close(new StreamError('internal-server-error'));
    } finally {
      this.running = false;
    }
  }

  private async handle(el: Element): Promise<void> {
    const q = this.qname(el);
    if (q.ns === NS.TLS && q.local === 'starttls') return this.startTls();
    if (q.ns === NS.STREAM && q.local === 'error') {
      const condition = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS_ERR)?.name;
      this.log.info({ condition }, 'the peer closed the stream with an error');
      return this.close();
    }
    if (q.ns === NS.SASL) return this.sasl(el, q.local);
    if (q.ns === NS.DIALBACK) {
      const db = parseDialback(el, q.local);
      if (!db) return this.close(new StreamError('bad-format', `malformed <${el.name}/>`));
      return handleDialback(this, db);
    }
    if (q.ns === NS.SERVER && (q.local === 'message' || q.local === 'presence' || q.local === 'iq')) {
      return this.stanza(el);
    }
    this.close(new StreamError('unsupported-stanza-type', `unexpected <${el.name}/>`));
  }

  private startTls(): void {
    if (this.secure) {
      this.send(xml('failure', { xmlns: NS.TLS }));
      this.close();
      return;
    }
    this.send(xml('proceed', { xmlns: NS.TLS }));
    this.queue.length = 0;
    // Without SNI the certificate of the domain the header addressed is presented (S2sTrust.upgradeServer).
    this.upgradeAsServer((raw) => this.deps.upgradeTls(raw, this.localDomain));
  }

  /** RFC 6120 §6.4 with XEP-0178: EXTERNAL, the authorization identity being the stream's 'from' domain. */
  private sasl(el: Element, local: string): void {
    const condition = this.saslRefusal(el, local);
    if (condition) {
      this.log.info({ condition }, 'SASL EXTERNAL refused');
      this.send(xml('failure', { xmlns: NS.SASL }, xml(condition)));
      return;
    }
    this.saslDone = true;
    this.authorize(this.remoteDomain ?? '', this.localDomain ?? '', 'EXTERNAL');
    // RFC 6120 §6.4.6: the peer restarts the stream after <success/>.
    this.restartParser();
    this.send(xml('success', { xmlns: NS.SASL }));
  }

  private saslRefusal(el: Element, local: string): string | null {
    if (local === 'abort') return 'aborted';
    if (local !== 'auth') return 'malformed-request';
    if (!this.secure && this.deps.config.require_tls) return 'encryption-required';
    if (el.attrs.mechanism !== 'EXTERNAL' || !this.externalOffered()) return 'invalid-mechanism';
    const text = el.getText().trim();
    // RFC 6120 §6.4.2: '=' is an empty initial response; then the identity is the stream's 'from'.
    if (text === '' || text === '=') return null;
    const authzid = prepareDomainOrNull(Buffer.from(text, 'base64').toString('utf8'));
    return authzid === this.remoteDomain ? null : 'invalid-authzid';
  }

  /** RFC 6120 §8.1.1.2, §8.1.2.2, §4.9.3.9: 'to' and 'from' required, 'from' authenticated; then route it. */
  private async stanza(el: Element): Promise<void> {
    if (this.authorized.size === 0) {
      return this.close(new StreamError('not-authorized', 'authenticate before sending stanzas'));
    }
    const { from, to } = el.attrs;
    if (!from || !to) return this.close(new StreamError('improper-addressing', "stanzas need 'from' and 'to'"));
    const fromJid = Jid.tryParse(from);
    if (!fromJid || !this.authorized.has(fromJid.domain)) {
      this.log.warn({ from }, 'stanza from a domain this stream did not authenticate');
      return this.close(new StreamError('invalid-from', `${fromJid?.domain ?? from} is not authenticated here`));
    }
    this.idleTimer.refresh();
    const toJid = Jid.tryParse(to);
    if (!toJid) return this.reply(el, StanzaError.jidMalformed("'to' is not a valid JID"));
    // Stanzas are accepted for the domains served here only (XEP-0220 §2.1: the receiving server accepts
    // stanzas for the target domain); a server never relays between two other servers.
    if (!this.deps.served(toJid.domain))
      return this.reply(el, StanzaError.itemNotFound(`${toJid.domain} is not served here`));
    let wait = this.deps.rate.take(fromJid.domain);
    if (wait > 0 && this.deps.config.rate_excess === 'bounce') {
      const text = `more than ${this.deps.config.rate_per_second} stanzas a second`;
      return this.reply(el, new StanzaError('policy-violation', text, { type: 'wait' }));
    }
    // 'delay': wait for a token, and take it; reading pauses once the queue is long (HIGH_WATER).
    while (wait > 0 && !this.closed) {
      await new Promise((r) => setTimeout(r, wait));
      wait = this.deps.rate.take(fromJid.domain);
    }
    this.deps.countIn(el.name);
    const attrs: Record<string, string> = { ...el.attrs, from: fromJid.toString(), to: toJid.toString() };
    delete attrs.xmlns;
    const copy = xml(el.name, attrs);
    copy.children = el.children;
    return this.deps.route(copy, this.deps.origin(fromJid.domain));
  }

  /** An error reply to a stanza we refuse, sent from our domain back through federation (RFC 6120 §8.3). */
  private reply(el: Element, err: StanzaError): void {
    if (!mayBounce(el)) return;
    const reply = errorReply(el, err);
    if (!Jid.tryParse(reply.attrs.from ?? '') || !this.deps.served(Jid.parse(reply.attrs.from ?? '').domain)) {
      reply.attrs.from = this.localDomain ?? '';
    }
    delete reply.attrs.xmlns;
    void this.deps.route(reply, this.deps.origin(this.remoteDomain ?? ''));
  }

  protected onEnd(): void {
    clearTimeout(this.negotiationTimer);
    clearTimeout(this.idleTimer);
    this.queue.length = 0;
    this.deps.onClose(this);
  }

  override close(error?: StreamError): void {
    this.queue.length = 0;
    super.close(error);
  }
}
