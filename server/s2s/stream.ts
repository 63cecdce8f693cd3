// What inbound and outbound server-to-server streams share (RFC 6120 §4): the socket and its TLS upgrade, the
// framer, namespace resolution against the peer's stream header, writes and closing with a stream error.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import { StreamError } from '../errors/index.js';
import { JidError, prepareDomainpart } from '../jid/index.js';
import type { Element } from '../xml/element.js';
import { type FramerLimits, XmlFramer } from '../xml/framer.js';
import { NS } from '../xml/ns.js';

/** Bytes queued towards a peer that does not read before its stream is dropped. */
const MAX_WRITE_BUFFER = 16 * 1024 * 1024;

export interface StreamHooks {
  countStreamError(condition: string): void;
}

export abstract class S2sStream {
  /** Internal id for log lines; not the XMPP stream ID. */
  readonly tag = randomBytes(6).toString('base64url');
  socket: Socket;
  secure: boolean;
  log: Logger;
  /** Attributes of the peer's latest stream header (RFC 6120 §4.7), for namespace prefixes and 'id'. */
  protected peerHeader: Record<string, string> = {};
  protected headerSent = false;
  protected closed = false;
  /** RFC 6120 §5.4.3.3: after <starttls/> (or <proceed/>) nothing more is read in plaintext. */
  protected discarding = false;
  private framer: XmlFramer;

  protected constructor(
    socket: Socket,
    secure: boolean,
    log: Logger,
    private readonly limits: FramerLimits,
    private readonly hooks: StreamHooks,
  ) {
    this.socket = socket;
    this.secure = secure;
    this.log = log.child({ s2s: this.tag });
    this.framer = this.makeFramer();
    this.attach(socket);
  }

  protected abstract onHeader(name: string, attrs: Record<string, string>): void;
  protected abstract onElement(el: Element): void;
  /** The transport closed; `wasOpen` is false when we closed the stream ourselves. */
  protected abstract onEnd(wasOpen: boolean): void;

  get isClosed(): boolean {
    return this.closed;
  }

  private makeFramer(): XmlFramer {
    return new XmlFramer(this.limits, {
      streamOpen: (name, attrs) => {
        this.peerHeader = attrs;
        this.onHeader(name, attrs);
      },
      stanza: (el) => {
        if (!this.discarding) this.onElement(el);
      },
      streamClose: () => {
        if (!this.discarding) this.close();
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
    socket.on('close', () => {
      const wasOpen = !this.closed;
      this.closed = true;
      this.onEnd(wasOpen);
    });
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
  }

  /** Namespace and local name of a top-level element, prefixes resolved against the peer's stream header. */
  protected qname(el: Element): { ns: string | undefined; local: string } {
    const colon = el.name.indexOf(':');
    if (colon < 0) return { ns: el.attrs.xmlns ?? this.peerHeader.xmlns, local: el.name };
    const prefix = el.name.slice(0, colon);
    return {
      ns: el.attrs[`xmlns:${prefix}`] ?? this.peerHeader[`xmlns:${prefix}`],
      local: el.name.slice(colon + 1),
    };
  }

  /** RFC 6120 §4.7: is this a stream header in the 'jabber:server' content namespace? */
  protected headerProblem(name: string, attrs: Record<string, string>): StreamError | null {
    const colon = name.indexOf(':');
    const prefix = colon >= 0 ? name.slice(0, colon) : '';
    const streamNs = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
    if (name.slice(colon + 1) !== 'stream' || streamNs !== NS.STREAM) {
      return new StreamError('invalid-namespace', 'not an XMPP stream');
    }
    if (attrs.xmlns !== NS.SERVER)
      return new StreamError('invalid-namespace', `content namespace must be ${NS.SERVER}`);
    return null;
  }

  /** Our stream header (RFC 6120 §4.7), declaring the dialback prefix (XEP-0220 §2.4.1). */
  protected writeHeader(attrs: { from?: string; to?: string; id?: string }): void {
    const parts = Object.entries(attrs)
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([k, v]) => ` ${k}='${escapeAttr(v as string)}'`)
      .join('');
    this.write(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:db='${NS.DIALBACK}' xmlns:stream='${NS.STREAM}'${parts} version='1.0' xml:lang='en'>`,
    );
    this.headerSent = true;
  }

  send(el: Element): void {
    this.write(el.toString());
  }

  write(data: string): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(data);
    if (this.socket.writableLength > MAX_WRITE_BUFFER) {
      this.log.warn({ buffered: this.socket.writableLength }, 's2s peer is not reading; closing');
      this.socket.destroy();
    }
  }

  /** Starts a new stream on the same transport (RFC 6120 §4.3.3): forget unread input, expect a header. */
  protected restartParser(): void {
    this.framer.reset();
  }

  /** Receiving side of STARTTLS (RFC 6120 §5.4.3.3): after <proceed/>, the handshake as TLS server. */
  protected upgradeAsServer(upgrade: (raw: Socket) => Promise<TLSSocket>): void {
    const raw = this.detach();
    upgrade(raw).then(
      (secure) => {
        this.socket = secure;
        this.secure = true;
        this.framer = this.makeFramer();
        this.discarding = false;
        this.attach(secure);
      },
      (err: Error) => {
        this.log.info({ err: err.message }, 'TLS handshake failed');
        raw.destroy();
        if (this.closed) return;
        this.closed = true;
        this.onEnd(true);
      },
    );
  }

  /** Initiating side of STARTTLS (RFC 6120 §5.4.3.3): resolves once the handshake completed. */
  protected upgradeAsClient(options: ConnectionOptions): Promise<void> {
    const raw = this.detach();
    const secure = tlsConnect({ ...options, socket: raw });
    this.socket = secure;
    return new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => {
        this.secure = true;
        this.framer = this.makeFramer();
        this.discarding = false;
        this.attach(secure);
        resolve();
      });
      secure.once('error', (err) => reject(err));
      secure.once('close', () => reject(new Error('connection closed during the TLS handshake')));
    });
  }

  private detach(): Socket {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    // The TLS layer reports errors from now on; keep a listener so that none goes unhandled.
    raw.on('error', (err) => this.log.debug({ err: err.message }, 'transport error under TLS'));
    return raw;
  }

  /** Closes the stream, with a stream error when given (RFC 6120 §4.4, §4.9). */
  close(error?: StreamError): void {
    if (this.closed) return;
    if (error) {
      this.log.info({ condition: error.condition, text: error.text }, 's2s stream error');
      this.hooks.countStreamError(error.condition);
      if (!this.headerSent) this.writeHeader({});
      this.write(error.toElement().toString());
    }
    this.write('</stream:stream>');
    this.closed = true;
    this.socket.end();
    // Do not wait forever for the peer's closing tag (RFC 6120 §4.4).
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

export function escapeAttr(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A domain prepared as in a JID (RFC 7622 §3.2), or null when it is not one. */
export function prepareDomainOrNull(s: string | undefined): string | null {
  if (!s) return null;
  try {
    return prepareDomainpart(s);
  } catch (err) {
    if (err instanceof JidError) return null;
    throw err;
  }
}
