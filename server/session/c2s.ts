// A client-to-server stream (RFC 6120): transport, framing, the serial inbound queue and stanza checks.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { SessionInfo } from '../core/hooks.js';
import { StanzaError, StreamError } from '../errors/index.js';
import { Jid, JidError } from '../jid/index.js';
import { errorReply, mayBounce, withAddresses } from '../router/stanza.js';
import type { SaslMechanism } from '../stream/sasl/index.js';
import type { Element } from '../xml/element.js';
import { XmlFramer } from '../xml/framer.js';
import { NS } from '../xml/ns.js';
import { bindResource, type C2SDeps, handleNegotiation, sendFeatures, validateHeader } from './c2s-negotiation.js';

const CLOSE = Symbol('close');
type QueueItem = Element | typeof CLOSE;
/** Pause reading when this many stanzas wait, resume below LOW (keeps a flood from growing memory). */
const HIGH_WATER = 512;
const LOW_WATER = 64;
/** Bytes queued towards a client that does not read before its stream is dropped. */
const MAX_WRITE_BUFFER = 16 * 1024 * 1024;

export class C2SSession implements SessionInfo {
  readonly kind = 'c2s' as const;
  readonly id = randomBytes(9).toString('base64url');
  readonly state = new Map<string, unknown>();
  readonly ip: string;
  socket: Socket;
  secure: boolean;
  /** Domain named in the first stream header; restarts must keep it. */
  streamHost: string | null = null;
  /** Authenticated localpart once SASL succeeded (RFC 6120 §6.4.6). */
  authUser: string | null = null;
  boundJid: Jid | null = null;
  presence: Element | null = null;
  priority = 0;
  available = false;
  sasl: { mech: SaslMechanism; name: string } | null = null;
  saslFailures = 0;
  log: Logger;
  private framer: XmlFramer;
  private headerSent = false;
  private closed = false;
  private discarding = false;
  private readonly queue: QueueItem[] = [];
  private running = false;
  private readonly negotiationTimer: NodeJS.Timeout;

  constructor(
    socket: Socket,
    readonly deps: C2SDeps,
    directTls: boolean,
  ) {
    this.socket = socket;
    this.secure = directTls;
    this.ip = socket.remoteAddress ?? 'unknown';
    this.log = deps.log.child({ sid: this.id, ip: this.ip });
    this.framer = this.makeFramer();
    this.attach(socket);
    this.negotiationTimer = setTimeout(() => {
      if (!this.boundJid) this.close(new StreamError('connection-timeout', 'negotiation took too long'));
    }, deps.negotiationTimeoutMs);
    this.negotiationTimer.unref();
    deps.onOpen(this);
  }

  get jid(): Jid {
    if (!this.boundJid) throw new Error('session is not bound');
    return this.boundJid;
  }
  get username(): string {
    return this.authUser ?? '';
  }
  get host(): string {
    return this.streamHost ?? '';
  }
  get resource(): string {
    return this.boundJid?.resource ?? '';
  }
  get isBound(): boolean {
    return this.boundJid !== null;
  }

  private makeFramer(): XmlFramer {
    return new XmlFramer(this.deps.limits, {
      streamOpen: (name, attrs) => this.onStreamOpen(name, attrs),
      stanza: (el) => this.onElement(el),
      // RFC 6120 §5.4.3.3: a close that followed <starttls/> in plaintext is discarded like any other input.
      streamClose: () => {
        if (!this.discarding) this.enqueue(CLOSE);
      },
      error: (condition, text) => {
        if (!this.discarding) this.close(new StreamError(condition, text));
      },
    });
  }

  private attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      if (!this.discarding) this.framer.write(chunk);
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.onSocketClosed());
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
  }

  private onStreamOpen(name: string, attrs: Record<string, string>): void {
    const problem = validateHeader(this, name, attrs);
    this.sendHeader(attrs.from);
    if (problem) {
      this.close(problem);
      return;
    }
    sendFeatures(this).catch((err: unknown) => this.fail(err));
  }

  sendHeader(clientFrom?: string): void {
    const from = this.streamHost ?? this.deps.defaultHost;
    const to = clientFrom && Jid.tryParse(clientFrom) ? ` to='${escapeAttr(clientFrom)}'` : '';
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}' id='${randomBytes(12).toString('base64url')}' from='${escapeAttr(from)}'${to} version='1.0' xml:lang='en'>`,
    );
    this.headerSent = true;
  }

  private onElement(el: Element): void {
    if (this.discarding) return;
    // RFC 6120 §5.4.3.3: nothing after <starttls/> may be read as plaintext; stop reading at once.
    if (el.name === 'starttls' && el.attrs.xmlns === NS.TLS && !this.secure) {
      this.discarding = true;
      this.socket.pause();
    }
    this.enqueue(el);
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    if (this.queue.length > HIGH_WATER && !this.discarding) this.socket.pause();
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
        if (this.queue.length < LOW_WATER && !this.discarding && this.socket.isPaused()) this.socket.resume();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
    }
  }

  private handle(el: Element): Promise<void> | undefined | void {
    if (!this.boundJid) return handleNegotiation(this, el);
    return this.handleStanza(el);
  }

  private handleStanza(el: Element): Promise<void> | undefined {
    const ns = el.attrs.xmlns;
    if (ns !== undefined && ns !== NS.CLIENT) {
      return this.deps.nonza(this, el).then((handled) => {
        if (!handled) this.close(new StreamError('unsupported-stanza-type', `unexpected <${el.name}/> in ${ns}`));
      });
    }
    if (el.name !== 'message' && el.name !== 'presence' && el.name !== 'iq') {
      this.close(new StreamError('unsupported-stanza-type', `<${el.name}/> is not a stanza`));
      return undefined;
    }
    const full = this.jid;
    // RFC 6120 §8.1.2.1: the server stamps 'from'; a client claiming another address is refused (§4.9.3.9).
    const claimed = el.attrs.from;
    if (claimed !== undefined && claimed !== full.toString() && claimed !== full.bareString) {
      const parsed = Jid.tryParse(claimed);
      if (!parsed || !(parsed.equals(full) || parsed.equals(full.bare()))) {
        this.close(new StreamError('invalid-from', 'from does not match the bound JID'));
        return undefined;
      }
    }
    let to: string;
    if (el.attrs.to === undefined) {
      // RFC 6120 §10.3: a stanza without 'to' is handled by the server on behalf of the account.
      to = full.bareString;
    } else {
      try {
        to = Jid.parse(el.attrs.to).toString();
      } catch (err) {
        if (!(err instanceof JidError)) throw err;
        this.replyError(el, StanzaError.jidMalformed(err.message));
        return undefined;
      }
    }
    if (el.name === 'iq' && !validIq(el)) {
      this.replyError(el, StanzaError.badRequest('iq needs an id and a type of get, set, result or error'));
      return undefined;
    }
    this.deps.countIn(el.name);
    return this.deps.router.route(withAddresses(el, full.toString(), to), this);
  }

  /** Answers a stanza the client sent with an error, directly on this stream. */
  replyError(el: Element, err: StanzaError): void {
    // RFC 6120 §8.3.1: an error stanza, or an iq result, is never answered with an error.
    if (!mayBounce(el)) return;
    const reply = errorReply(el, err);
    if (this.boundJid) reply.attrs.to = this.boundJid.toString();
    delete reply.attrs.from;
    // The error comes from the addressee; a 'to' that is not a JID is not echoed into 'from' (RFC 6120 §8.1.2
    // requires JIDs there), so the server answers in its own name.
    const to = el.attrs.to;
    if (to !== undefined) reply.attrs.from = Jid.tryParse(to) ? to : (this.streamHost ?? this.deps.defaultHost);
    this.send(reply);
  }

  /** Completes resource binding (RFC 6120 §7) and registers the session. */
  bound(jid: Jid): void {
    this.boundJid = jid;
    clearTimeout(this.negotiationTimer);
    bindResource(this);
  }

  send(el: Element): void {
    if (this.closed) return;
    this.deps.countOut(el.name);
    this.write(el.toString());
  }

  write(data: string): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(data);
    // A client that stops reading must not make the server buffer without bound.
    if (this.socket.writableLength > MAX_WRITE_BUFFER) {
      this.log.warn({ buffered: this.socket.writableLength }, 'client is not reading; closing');
      this.socket.destroy();
    }
  }

  /** Upgrades the transport after <proceed/> (RFC 6120 §5.4.3.3); the stream restarts over TLS. */
  startTls(): void {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    this.queue.length = 0;
    const tlsSocket = new TLSSocket(raw, { isServer: true, ...this.deps.tlsOptions() });
    tlsSocket.once('secure', () => {
      this.secure = true;
      this.framer = this.makeFramer();
      this.discarding = false;
    });
    this.socket = tlsSocket;
    this.attach(tlsSocket);
    raw.resume();
  }

  /** Prepares for the stream restart after SASL success (RFC 6120 §6.4.6). */
  restartStream(): void {
    this.framer.reset();
  }

  private fail(err: unknown): void {
    if (err instanceof StreamError) {
      this.close(err);
      return;
    }
    this.log.error({ err }, 'session failed');
    this.close(new StreamError('internal-server-error'));
  }

  /** Closes the stream, with a stream error when given (RFC 6120 §4.4, §4.9). */
  close(error?: StreamError): void {
    if (this.closed) return;
    if (error) {
      this.log.info({ condition: error.condition, text: error.text }, 'stream error');
      this.deps.countStreamError(error.condition);
      if (!this.headerSent) this.sendHeader();
      this.write(error.toElement().toString());
    }
    this.write('</stream:stream>');
    this.closed = true;
    this.queue.length = 0;
    this.socket.end();
    // Do not wait forever for the peer's closing tag (RFC 6120 §4.4).
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onSocketClosed(): void {
    const wasOpen = !this.closed;
    this.closed = true;
    this.queue.length = 0;
    clearTimeout(this.negotiationTimer);
    this.deps.onClose(this, wasOpen ? 'connection lost' : undefined);
  }
}

function validIq(el: Element): boolean {
  const t = el.attrs.type;
  return el.attrs.id !== undefined && (t === 'get' || t === 'set' || t === 'result' || t === 'error');
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
