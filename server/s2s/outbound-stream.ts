// One outbound server-to-server stream on one connected socket (RFC 6120 §4–§6): stream header, STARTTLS,
// then SASL EXTERNAL (XEP-0178) or dialback (XEP-0220 §2.1.1) to authenticate a (local, remote) domain pair;
// or, for a verification-only stream, just enough to send <db:verify/> (XEP-0220 §2.1.2).
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { S2sConfig } from '../config/index.js';
import type { StanzaErrorCondition, StreamError } from '../errors/index.js';
import { type Element, xml } from '../xml/element.js';
import type { FramerLimits } from '../xml/framer.js';
import { NS } from '../xml/ns.js';
import {
  type DialbackElement,
  type DialbackKeys,
  dialbackElement,
  NS_DIALBACK_FEATURE,
  parseDialback,
} from './dialback.js';
import { S2sStream, type StreamHooks } from './stream.js';
import type { PeerCheck, S2sTrust } from './trust.js';

/** The stage at which setting up a stream failed, for the log line operators read. */
export type FailStage = 'dns' | 'tcp' | 'tls' | 'auth' | 'stream' | 'policy';

export class S2sFailure extends Error {
  constructor(
    readonly stage: FailStage,
    message: string,
    readonly timeout = false,
  ) {
    super(message);
    this.name = 'S2sFailure';
  }

  /** RFC 6120 §8.3.3.13 / §8.3.3.14: what queued stanzas bounce with. */
  get condition(): StanzaErrorCondition {
    if (this.stage === 'policy') return 'not-allowed';
    return this.timeout ? 'remote-server-timeout' : 'remote-server-not-found';
  }
}

export type VerifyOutcome =
  | { type: 'valid' }
  | { type: 'invalid' }
  | { type: 'error'; condition: StanzaErrorCondition };

export interface OutboundDeps extends StreamHooks {
  log: Logger;
  limits: FramerLimits;
  config: S2sConfig;
  trust: S2sTrust;
  keys: DialbackKeys;
  countOut(kind: string): void;
  /** The stream is negotiated (authenticated, or ready for <db:verify/>). */
  onReady(stream: OutboundStream): void;
  /** The stream closed after it was ready (idle timeout, peer closed, error). */
  onClosed(stream: OutboundStream): void;
}

interface Waiter {
  resolve(el: Element): void;
  reject(err: Error): void;
}

export class OutboundStream extends S2sStream {
  ready = false;
  /** How the pair was authenticated, once ready. */
  method: 'EXTERNAL' | 'dialback' | 'none' = 'none';
  peer: PeerCheck = { valid: false, reason: 'no TLS' };
  private readonly inbox: (Element | Error)[] = [];
  private headerWaiter: { resolve(): void; reject(err: Error): void } | null = null;
  private gotHeader = false;
  private waiter: Waiter | null = null;
  private readonly pendingVerify = new Map<string, (o: VerifyOutcome) => void>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** The peer accepts dialback on this stream after authentication (XEP-0220 §2.4.2), so more senders can join. */
  dialbackCapable = false;
  /** Local domains authorized to send on this stream (XEP-0220 §2.6.1 sender multiplexing). */
  readonly senders = new Set<string>();
  /** Handlers of <db:result/> answers on a ready stream; one returning true claims the answer. */
  readonly resultHandlers = new Set<(db: DialbackElement) => boolean>();
  /** Called once when the stream ends. */
  readonly endHandlers = new Set<() => void>();

  constructor(
    socket: Socket,
    directTls: boolean,
    readonly local: string,
    readonly remote: string,
    private readonly deps: OutboundDeps,
  ) {
    super(socket, directTls, deps.log.child({ dir: 'out', local, remote }), deps.limits, deps);
  }

  /**
   * Negotiates the stream; resolves when the (local, remote) pair is authenticated, or (verifyOnly) when
   * <db:verify/> may be sent. Throws S2sFailure.
   */
  async negotiate(verifyOnly: boolean): Promise<void> {
    this.writeHeader({ from: this.local, to: this.remote });
    let features = await this.openStream();
    if (!this.secure) features = await this.startTls(features);
    if (this.secure) this.peer = this.deps.trust.checkPeer(this.socket as TLSSocket, this.remote);
    if (verifyOnly) {
      this.becomeReady('none');
      return;
    }
    const cfg = this.deps.config;
    if (cfg.require_valid_certificates && !this.peer.valid) {
      throw new S2sFailure('tls', `peer certificate rejected (${this.peer.reason ?? 'invalid'})`);
    }
    const mechanisms = features?.getChild('mechanisms', NS.SASL);
    const external = mechanisms?.getChildren('mechanism').some((m) => m.getText().trim() === 'EXTERNAL') ?? false;
    // XEP-0178 §3: EXTERNAL only when the peer's certificate validated and the peer offers it.
    if (this.peer.valid && cfg.sasl_external && external && (await this.external())) {
      const after = await this.openStream();
      this.dialbackCapable = after?.getChild('dialback', NS_DIALBACK_FEATURE) !== undefined;
      this.becomeReady('EXTERNAL');
      return;
    }
    if (!cfg.dialback || cfg.require_valid_certificates) {
      const why = this.peer.valid ? (external ? 'refused' : 'not offered') : `peer certificate: ${this.peer.reason}`;
      throw new S2sFailure('auth', `SASL EXTERNAL was not possible (${why}) and dialback is disabled`);
    }
    // XEP-0220 §2.4: dialback support is the stream feature, or (traditionally) the db namespace declaration.
    if (!features?.getChild('dialback', NS_DIALBACK_FEATURE) && this.peerHeader['xmlns:db'] !== NS.DIALBACK) {
      throw new S2sFailure('auth', 'the peer supports neither SASL EXTERNAL for us nor dialback');
    }
    await this.dialback();
    this.dialbackCapable = features?.getChild('dialback', NS_DIALBACK_FEATURE) !== undefined;
    this.becomeReady('dialback');
  }

  /** Waits for the peer's header and (for XMPP 1.0 streams) its features (RFC 6120 §4.3.2). */
  private async openStream(): Promise<Element | null> {
    await this.waitHeader();
    const id = this.peerHeader.id;
    if (!id) throw new S2sFailure('stream', "the peer's stream header has no id");
    const major = Number.parseInt((this.peerHeader.version ?? '0').split('.')[0] ?? '0', 10);
    if (!(major >= 1)) return null;
    const el = await this.next();
    if (this.qname(el).local !== 'features' || this.qname(el).ns !== NS.STREAM) {
      throw new S2sFailure('stream', `expected stream features, got <${el.name}/>`);
    }
    return el;
  }

  /** RFC 6120 §5.4.2: STARTTLS when offered; required by s2s.require_tls. */
  private async startTls(features: Element | null): Promise<Element | null> {
    if (!features?.getChild('starttls', NS.TLS)) {
      if (this.deps.config.require_tls) throw new S2sFailure('tls', 'the peer does not offer STARTTLS');
      return features;
    }
    this.send(xml('starttls', { xmlns: NS.TLS }));
    const answer = await this.next();
    if (answer.name !== 'proceed') throw new S2sFailure('tls', `the peer refused STARTTLS (<${answer.name}/>)`);
    try {
      await this.upgradeAsClient(this.deps.trust.clientOptions(this.local, this.remote));
    } catch (err) {
      throw new S2sFailure('tls', `TLS handshake failed: ${(err as Error).message}`);
    }
    this.gotHeader = false;
    this.writeHeader({ from: this.local, to: this.remote });
    return this.openStream();
  }

  /** RFC 6120 §6.4 with XEP-0178: the authorization identity is our domain. Resolves false on <failure/>. */
  private async external(): Promise<boolean> {
    this.send(xml('auth', { xmlns: NS.SASL, mechanism: 'EXTERNAL' }, Buffer.from(this.local).toString('base64')));
    for (;;) {
      const el = await this.next();
      if (el.attrs.xmlns !== NS.SASL) throw new S2sFailure('auth', `unexpected <${el.name}/> during SASL`);
      if (el.name === 'challenge') {
        // RFC 6120 §6.4.2: we gave the initial response already; an empty response completes the exchange.
        this.send(xml('response', { xmlns: NS.SASL }, '='));
        continue;
      }
      if (el.name === 'success') {
        // RFC 6120 §6.4.6: restart the stream over the same TLS connection.
        this.restartParser();
        this.gotHeader = false;
        this.writeHeader({ from: this.local, to: this.remote });
        return true;
      }
      const condition = el.getChildElements()[0]?.name ?? 'unknown';
      this.log.info({ condition }, 'SASL EXTERNAL refused by the peer; trying dialback');
      return false;
    }
  }

  /** XEP-0220 §2.1.1: send our key, wait for the receiving server's verdict. */
  private async dialback(): Promise<void> {
    const id = this.peerHeader.id ?? '';
    const key = this.deps.keys.generate(this.remote, this.local, id);
    this.send(dialbackElement('result', { from: this.local, to: this.remote }, key));
    for (;;) {
      const el = await this.next();
      const q = this.qname(el);
      const db = q.ns === NS.DIALBACK ? parseDialback(el, q.local) : null;
      if (db?.kind === 'verify') {
        this.verifyAnswer(db);
        continue;
      }
      // XEP-0220 §3.1: only an answer for the pair we asked about counts.
      if (!db || db.type === undefined || db.from !== this.remote || db.to !== this.local) {
        this.log.debug({ el: el.name }, 'ignored while waiting for the dialback result');
        continue;
      }
      if (db.type === 'valid') return;
      if (db.type === 'invalid') throw new S2sFailure('auth', 'dialback: the peer rejected our key');
      throw new S2sFailure('auth', `dialback error: ${db.condition ?? 'undefined-condition'}`);
    }
  }

  private becomeReady(method: OutboundStream['method']): void {
    this.ready = true;
    this.method = method;
    if (method !== 'none') this.senders.add(this.local);
    this.deps.onReady(this);
    // Unread elements (e.g. features after a SASL restart) go through the ready handler.
    for (const item of this.inbox.splice(0)) if (!(item instanceof Error)) this.onReadyElement(item);
    const idleMs = this.deps.config.idle_timeout_seconds * 1000;
    this.idleTimer = setTimeout(() => {
      this.log.info('closing idle s2s stream');
      this.close();
    }, idleMs);
    this.idleTimer.unref();
  }

  /** Sends a stanza on a ready stream (RFC 6120 §4.8: stanzas carry the 'jabber:server' default namespace). */
  sendStanza(el: Element): void {
    let out = el;
    if (el.attrs.xmlns === NS.CLIENT || el.attrs.xmlns === NS.SERVER) {
      const attrs = { ...el.attrs };
      delete attrs.xmlns;
      out = xml(el.name, attrs);
      out.children = el.children;
    }
    this.deps.countOut(el.name);
    this.idleTimer?.refresh();
    this.send(out);
  }

  /** XEP-0220 §2.1.2: asks the authoritative server about a key; `from` is ours, `to` the claimed domain. */
  requestVerify(from: string, to: string, id: string, key: string, timeoutMs: number): Promise<VerifyOutcome> {
    return new Promise<VerifyOutcome>((resolve) => {
      const k = `${to} ${from} ${id}`;
      const timer = setTimeout(() => finish({ type: 'error', condition: 'remote-server-timeout' }), timeoutMs);
      const finish = (o: VerifyOutcome) => {
        clearTimeout(timer);
        this.pendingVerify.delete(k);
        resolve(o);
      };
      this.pendingVerify.set(k, finish);
      this.idleTimer?.refresh();
      this.send(dialbackElement('verify', { from, to, id }, key));
    });
  }

  /** A <db:verify/> answer: matched against our requests; anything else is unsolicited and ignored (§3.1). */
  private verifyAnswer(db: NonNullable<ReturnType<typeof parseDialback>>): void {
    const pending = db.type ? this.pendingVerify.get(`${db.from} ${db.to} ${db.id ?? ''}`) : undefined;
    if (!pending || !db.type) {
      this.log.info({ from: db.from, to: db.to }, 'ignored a db:verify that answers no request of ours');
      return;
    }
    if (db.type === 'error') {
      pending({ type: 'error', condition: 'remote-server-not-found' });
    } else pending({ type: db.type });
  }

  private onReadyElement(el: Element): void {
    const q = this.qname(el);
    if (q.ns === NS.STREAM && q.local === 'error') {
      const condition = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS_ERR)?.name;
      this.log.info({ condition }, 'the peer closed the stream with an error');
      this.close();
      return;
    }
    const db = q.ns === NS.DIALBACK ? parseDialback(el, q.local) : null;
    if (db?.kind === 'verify') {
      this.verifyAnswer(db);
      return;
    }
    if (db?.kind === 'result') {
      // XEP-0220 §3.1: a result counts only as the answer to a request we made on this stream.
      if (![...this.resultHandlers].some((h) => h(db)))
        this.log.info({ from: db.from, to: db.to }, 'ignored a db:result');
      return;
    }
    // Without XEP-0288 a stream carries stanzas one way only (XEP-0220 §2.3); the peer sends none here.
    this.log.debug({ el: el.name }, 'ignored an element on an outbound stream');
  }

  protected onHeader(name: string, attrs: Record<string, string>): void {
    const problem = this.headerProblem(name, attrs);
    if (problem) {
      this.fail(new S2sFailure('stream', problem.text ?? problem.condition));
      this.close(problem);
      return;
    }
    this.gotHeader = true;
    this.headerWaiter?.resolve();
    this.headerWaiter = null;
  }

  protected onElement(el: Element): void {
    // RFC 6120 §5.4.3.3: nothing after <proceed/> is plaintext XMPP.
    if (el.name === 'proceed' && el.attrs.xmlns === NS.TLS) this.discarding = true;
    if (this.ready) {
      this.onReadyElement(el);
      return;
    }
    const q = this.qname(el);
    if (q.ns === NS.STREAM && q.local === 'error') {
      const condition = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS_ERR)?.name ?? 'unknown';
      this.fail(new S2sFailure('stream', `the peer sent stream error <${condition}/>`));
      return;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(el);
    } else this.inbox.push(el);
  }

  protected onEnd(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.fail(new S2sFailure('tcp', 'the connection closed during negotiation'));
    for (const finish of [...this.pendingVerify.values()])
      finish({ type: 'error', condition: 'remote-server-timeout' });
    for (const h of [...this.endHandlers]) h();
    if (this.ready) this.deps.onClosed(this);
  }

  /** The ID of the peer's response header, which dialback keys on this stream are bound to. */
  get streamId(): string {
    return this.peerHeader.id ?? '';
  }

  /** Ends negotiation with a failure (timeout, peer error); the caller closes the socket. */
  fail(err: S2sFailure): void {
    if (this.headerWaiter) {
      this.headerWaiter.reject(err);
      this.headerWaiter = null;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    } else if (!this.ready) this.inbox.push(err);
  }

  private waitHeader(): Promise<void> {
    const err = this.inbox.find((x) => x instanceof Error);
    if (err) return Promise.reject(err);
    if (this.gotHeader) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.headerWaiter = { resolve, reject };
    });
  }

  private next(): Promise<Element> {
    const item = this.inbox.shift();
    if (item instanceof Error) return Promise.reject(item);
    if (item) return Promise.resolve(item);
    return new Promise<Element>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Gives up: closes with a stream error when one applies (RFC 6120 §4.9), else plainly. */
  abort(err?: StreamError): void {
    this.close(err);
    this.socket.destroy();
  }
}
