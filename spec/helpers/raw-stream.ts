// A minimal raw XMPP client stream for bad-input tests: plain node:net / node:tls sockets, bytes sent exactly as
// given, and everything received kept (text, parsed top-level elements, stream close, TCP close) so a test can
// assert precisely what the server answered (RFC 6120 §4.9 stream errors, §8.3 stanza errors).
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Element } from '../../server/xml/element.js';
import { XmlFramer } from '../../server/xml/framer.js';
import { NS } from '../../server/xml/ns.js';

export const STREAM_HEADER_ATTRS = `xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}' version='1.0'`;

/** An initial stream header as a client sends it (RFC 6120 §4.7). */
export function streamHeader(to = 'localhost', extra = STREAM_HEADER_ATTRS): string {
  return `<?xml version='1.0'?><stream:stream to='${to}' ${extra}>`;
}

/** RFC 4616 message in base64: [authzid] NUL authcid NUL passwd. */
export function plainPayload(user: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\0${user}\0${password}`, 'utf8').toString('base64');
}

export interface RawStreamOptions {
  port: number;
  /** Direct TLS (XEP-0368) instead of plain TCP. */
  tls?: boolean;
}

export interface StreamErrorSeen {
  condition: string;
  text: string | undefined;
}

export class RawStream {
  /** Every decoded byte received on the current transport (reset by STARTTLS). */
  text = '';
  /** Stream headers received from the server, in order. */
  readonly headers: Record<string, string>[] = [];
  /** Top-level elements received, in order, across restarts and transports. */
  readonly elements: Element[] = [];
  /** The server sent '</stream:stream>'. */
  streamClosed = false;
  /** The transport closed (TCP FIN or reset). */
  socketClosed = false;
  /** Set when the server's own output could not be parsed. */
  parseError: string | null = null;
  jid: string | null = null;
  private framer: XmlFramer;
  private readonly waiters = new Set<() => void>();
  private nextId = 0;

  private constructor(public socket: Socket) {
    this.framer = this.makeFramer();
    this.listen(socket);
  }

  static async connect(opts: RawStreamOptions): Promise<RawStream> {
    const socket: Socket = opts.tls
      ? tlsConnect({ host: '127.0.0.1', port: opts.port, servername: 'localhost', rejectUnauthorized: false })
      : netConnect({ host: '127.0.0.1', port: opts.port });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawStream(socket);
  }

  /** Connects over STARTTLS, authenticates with PLAIN and binds `resource`; optionally sends presence. */
  static async login(
    port: number,
    user: string,
    password: string,
    opts: { resource?: string; presence?: boolean } = {},
  ): Promise<RawStream> {
    const s = await RawStream.connect({ port });
    await s.open();
    await s.startTls();
    await s.open();
    await s.authPlain(user, password);
    await s.open();
    await s.bind(opts.resource);
    if (opts.presence) await s.sendPresence();
    return s;
  }

  private makeFramer(): XmlFramer {
    return new XmlFramer(
      { maxStanzaBytes: 1 << 24, maxDepth: 64, maxAttributes: 64 },
      {
        streamOpen: (_name, attrs) => this.headers.push(attrs),
        stanza: (el) => this.elements.push(el),
        streamClose: () => {
          this.streamClosed = true;
        },
        error: (condition, text) => {
          this.parseError = `${condition}: ${text}`;
        },
      },
    );
  }

  private listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('utf8');
      this.framer.write(chunk);
      this.wake();
    });
    socket.on('close', () => {
      this.socketClosed = true;
      this.wake();
    });
    // A reset by the server is an expected outcome in these tests; 'close' records it.
    socket.on('error', () => this.wake());
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  id(prefix = 'r'): string {
    return `${prefix}${this.nextId++}`;
  }

  /** Resolves with the first truthy result of `check`, re-evaluated whenever bytes or a close arrive. */
  waitFor<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
    const first = check();
    if (first) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => {
        const r = check();
        if (r) {
          done();
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received: ${this.text.slice(-600)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** The first element received at index >= from that matches. */
  find(pred: (el: Element) => boolean, from = 0): Element | undefined {
    for (let i = from; i < this.elements.length; i++) {
      const el = this.elements[i]!;
      if (pred(el)) return el;
    }
    return undefined;
  }

  waitElement(pred: (el: Element) => boolean, what: string, timeoutMs = 5000, from = 0): Promise<Element> {
    return this.waitFor(() => this.find(pred, from), what, timeoutMs);
  }

  waitId(id: string, timeoutMs = 5000): Promise<Element> {
    return this.waitElement((el) => el.attrs.id === id, `a reply with id '${id}'`, timeoutMs);
  }

  waitClosed(timeoutMs = 5000): Promise<true> {
    return this.waitFor(() => this.socketClosed, 'the TCP close', timeoutMs);
  }

  /** The stream error received, if any (RFC 6120 §4.9.2 syntax). */
  streamError(): StreamErrorSeen | undefined {
    const el = this.find((e) => e.name === 'stream:error');
    if (!el) return undefined;
    const cond = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS_ERR && c.name !== 'text');
    return { condition: cond?.name ?? '(none)', text: el.getChildText('text', NS.STREAMS_ERR) ?? undefined };
  }

  /** Sends a (possibly bad) stream header; the server answers a restart with a new one (RFC 6120 §4.3.3). */
  sendHeader(bytes: string): void {
    this.framer.reset();
    this.send(bytes);
  }

  /** Sends a stream header and waits for the server's features (RFC 6120 §4.3.2). */
  async open(to = 'localhost'): Promise<Element> {
    const from = this.elements.length;
    this.sendHeader(streamHeader(to));
    return this.waitElement((el) => el.name === 'stream:features', 'stream features', 5000, from);
  }

  /** RFC 6120 §5.4.2: <starttls/>, <proceed/>, then the TLS handshake over the same TCP connection. */
  async startTls(): Promise<void> {
    const from = this.elements.length;
    this.send(`<starttls xmlns='${NS.TLS}'/>`);
    await this.waitElement((el) => el.name === 'proceed' && el.attrs.xmlns === NS.TLS, '<proceed/>', 5000, from);
    await this.upgrade();
  }

  /** Wraps the current socket in TLS; whatever the server sends afterwards is read through TLS. */
  async upgrade(): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    raw.removeAllListeners('error');
    raw.on('error', () => this.wake());
    this.socket = secure;
    this.text = '';
    this.framer = this.makeFramer();
    this.listen(secure);
  }

  /** RFC 6120 §6.4.2 with PLAIN (RFC 4616); resolves with <success/> or <failure/>. */
  async auth(mechanism: string, payload: string): Promise<Element> {
    const from = this.elements.length;
    this.send(`<auth xmlns='${NS.SASL}' mechanism='${mechanism}'>${payload}</auth>`);
    return this.waitElement(
      (el) => el.attrs.xmlns === NS.SASL && (el.name === 'success' || el.name === 'failure'),
      'SASL outcome',
      5000,
      from,
    );
  }

  async authPlain(user: string, password: string): Promise<void> {
    const el = await this.auth('PLAIN', plainPayload(user, password));
    if (el.name !== 'success') throw new Error(`authentication failed: ${el.toString()}`);
  }

  /** RFC 6120 §7: binds a resource and records the full JID. */
  async bind(resource?: string): Promise<string> {
    const id = this.id('bind');
    const res = resource ? `<resource>${resource}</resource>` : '';
    this.send(`<iq type='set' id='${id}'><bind xmlns='${NS.BIND}'>${res}</bind></iq>`);
    const reply = await this.waitId(id);
    const jid = reply.getChild('bind', NS.BIND)?.getChildText('jid');
    if (reply.attrs.type !== 'result' || !jid) throw new Error(`bind failed: ${reply.toString()}`);
    this.jid = jid;
    return jid;
  }

  /** Initial presence (RFC 6121 §4.2), so that messages to the bare JID are delivered here. */
  async sendPresence(): Promise<void> {
    this.send('<presence/>');
    // The server sends no reply to initial presence without roster contacts; a ping round trip orders it.
    await this.sync();
  }

  /**
   * A ping to the server and its reply (XEP-0199). Everything the server wrote to this stream before answering
   * has arrived once the reply is here.
   */
  async sync(timeoutMs = 5000): Promise<void> {
    const id = this.id('sync');
    this.send(`<iq type='get' id='${id}'><ping xmlns='${NS.PING}'/></iq>`);
    const reply = await this.waitId(id, timeoutMs);
    if (reply.attrs.type !== 'result') throw new Error(`ping failed: ${reply.toString()}`);
  }

  /** Closes the stream politely (RFC 6120 §4.4) and ends the socket. */
  close(): void {
    if (this.socket.destroyed) return;
    if (!this.socketClosed) this.socket.end('</stream:stream>');
    setTimeout(() => this.socket.destroy(), 200).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The stanza error condition inside an error stanza (RFC 6120 §8.3.2). */
export function stanzaErrorCondition(el: Element): string | undefined {
  const err = el.getChild('error');
  return err?.getChildElements().find((c) => c.attrs.xmlns === NS.STANZAS_ERR && c.name !== 'text')?.name;
}

/**
 * RFC 6120 §4.9.1: a stream error is the stream:error element, then '</stream:stream>', then the TCP close; the
 * server's own stream header comes first even when the client's header was refused (§4.9.1.2).
 */
export async function expectStreamError(s: RawStream, condition: string, timeoutMs = 5000): Promise<void> {
  await s.waitClosed(timeoutMs);
  assert.equal(s.parseError, null, 'the server sent well-formed XML');
  assert.ok(s.headers.length > 0, 'the server sent its stream header before the error');
  const seen = s.streamError();
  assert.ok(seen, `expected <${condition}/>, got no stream error; received: ${s.text.slice(-400)}`);
  assert.equal(seen.condition, condition, `stream error condition (text: ${seen.text ?? ''})`);
  assert.equal(s.elements.at(-1)?.name, 'stream:error', 'nothing follows the stream error');
  assert.ok(s.streamClosed, "'</stream:stream>' follows the stream error");
}

/** The server still accepts a full login and answers a ping. */
export async function expectServerAlive(port: number, user: string, password: string): Promise<void> {
  const s = await RawStream.login(port, user, password);
  try {
    await s.sync();
  } finally {
    s.close();
  }
}

/** Messages received by a stream, for "nothing leaked" checks. */
export function messages(s: RawStream): Element[] {
  return s.elements.filter((el) => el.name === 'message');
}
