// A client-to-server stream (RFC 6120): transport, framing, the serial inbound queue, stanza checks and the
// outbound filter chain. With XEP-0198 resumption a bound session can outlive its transport ("hibernating") and
// later take over the transport of a new stream.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { type StanzaError, StreamError, type StreamErrorCondition } from '../errors/index.js';
import { Jid } from '../jid/index.js';
import type { SaslMechanism } from '../stream/sasl/index.js';
import type { Element } from '../xml/element.js';
import { type FramerHandler, XmlFramer } from '../xml/framer.js';
import { NS } from '../xml/ns.js';
import { bindResource, type C2SDeps, handleNegotiation, sendFeatures, validateHeader } from './c2s-negotiation.js';
import { clientErrorReply, handleStanza } from './c2s-stanza.js';
import { type ClientStream, OutboundChain, type OutboundFilter } from './client-stream.js';

const CLOSE = Symbol('close');
type QueueItem = Element | typeof CLOSE;
/** Pause reading when this many stanzas wait, resume below LOW (keeps a flood from growing memory). */
const HIGH_WATER = 512;
const LOW_WATER = 64;
/** Bytes queued towards a client that does not read before its stream is dropped. */
const MAX_WRITE_BUFFER = 16 * 1024 * 1024;
/** Stream errors the client did not cause: the stream is unfinished, and a resumable session survives (XEP-0198 §7). */
const SERVER_FAULTS: ReadonlySet<string> = new Set(['internal-server-error']);
/** The session a socket delivers to, so that its listeners can be shared functions rather than closures. */
const SESSION = Symbol('c2s session');
type SessionSocket = Socket & { [SESSION]?: C2SSession };

export class C2SSession implements ClientStream {
  readonly kind = 'c2s' as const;
  readonly id = randomBytes(9).toString('base64url');
  readonly state = new Map<string, unknown>();
  ip: string;
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
  /** Created on first use: most sessions never log (see `log`). */
  private logger: Logger | null = null;
  onStanzaHandled: (() => void) | null = null;
  onTransportLost: ((reason: string) => boolean) | null = null;
  /** The session the framer delivers to: re-pointed when a resumed session takes the transport (XEP-0198 §5). */
  private input: InstanceType<typeof C2SSession.FramerInput>;
  private framer: XmlFramer;
  private headerSent = false;
  private closed = false;
  private hibernation = false;
  private discarding = false;
  private readonly queue: QueueItem[] = [];
  private running = false;
  /** The socket held corked until the end of this event-loop turn (see write), if any. */
  private corked: Socket | null = null;
  private readonly uncork = (): void => {
    const socket = this.corked;
    this.corked = null;
    socket?.uncork();
  };
  private idleWaiters: (() => void)[] | null = null;
  private readonly outbound = new OutboundChain((el) => this.emit(el));
  /** Until the resource is bound (then let go of, like everything only negotiation needs). */
  private negotiationTimer: NodeJS.Timeout | null;

  constructor(
    socket: Socket,
    readonly deps: C2SDeps,
    directTls: boolean,
  ) {
    this.socket = socket;
    this.secure = directTls;
    this.ip = socket.remoteAddress ?? 'unknown';
    this.input = new C2SSession.FramerInput(this);
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

  /** The session's logger, with its id, address and (once bound) JID; a pino child is made on first use only. */
  get log(): Logger {
    if (this.logger === null) {
      const jid = this.boundJid;
      this.logger = this.deps.log.child(
        jid ? { sid: this.id, ip: this.ip, jid: jid.toString() } : { sid: this.id, ip: this.ip },
      );
    }
    return this.logger;
  }
  set log(logger: Logger) {
    this.logger = logger;
  }

  /** What the framer calls, as methods on one small object per session rather than closures per framer. */
  private static readonly FramerInput = class implements FramerHandler {
    constructor(public session: C2SSession) {}
    streamOpen(name: string, attrs: Record<string, string>): void {
      this.session.onStreamOpen(name, attrs);
    }
    stanza(el: Element): void {
      this.session.onElement(el);
    }
    // RFC 6120 §5.4.3.3: a close that followed <starttls/> in plaintext is discarded like any other input.
    streamClose(): void {
      if (!this.session.discarding) this.session.enqueue(CLOSE);
    }
    error(condition: StreamErrorCondition, text: string): void {
      if (!this.session.discarding) this.session.close(new StreamError(condition, text));
    }
  };

  private makeFramer(): XmlFramer {
    return new XmlFramer(this.deps.limits, this.input);
  }

  /** Input from the transport (the socket listeners below call this). */
  receive(chunk: Buffer): void {
    if (!this.discarding) this.framer.write(chunk);
  }

  /** The TLS handshake after STARTTLS is done: the stream restarts (RFC 6120 §5.4.3.3). Once only. */
  tlsEstablished(): void {
    if (this.secure) return;
    this.secure = true;
    this.framer = this.makeFramer();
    this.discarding = false;
  }

  /**
   * Takes this module's listeners off a socket, and only those: the listener's own 'close' listener (which keeps
   * its set of open sockets) must stay, or the socket would be kept in that set for ever.
   */
  private static detach(socket: Socket): void {
    socket.removeListener('data', onSocketData);
    socket.removeListener('error', onSocketError);
    socket.removeListener('close', onSocketClose);
  }

  private attach(socket: Socket): void {
    (socket as SessionSocket)[SESSION] = this;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
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

  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters ??= [];
      this.idleWaiters.push(resolve);
    });
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
        // XEP-0198 §4: a stanza counts as handled once the server has taken responsibility for it.
        if (this.onStanzaHandled && this.boundJid && isStanza(item)) this.onStanzaHandled();
        if (this.queue.length < LOW_WATER && !this.discarding && this.socket.isPaused()) this.socket.resume();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
      // Storing the length of the empty queue lets V8 drop the storage a burst grew it to.
      if (this.queue.length === 0) this.queue.length = 0;
      const waiters = this.idleWaiters;
      this.idleWaiters = null;
      if (waiters !== null) for (const w of waiters) w();
    }
  }

  private handle(el: Element): Promise<void> | undefined | void {
    if (!this.boundJid) return handleNegotiation(this, el);
    return handleStanza(this, el);
  }

  /** Answers a stanza the client sent with an error, directly on this stream. */
  replyError(el: Element, err: StanzaError): void {
    const reply = clientErrorReply(this, el, err);
    if (reply) this.send(reply);
  }

  /** Completes resource binding (RFC 6120 §7) and registers the session. */
  bound(jid: Jid): void {
    this.boundJid = jid;
    this.stopNegotiationTimer();
    // A logger made during negotiation is made again, with the JID, when next needed.
    this.logger = null;
    bindResource(this);
  }

  private stopNegotiationTimer(): void {
    if (this.negotiationTimer === null) return;
    clearTimeout(this.negotiationTimer);
    this.negotiationTimer = null;
  }

  /** Sends a stanza (or, during negotiation, any element) through the outbound filters to the wire. */
  send(el: Element): void {
    this.outbound.send(el);
  }

  addFilter(f: OutboundFilter): void {
    this.outbound.add(f);
  }
  removeFilter(f: OutboundFilter): void {
    this.outbound.remove(f);
  }
  forward(from: OutboundFilter, el: Element): void {
    this.outbound.forward(from, el);
  }

  sendDirect(el: Element): void {
    this.write(el.toString());
  }

  /** The end of the filter chain: what reaches it is serialized and written. */
  private emit(el: Element): void {
    if (this.closed || this.hibernation) return;
    this.deps.countOut(el.name);
    this.write(el.toString());
  }

  write(data: string): void {
    if (this.closed || this.hibernation || this.socket.destroyed) return;
    // Writes of one event-loop turn leave as one TLS record and one system call (a record per stanza was a fifth
    // of the CPU time in the message benchmark, docs/benchmarks.md); end() flushes a corked socket too.
    if (this.corked === null) {
      this.corked = this.socket;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    this.socket.write(data);
    // A client that stops reading must not make the server buffer without bound.
    if (this.socket.writableLength > MAX_WRITE_BUFFER) {
      this.log.warn({ buffered: this.socket.writableLength }, 'client is not reading; closing');
      this.socket.destroy();
    }
  }

  /** Upgrades the transport after <proceed/> (RFC 6120 §5.4.3.3); the stream restarts over TLS. */
  startTls(): void {
    // <proceed/> must be on the wire, in plaintext, before the socket is wrapped.
    this.uncork();
    const raw = this.socket;
    C2SSession.detach(raw);
    this.queue.length = 0;
    const tlsSocket = new TLSSocket(raw, { isServer: true, ...this.deps.tlsOptions() });
    // on(), not once(): taking a listener off makes V8 turn the socket's listener table into a slower and
    // larger dictionary for the rest of the connection.
    tlsSocket.on('secure', onSocketSecure);
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

  /**
   * Closes the stream, with a stream error when given (RFC 6120 §4.4, §4.9). A hibernating session ends for good.
   * A resumable session closed for a fault of the server's keeps hibernating (XEP-0198 §5).
   */
  close(error?: StreamError): void {
    if (this.closed) return;
    if (this.hibernation) {
      this.end(error ? error.condition : 'ended while hibernating');
      return;
    }
    if (error) {
      this.log.info({ condition: error.condition, text: error.text }, 'stream error');
      this.deps.countStreamError(error.condition);
      if (!this.headerSent) this.sendHeader();
      this.write(error.toElement().toString());
    }
    this.write('</stream:stream>');
    if (error && SERVER_FAULTS.has(error.condition) && this.isBound && this.onTransportLost?.(error.condition)) {
      this.detachTransport();
      this.hibernation = true;
      return;
    }
    this.closed = true;
    this.queue.length = 0;
    this.socket.end();
    // Do not wait forever for the peer's closing tag (RFC 6120 §4.4).
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get hibernating(): boolean {
    return this.hibernation;
  }

  /** The transport is gone (the socket's 'close'). */
  transportClosed(): void {
    const wasOpen = !this.closed;
    // XEP-0198 §7: a stream that was not closed cleanly is unfinished; a resumable session stays bound.
    if (wasOpen && this.isBound && this.onTransportLost?.('connection lost')) {
      this.queue.length = 0;
      this.hibernation = true;
      return;
    }
    this.closed = true;
    this.queue.length = 0;
    this.stopNegotiationTimer();
    this.deps.onClose(this, wasOpen ? 'connection lost' : undefined);
  }

  /** A hibernating session ends: it is unbound like a session whose connection was lost. */
  private end(reason: string): void {
    this.hibernation = false;
    this.closed = true;
    this.queue.length = 0;
    this.deps.onClose(this, reason);
  }

  /** Lets go of the current transport without ending the session; its remaining input is dropped. */
  private detachTransport(): void {
    const socket = this.socket;
    C2SSession.detach(socket);
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error after detach'));
    this.queue.length = 0;
    socket.end();
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  adoptTransport(other: ClientStream, greet: () => void): void {
    if (!(other instanceof C2SSession) || other === this) throw new Error('not another client stream');
    if (this.closed || other.closed) throw new Error('the session or the new stream has ended');
    if (!this.hibernation) {
      // XEP-0198 §5: the old stream, still open, is closed with a conflict stream error.
      this.deps.countStreamError('conflict');
      this.write(
        `${new StreamError('conflict', 'the session was resumed on another stream').toElement()}</stream:stream>`,
      );
      this.detachTransport();
    }
    this.hibernation = false;
    const leftover = other.release();
    this.socket = other.socket;
    this.secure = other.secure;
    this.ip = other.ip;
    this.framer = other.framer;
    this.input = other.input;
    this.input.session = this;
    this.attach(this.socket);
    greet();
    // Whatever the client pipelined after <resume/> is processed here, after the greeting.
    for (const item of leftover) this.enqueue(item);
  }

  /** Gives the transport away to a resumed session: this stream ends without a word of its own. */
  private release(): QueueItem[] {
    const socket = this.socket;
    C2SSession.detach(socket);
    this.stopNegotiationTimer();
    this.closed = true;
    const rest = this.queue.splice(0);
    this.deps.onClose(this);
    return rest;
  }
}

// Socket listeners: shared functions that find their session on the socket (EventEmitter calls them with the
// socket as `this`), instead of closures per socket.
function onSocketData(this: SessionSocket, chunk: Buffer): void {
  this[SESSION]?.receive(chunk);
}
function onSocketError(this: SessionSocket, err: Error): void {
  this[SESSION]?.log.debug({ err: err.message }, 'socket error');
}
function onSocketClose(this: SessionSocket): void {
  this[SESSION]?.transportClosed();
}
function onSocketSecure(this: SessionSocket): void {
  this[SESSION]?.tlsEstablished();
}

function isStanza(item: QueueItem): boolean {
  if (item === CLOSE) return false;
  const ns = item.attrs.xmlns;
  return (
    (ns === undefined || ns === NS.CLIENT) &&
    (item.name === 'message' || item.name === 'presence' || item.name === 'iq')
  );
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
