// A minimal raw XMPP client stream for bad-input tests: plain node:net / node:tls sockets, bytes sent exactly as
// given, and everything received kept (text, parsed top-level elements, stream close, TCP close) so a test can
// assert precisely what the server answered (RFC 6120 §4.9 stream errors, §8.3 stanza errors).
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Element } from '../../server/xml/element.js';
import { NS } from '../../server/xml/ns.js';
import { ObservedStream, type StreamErrorSeen } from './observed-stream.js';

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

export type { StreamErrorSeen };

export class RawStream extends ObservedStream {
  jid: string | null = null;
  private nextId = 0;

  private constructor(socket: Socket) {
    super(socket, 1 << 24);
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

  id(prefix = 'r'): string {
    return `${prefix}${this.nextId++}`;
  }

  waitElement(pred: (el: Element) => boolean, what: string, timeoutMs = 5000, from = 0): Promise<Element> {
    return this.waitFor(() => this.find(pred, from), what, timeoutMs);
  }

  waitId(id: string, timeoutMs = 5000): Promise<Element> {
    return this.waitElement((el) => el.attrs.id === id, `a reply with id '${id}'`, timeoutMs);
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
  upgrade(): Promise<void> {
    return this.upgradeSocket({ servername: 'localhost' });
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
