// A small raw XMPP client for conversation tests that need byte-level control of a c2s stream (RFC 6120).
// It is written against node:net / node:tls and xmpp.js's streaming parser only, independently of the server,
// so that it can send exactly the bytes a test wants and observe exactly what the server answers.
//
// Typical use:
//   const c = await RawClient.connect({ port: srv.port });          // TCP; { port: srv.tlsPort, directTls: true } for XEP-0368
//   await c.openStream();                                            // header + <stream:features/>
//   await c.starttls();                                              // RFC 6120 §5: proceed, TLS handshake, restart
//   await c.authenticate('SCRAM-SHA-256-PLUS', 'alice', 'secret');   // RFC 6120 §6, restart on success
//   const jid = await c.bind('laptop');                              // RFC 6120 §7
//   c.send("<message to='bob@localhost' type='chat'><body>hi</body></message>");
//   const msg = await c.waitFor((el) => el.is('message'));
//   await c.close();
// or simply `const c = await RawClient.login({ port, username, password })`.
//
// Every element the server sends lands in an inbox; `waitFor` takes the first element (in arrival order) that
// matches and leaves the others for later calls, so a test never loses a stanza that arrived "early".
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { Parser } from '@xmpp/xml';
import type { Element } from 'ltx';
import { gs2Header, ScramClient, type ScramClientHash } from './scram-client.js';

export type { Element };

export const NS_STREAM = 'http://etherx.jabber.org/streams';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams';

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';
export type SaslMechanismName = 'PLAIN' | 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-256-PLUS';

export interface RawClientOptions {
  port: number;
  /** Defaults to 127.0.0.1. */
  address?: string;
  /** Local source address, e.g. '127.0.0.2' to appear as another client IP on loopback (throttling tests). */
  localAddress?: string;
  /** XMPP domain for the stream header 'to' and TLS SNI; defaults to 'localhost'. */
  domain?: string;
  /** Connect with TLS at once (XEP-0368 direct TLS) instead of plain TCP. */
  directTls?: boolean;
  /** Extra client TLS options (e.g. { maxVersion: 'TLSv1.2' }, or { ca } to verify the server certificate). */
  tls?: tls.ConnectionOptions;
  /** Default timeout of every wait, in ms (default 5000). */
  timeoutMs?: number;
}

export interface LoginOptions extends RawClientOptions {
  username: string;
  password: string;
  /** Default SCRAM-SHA-1. */
  mechanism?: SaslMechanismName;
  /** Resource to request; empty or omitted lets the server choose. */
  resource?: string;
  /** Skip binding (stop right after SASL success and the restart). */
  noBind?: boolean;
}

export interface ScramOptions {
  /** Channel binding type for -PLUS mechanisms; default tls-exporter on TLS 1.3, else tls-server-end-point. */
  cbType?: ChannelBindingType;
  /** Channel binding data to send instead of the real one (to play a man in the middle). */
  cbData?: Buffer;
  /** Authorization identity (RFC 6120 §6.3.8). */
  authzid?: string;
}

/** Result of `authenticate`: the final SASL element and, on failure, its condition. */
export interface AuthResult {
  ok: boolean;
  /** The <success/> or <failure/> element. */
  element: Element;
  /** Failure condition (e.g. 'not-authorized', 'temporary-auth-failure'); undefined on success. */
  condition?: string;
  /** The stream features after the post-SASL restart (only on success). */
  features?: Element;
}

export class RawClient {
  /** Elements received and not yet taken by `waitFor` / `next`. */
  readonly inbox: Element[] = [];
  /** Every element received, in order (for diagnostics). */
  readonly received: Element[] = [];
  /** Attributes of the latest server stream header. */
  streamAttrs: Record<string, string> = {};
  /** The latest <stream:features/>. */
  features: Element | null = null;
  /** Full JID after `bind`. */
  jid = '';
  /** True once the server closed its stream (</stream:stream>) or the socket closed. */
  ended = false;
  /** True once the TCP/TLS socket is closed. */
  socketClosed = false;
  socket: net.Socket;
  readonly domain: string;
  readonly timeoutMs: number;
  private parser!: Parser;
  private waiters: Waiter[] = [];
  private endWaiters: (() => void)[] = [];
  private headerWaiters: (() => void)[] = [];
  private idCounter = 0;

  private constructor(
    socket: net.Socket,
    private readonly opts: RawClientOptions,
  ) {
    this.socket = socket;
    this.domain = opts.domain ?? 'localhost';
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.resetParser();
    this.attach(socket);
  }

  /** Opens TCP (or direct TLS) to the server; does not send a stream header. */
  static async connect(opts: RawClientOptions): Promise<RawClient> {
    const address = opts.address ?? '127.0.0.1';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      if (opts.directTls) {
        const s = tls.connect({
          host: address,
          port: opts.port,
          ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
          servername: opts.domain ?? 'localhost',
          rejectUnauthorized: false,
          ALPNProtocols: ['xmpp-client'],
          ...opts.tls,
        });
        s.once('secureConnect', () => resolve(s));
        s.once('error', reject);
      } else {
        const s = net.connect({
          host: address,
          port: opts.port,
          ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }
    });
    return new RawClient(socket, opts);
  }

  /** connect + openStream + STARTTLS (unless direct TLS) + SASL + bind. Throws when authentication fails. */
  static async login(opts: LoginOptions): Promise<RawClient> {
    const c = await RawClient.connect(opts);
    await c.openStream();
    if (!opts.directTls) await c.starttls();
    const r = await c.authenticate(opts.mechanism ?? 'SCRAM-SHA-1', opts.username, opts.password);
    if (!r.ok) {
      c.destroy();
      throw new Error(`authentication failed: ${r.condition}`);
    }
    if (!opts.noBind) await c.bind(opts.resource);
    return c;
  }

  get isTls(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** Sends raw bytes (a string is sent as UTF-8) or a serialized element. */
  send(data: string | Buffer | Element): void {
    this.socket.write(typeof data === 'string' || Buffer.isBuffer(data) ? data : data.toString());
  }

  /** Sends a stream header; `attrs` override or (with undefined) remove the defaults. */
  sendHeader(attrs: Record<string, string | undefined> = {}): void {
    const all: Record<string, string | undefined> = {
      to: this.domain,
      version: '1.0',
      'xml:lang': 'en',
      xmlns: 'jabber:client',
      'xmlns:stream': NS_STREAM,
      ...attrs,
    };
    const text = Object.entries(all)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => ` ${k}='${escapeAttr(v)}'`)
      .join('');
    this.send(`<?xml version='1.0'?><stream:stream${text}>`);
  }

  /** Sends a header and waits for the server's header and its <stream:features/> (RFC 6120 §4.3). */
  async openStream(attrs: Record<string, string | undefined> = {}, timeoutMs = this.timeoutMs): Promise<Element> {
    const header = this.waitForHeader(timeoutMs);
    this.sendHeader(attrs);
    await header;
    const features = await this.waitFor((el) => el.is('features', NS_STREAM), timeoutMs);
    this.features = features;
    return features;
  }

  /** Resolves when the next server stream header has been read. */
  waitForHeader(timeoutMs = this.timeoutMs): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => this.headerWaiters.push(resolve)),
      timeoutMs,
      'no stream header from the server',
    );
  }

  /** Names of the SASL mechanisms in the latest features. */
  get mechanisms(): string[] {
    const m = this.features?.getChild('mechanisms', NS_SASL);
    return m ? m.getChildren('mechanism').map((x) => x.getText()) : [];
  }

  /** RFC 6120 §5.4: <starttls/>, <proceed/>, TLS handshake, stream restart; resolves with the new features. */
  async starttls(tlsOpts: tls.ConnectionOptions = {}): Promise<Element> {
    this.send(`<starttls xmlns='${NS_TLS}'/>`);
    const answer = await this.waitFor((el) => el.getNS() === NS_TLS);
    if (!answer.is('proceed')) throw new Error(`STARTTLS refused: ${answer.toString()}`);
    await this.upgradeTls(tlsOpts);
    return this.openStream();
  }

  /** Wraps the current TCP socket in TLS (after <proceed/>). */
  async upgradeTls(tlsOpts: tls.ConnectionOptions = {}): Promise<void> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        socket: raw,
        servername: this.domain,
        rejectUnauthorized: false,
        ...this.opts.tls,
        ...tlsOpts,
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    this.socket = secure;
    this.resetParser();
    this.attach(secure);
  }

  /**
   * Channel binding data as the client computes it: RFC 9266 tls-exporter (32 bytes of exported keying material),
   * or RFC 5929 §4.1 tls-server-end-point (hash of the server certificate; SHA-256 for SHA-1/MD5 signatures).
   */
  channelBinding(type: ChannelBindingType): Buffer {
    if (!(this.socket instanceof tls.TLSSocket)) throw new Error('channel binding needs TLS');
    if (type === 'tls-exporter')
      return this.socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    const cert = this.socket.getPeerCertificate();
    const hash = endPointHashName(cert.raw);
    return createHash(hash).update(cert.raw).digest();
  }

  /** The channel binding type a -PLUS mechanism uses by default: tls-exporter on TLS 1.3, else end-point. */
  defaultBindingType(): ChannelBindingType {
    const proto = this.socket instanceof tls.TLSSocket ? this.socket.getProtocol() : null;
    return proto === 'TLSv1.3' ? 'tls-exporter' : 'tls-server-end-point';
  }

  /**
   * Runs one SASL exchange (RFC 6120 §6.4). On success it also restarts the stream and reads the new features.
   * `cbType` chooses the channel binding for -PLUS mechanisms. Does not throw on <failure/>.
   */
  async authenticate(
    mechanism: SaslMechanismName,
    username: string,
    password: string,
    opts: ScramOptions = {},
  ): Promise<AuthResult> {
    let final: Element;
    if (mechanism === 'PLAIN') {
      const msg = Buffer.from(`${opts.authzid ?? ''}\0${username}\0${password}`, 'utf8').toString('base64');
      this.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${msg}</auth>`);
      final = await this.waitFor(isSaslEnd);
    } else {
      final = await this.scram(mechanism, username, password, opts);
    }
    if (!final.is('success')) {
      const condition = final.getChildElements()[0]?.name;
      return condition === undefined ? { ok: false, element: final } : { ok: false, element: final, condition };
    }
    const features = await this.openStream();
    return { ok: true, element: final, features };
  }

  private async scram(
    mechanism: Exclude<SaslMechanismName, 'PLAIN'>,
    username: string,
    password: string,
    opts: ScramOptions,
  ): Promise<Element> {
    const hash: ScramClientHash = mechanism.startsWith('SCRAM-SHA-256') ? 'sha256' : 'sha1';
    const plus = mechanism.endsWith('-PLUS');
    const cbType = opts.cbType ?? this.defaultBindingType();
    // RFC 5802 §6: 'p=' when binding; 'y' when the client could bind but the server offered no -PLUS.
    const flag = plus ? { p: cbType } : this.isTls && !this.mechanisms.some((m) => m.endsWith('-PLUS')) ? 'y' : 'n';
    const scram = new ScramClient({
      username,
      password,
      hash,
      gs2Header: gs2Header(flag, opts.authzid),
      ...(plus ? { cbindData: opts.cbData ?? this.channelBinding(cbType) } : {}),
    });
    const first = Buffer.from(scram.clientFirst(), 'utf8').toString('base64');
    this.send(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${first}</auth>`);
    const challenge = await this.waitFor((el) => el.is('challenge', NS_SASL) || isSaslEnd(el));
    if (!challenge.is('challenge')) return challenge;
    const serverFirst = Buffer.from(challenge.getText(), 'base64').toString('utf8');
    const clientFinal = Buffer.from(scram.clientFinal(serverFirst), 'utf8').toString('base64');
    this.send(`<response xmlns='${NS_SASL}'>${clientFinal}</response>`);
    const end = await this.waitFor(isSaslEnd);
    if (end.is('success')) {
      // RFC 6120 §6.3.10: the server's additional data with success carries v= (mutual authentication).
      scram.verifyServerFinal(Buffer.from(end.getText(), 'base64').toString('utf8'));
    }
    return end;
  }

  /** RFC 6120 §7: binds `resource` (server-generated when empty); resolves with the full JID. */
  async bind(resource?: string): Promise<string> {
    const inner = resource ? `<resource>${escapeText(resource)}</resource>` : '';
    const res = await this.iq(`<iq type='set' id='ID'><bind xmlns='${NS_BIND}'>${inner}</bind></iq>`);
    if (res.attrs.type !== 'result') throw new Error(`bind failed: ${res.toString()}`);
    this.jid = res.getChild('bind', NS_BIND)?.getChildText('jid') ?? '';
    return this.jid;
  }

  /** A fresh stanza id. */
  nextId(): string {
    this.idCounter++;
    return `raw${this.idCounter}-${randomBytes(3).toString('hex')}`;
  }

  /**
   * Sends an iq and waits for the result or error with the same id. In a string, the literal `id='ID'` is
   * replaced by a fresh id; an iq without an id gets one.
   */
  async iq(stanza: string, timeoutMs = this.timeoutMs): Promise<Element> {
    const id = this.nextId();
    let text = stanza.includes("id='ID'") ? stanza.replace("id='ID'", `id='${id}'`) : stanza;
    if (!/^<iq\b[^>]*\sid=/.test(text)) text = text.replace(/^<iq\b/, `<iq id='${id}'`);
    const realId = /^<iq\b[^>]*\sid='([^']*)'/.exec(text)?.[1] ?? /^<iq\b[^>]*\sid="([^"]*)"/.exec(text)?.[1] ?? id;
    this.send(text);
    return this.waitFor(
      (el) => el.is('iq') && el.attrs.id === realId && (el.attrs.type === 'result' || el.attrs.type === 'error'),
      timeoutMs,
    );
  }

  /**
   * Waits for the first element (already received or still to come) that satisfies `pred` and removes it from
   * the inbox. Rejects after `timeoutMs`, or as soon as the stream ends without a match, listing what did arrive.
   */
  waitFor(pred: (el: Element) => boolean, timeoutMs = this.timeoutMs): Promise<Element> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    // Nothing more can arrive once the stream or the connection is over: fail at once rather than time out.
    if (this.ended) return Promise.reject(new Error(`the stream has ended; ${this.describeInbox()}`));
    let waiter: Waiter | undefined;
    const p = new Promise<Element>((resolve, reject) => {
      waiter = { pred, resolve, reject };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeoutMs, () => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      return `no matching element within ${timeoutMs} ms; ${this.describeInbox()}`;
    });
  }

  private describeInbox(): string {
    return `inbox: ${this.inbox.map((e) => e.toString()).join(' ') || '(empty)'}`;
  }

  /** The next element of any kind. */
  next(timeoutMs = this.timeoutMs): Promise<Element> {
    return this.waitFor(() => true, timeoutMs);
  }

  /** Waits for a <stream:error/> and resolves with its condition (e.g. 'conflict', 'not-authorized'). */
  async waitForStreamError(timeoutMs = this.timeoutMs): Promise<string> {
    const el = await this.waitFor((e) => e.is('error', NS_STREAM), timeoutMs);
    return el.getChildElements().find((c) => c.getNS() === NS_STREAMS && c.name !== 'text')?.name ?? '';
  }

  /** Asserts that nothing matching `pred` arrives within `ms` (for "no reply" checks). */
  async expectNothing(pred: (el: Element) => boolean = () => true, ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const hit = this.inbox.find(pred);
    if (hit) throw new Error(`unexpected element: ${hit.toString()}`);
  }

  /** Resolves when the server has ended the stream or the socket closed. */
  waitForEnd(timeoutMs = this.timeoutMs): Promise<void> {
    if (this.ended) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => this.endWaiters.push(resolve)),
      timeoutMs,
      'the server did not close the stream',
    );
  }

  /** Closes our stream (</stream:stream>) and waits for the server to close as well (RFC 6120 §4.4). */
  async close(timeoutMs = this.timeoutMs): Promise<void> {
    if (!this.socketClosed && !this.socket.destroyed) this.socket.write('</stream:stream>');
    try {
      await this.waitForEnd(timeoutMs);
    } finally {
      this.destroy();
    }
  }

  /** Drops the TCP connection at once, without closing the stream. */
  destroy(): void {
    this.socket.destroy();
  }

  private resetParser(): void {
    const parser = new Parser();
    parser.on('start', (el) => {
      this.streamAttrs = { ...el.attrs };
      for (const w of this.headerWaiters.splice(0)) w();
    });
    parser.on('element', (el) => this.deliver(el));
    parser.on('end', () => this.markEnded());
    parser.on('error', (err) => this.deliver(syntheticError(err.message)));
    this.parser = parser;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      // The parser in use may change while a chunk is parsed (restart after <success/>); the server sends
      // nothing after <success/> or <proceed/> until we send a new header, so a chunk never spans a restart.
      this.parser.write(chunk.toString('utf8'));
    });
    socket.on('error', () => {
      // A reset from the server shows up as 'close' as well; tests assert on that.
    });
    socket.on('close', () => {
      this.socketClosed = true;
      this.markEnded();
    });
  }

  private deliver(el: Element): void {
    this.received.push(el);
    // RFC 6120 §6.4.6: after <success/> the next header starts a new stream, so the parser starts over.
    if (el.is('success', NS_SASL)) this.resetParser();
    const i = this.waiters.findIndex((w) => w.pred(el));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(el);
      return;
    }
    this.inbox.push(el);
  }

  private markEnded(): void {
    this.ended = true;
    for (const w of this.endWaiters.splice(0)) w();
    for (const w of this.waiters.splice(0))
      w.reject(new Error(`the stream ended while waiting; ${this.describeInbox()}`));
  }
}

interface Waiter {
  pred: (el: Element) => boolean;
  resolve: (el: Element) => void;
  reject: (err: Error) => void;
}

function isSaslEnd(el: Element): boolean {
  return el.getNS() === NS_SASL && (el.name === 'success' || el.name === 'failure');
}

/** A parse error is surfaced as <parse-error xmlns='urn:test'/> in the inbox, so tests can see it. */
function syntheticError(message: string): Element {
  const p = new Parser();
  let out: Element | undefined;
  p.on('start', (el) => {
    out = el;
  });
  p.write(`<parse-error xmlns='urn:test' message='${escapeAttr(message)}'>`);
  return out!;
}

/** RFC 5929 §4.1: the certificate's signature hash, with MD5 and SHA-1 replaced by SHA-256. */
function endPointHashName(der: Buffer): string {
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature } (RFC 5280).
  const cert = readTlv(der, 0);
  const tbs = readTlv(der, cert.start);
  const alg = readTlv(der, tbs.end);
  const oid = readTlv(der, alg.start);
  const hex = der.subarray(oid.start, oid.end).toString('hex');
  // sha{384,512}WithRSAEncryption 1.2.840.113549.1.1.{12,13}; ecdsa-with-SHA{384,512} 1.2.840.10045.4.3.{3,4}.
  if (hex === '2a864886f70d01010c' || hex === '2a8648ce3d040303') return 'sha384';
  if (hex === '2a864886f70d01010d' || hex === '2a8648ce3d040304') return 'sha512';
  return 'sha256';
}

/** One DER TLV at `at`: content spans [start, end). */
function readTlv(der: Buffer, at: number): { start: number; end: number } {
  let len = der[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  return { start, end: start + len };
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(typeof message === 'string' ? message : message())), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
