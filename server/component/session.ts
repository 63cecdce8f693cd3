// An accepted XEP-0114 component stream: framing, header and handshake (§3), the serial inbound queue and the
// address checks on what the component sends. Mirrors the client stream (server/session/c2s.ts) where the two agree.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Origin } from '../core/hooks.js';
import { StanzaError, StreamError } from '../errors/index.js';
import { Jid, JidError } from '../jid/index.js';
import type { Router } from '../router/router.js';
import { errorReply, mayBounce, withAddresses } from '../router/stanza.js';
import { type Element, escapeXML } from '../xml/element.js';
import { type FramerLimits, XmlFramer } from '../xml/framer.js';
import { NS } from '../xml/ns.js';
import { checkComponentHeader, verifyHandshake } from './handshake.js';

export interface ComponentSessionDeps {
  log: Logger;
  router: Router;
  limits: FramerLimits;
  handshakeTimeoutMs: number;
  /** The shared secret configured for a (prepared) component domain, or undefined when none is configured. */
  secret(domain: string): string | undefined;
  /** Whether an authenticated stream already serves the domain. */
  connected(domain: string): boolean;
  /** Makes the authenticated session the domain's route; false when another stream got there first. */
  attach(session: ComponentSession): boolean;
  /** Removes the session's route, if it holds one; called once the stream ends, however it ends. */
  detach(session: ComponentSession): void;
  /** Domain to answer from when an error concerns a stanza whose 'to' is missing or unusable. */
  defaultHost: string;
  countIn(kind: string): void;
  countOut(kind: string): void;
  countStreamError(condition: string): void;
}

const CLOSE = Symbol('close');
type QueueItem = Element | typeof CLOSE;
/** Pause reading when this many stanzas wait, resume below LOW (as for client streams). */
const HIGH_WATER = 1024;
const LOW_WATER = 128;
/** Bytes queued towards a component that does not read before its stream is dropped. */
const MAX_WRITE_BUFFER = 64 * 1024 * 1024;
/** Stanza namespaces accepted from a component: its own, and jabber:client which some components write. */
const STANZA_NS = new Set<string | undefined>([undefined, NS.COMPONENT, NS.CLIENT, NS.SERVER]);

type Phase = 'header' | 'handshake' | 'ready';

export class ComponentSession implements Origin {
  readonly kind = 'component' as const;
  readonly streamId = randomBytes(12).toString('hex');
  log: Logger;
  /** The component's domain once the stream header named a configured one. */
  domain: string | null = null;
  /** The component's domain as a JID, once the handshake succeeded. */
  jid: Jid | null = null;
  private phase: Phase = 'header';
  private readonly framer: XmlFramer;
  private headerSent = false;
  private closed = false;
  private readonly queue: QueueItem[] = [];
  private running = false;
  private readonly handshakeTimer: NodeJS.Timeout;

  constructor(
    readonly socket: Socket,
    private readonly deps: ComponentSessionDeps,
  ) {
    this.log = deps.log.child({ sid: this.streamId, ip: socket.remoteAddress ?? 'unknown' });
    this.framer = new XmlFramer(deps.limits, {
      streamOpen: (name, attrs) => this.onStreamOpen(name, attrs),
      stanza: (el) => this.enqueue(el),
      streamClose: () => this.enqueue(CLOSE),
      error: (condition, text) => this.close(new StreamError(condition, text)),
    });
    socket.on('data', (chunk: Buffer) => this.framer.write(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.onSocketClosed());
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    this.handshakeTimer = setTimeout(() => {
      if (this.phase !== 'ready') this.close(new StreamError('connection-timeout', 'no handshake in time'));
    }, deps.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  get isReady(): boolean {
    return this.phase === 'ready' && !this.closed;
  }

  private onStreamOpen(name: string, attrs: Record<string, string>): void {
    if (this.phase !== 'header') {
      // XEP-0114 has no stream restart: a second header is a protocol violation.
      this.close(new StreamError('not-authorized', 'the stream was already opened'));
      return;
    }
    const check = checkComponentHeader(name, attrs, (d) => this.deps.secret(d) !== undefined);
    if ('error' in check) {
      // RFC 6120 §4.9.1.2 (XEP-0114 §3 refers to it): a header, then the stream error, then the close.
      this.sendHeader(null);
      this.close(check.error);
      return;
    }
    this.sendHeader(check.domain);
    // XEP-0114 §3 lets the server refuse a name it will not service with <conflict/>: one stream per domain.
    // The live stream keeps the domain; a restarting component retries once its old TCP connection is gone.
    if (this.deps.connected(check.domain)) {
      this.close(new StreamError('conflict', `a component for ${check.domain} is already connected`));
      return;
    }
    this.domain = check.domain;
    this.phase = 'handshake';
    this.log = this.log.child({ component: check.domain });
  }

  /** XEP-0114 §3: the reply header carries the stream id the handshake is computed over, and no version. */
  private sendHeader(from: string | null): void {
    const fromAttr = from ? ` from='${escapeXML(from)}'` : '';
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns:stream='${NS.STREAM}' xmlns='${NS.COMPONENT}' id='${this.streamId}'${fromAttr}>`,
    );
    this.headerSent = true;
  }

  private enqueue(item: QueueItem): void {
    if (this.closed) return;
    this.queue.push(item);
    if (this.queue.length > HIGH_WATER) this.socket.pause();
    if (!this.running) void this.drain();
  }

  /** RFC 6120 §10.1: stanzas from one stream are processed in the order received. */
  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const item = this.queue.shift()!;
        if (item === CLOSE) {
          this.close();
          break;
        }
        const r = this.handle(item);
        if (r) await r;
        if (this.queue.length < LOW_WATER && this.socket.isPaused()) this.socket.resume();
      }
    } catch (err) {
      this.log.error({ err }, 'component stream failed');
      this.close(new StreamError('internal-server-error'));
    } finally {
      this.running = false;
    }
  }

  private handle(el: Element): Promise<void> | undefined {
    if (this.phase === 'handshake') {
      this.onHandshake(el);
      return undefined;
    }
    return this.onStanza(el);
  }

  private onHandshake(el: Element): void {
    const domain = this.domain!;
    // RFC 6120 §4.9.3.12: nothing but the handshake is accepted before authentication.
    if (el.name !== 'handshake' || (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.COMPONENT)) {
      this.close(new StreamError('not-authorized', `expected <handshake/>, got <${el.name}/>`));
      return;
    }
    const secret = this.deps.secret(domain);
    // XEP-0114 §3: invalid credentials close the stream with <not-authorized/>.
    if (secret === undefined || !verifyHandshake(this.streamId, secret, el.getText())) {
      this.log.warn('component handshake failed');
      this.close(new StreamError('not-authorized', 'handshake does not match'));
      return;
    }
    this.jid = Jid.of(null, domain);
    // Checked again: another stream for the domain may have completed its handshake in the meantime.
    if (!this.deps.attach(this)) {
      this.jid = null;
      this.close(new StreamError('conflict', `a component for ${domain} is already connected`));
      return;
    }
    this.phase = 'ready';
    clearTimeout(this.handshakeTimer);
    // XEP-0114 §3: an empty <handshake/> acknowledges success.
    this.write('<handshake/>');
    this.log.info('component connected');
  }

  private onStanza(el: Element): Promise<void> | undefined {
    if (!STANZA_NS.has(el.attrs.xmlns)) {
      this.close(new StreamError('unsupported-stanza-type', `unexpected <${el.name}/> in ${el.attrs.xmlns}`));
      return undefined;
    }
    if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') {
      this.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza`));
      return undefined;
    }
    // XEP-0114 §3: every stanza carries a 'from' whose domain is the component's own; it may speak for any JID
    // there, and for nothing else (subdomains included). RFC 6120 §4.9.3.9: otherwise <invalid-from/>.
    const from = Jid.tryParse(el.attrs.from);
    if (!from || from.domain !== this.domain) {
      const what = el.attrs.from === undefined ? "a stanza without 'from'" : `'from' ${el.attrs.from}`;
      this.close(new StreamError('invalid-from', `${what} is not at ${this.domain}`));
      return undefined;
    }
    // XEP-0114 §3: 'to' is required as well; a missing or malformed one is this stanza's error, not the stream's.
    if (el.attrs.to === undefined) {
      this.replyError(el, StanzaError.badRequest("a component's stanzas must have a 'to'"));
      return undefined;
    }
    let to: Jid;
    try {
      to = Jid.parse(el.attrs.to);
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      this.replyError(el, StanzaError.jidMalformed(err.message));
      return undefined;
    }
    if (el.name === 'iq' && !validIq(el)) {
      this.replyError(el, StanzaError.badRequest('iq needs an id and a type of get, set, result or error'));
      return undefined;
    }
    this.deps.countIn(el.name);
    const routed = withAddresses(el, from.toString(), to.toString());
    // The router and local hosts see server-side stanzas without a namespace of their own.
    delete routed.attrs.xmlns;
    return this.deps.router.route(routed, this);
  }

  /** Answers a stanza the component sent with an error, on this stream (RFC 6120 §8.3.1: never to an error). */
  private replyError(el: Element, err: StanzaError): void {
    if (!mayBounce(el)) return;
    const reply = errorReply(el, err);
    delete reply.attrs.xmlns;
    reply.attrs.from = el.attrs.to !== undefined && Jid.tryParse(el.attrs.to) ? el.attrs.to : this.deps.defaultHost;
    this.send(reply);
  }

  /** Delivers a routed stanza to the component, in its stream's namespace (XEP-0114 §3). */
  send(el: Element): void {
    if (!this.isReady) return;
    this.deps.countOut(el.name);
    let out = el;
    if (el.attrs.xmlns !== undefined) {
      out = withAddresses(el, el.attrs.from, el.attrs.to);
      delete out.attrs.xmlns;
    }
    this.write(out.toString());
  }

  private write(data: string): void {
    if (this.socket.destroyed) return;
    this.socket.write(data);
    if (this.socket.writableLength > MAX_WRITE_BUFFER) {
      this.log.warn({ buffered: this.socket.writableLength }, 'component is not reading; closing');
      this.socket.destroy();
    }
  }

  /** Closes the stream, with a stream error when given (RFC 6120 §4.4, §4.9); the route goes at once. */
  close(error?: StreamError): void {
    if (this.closed) return;
    if (error) {
      this.log.info({ condition: error.condition, text: error.text }, 'component stream error');
      this.deps.countStreamError(error.condition);
      if (!this.headerSent) this.sendHeader(null);
      this.write(error.toElement().toString());
    }
    this.write('</stream:stream>');
    this.closed = true;
    this.queue.length = 0;
    this.deps.detach(this);
    this.socket.end();
    // Do not wait forever for the peer's closing tag (RFC 6120 §4.4).
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private onSocketClosed(): void {
    if (!this.closed) this.log.info('component connection lost');
    this.closed = true;
    this.queue.length = 0;
    clearTimeout(this.handshakeTimer);
    this.deps.detach(this);
  }
}

function validIq(el: Element): boolean {
  const t = el.attrs.type;
  return el.attrs.id !== undefined && (t === 'get' || t === 'set' || t === 'result' || t === 'error');
}
