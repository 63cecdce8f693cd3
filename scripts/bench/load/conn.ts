// One client connection of the load generator: raw TCP, STARTTLS, SCRAM-SHA-1, bind, initial presence; or, in
// relay mode, a direct TLS connection that registers an id with the relay. After login, every received
// element goes to `onStanza`, with `recvAt` set to the arrival time of the chunk that carried it.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { ScramSha1Client } from '../scram.js';
import { attr, childText, elementName, type ScanSink, StanzaScanner } from '../xml-scan.js';

export interface Target {
  mode: 'xmpp' | 'relay';
  host: string;
  port: number;
  domain: string;
  password: string;
  /** Loopback source addresses used in turn, so that many connections never run out of ephemeral ports. */
  sourceAddresses: string[];
}

const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
const LOGIN_TIMEOUT_MS = 60_000;

let nextSource = 0;

interface Waiter {
  match: (xml: string) => boolean;
  what: string;
  resolve: (xml: string) => void;
  reject: (err: Error) => void;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

function named(xml: string, want: string): boolean {
  const n = elementName(xml);
  return n === want || n.endsWith(`:${want}`);
}

export class Conn implements ScanSink {
  socket: net.Socket | null = null;
  jid = '';
  tlsProtocol = '';
  /** Arrival time (performance.now()) of the chunk being scanned. */
  recvAt = 0;
  closed = false;
  onStanza: ((conn: Conn, xml: string) => void) | null = null;
  private readonly scanner: StanzaScanner;
  private waiter: Waiter | null = null;
  /** Elements that arrived during negotiation before anyone waited for them (they come in one chunk). */
  private readonly backlog: string[] = [];
  private bound = false;
  private closeWaiters: (() => void)[] = [];

  constructor(
    readonly target: Target,
    readonly user: string,
    /** Position of this connection in its scenario (the relay uses it as the address). */
    readonly index: number,
  ) {
    this.scanner = new StanzaScanner(this, target.mode === 'relay');
  }

  header(tag: string): void {
    this.deliver(tag);
  }

  stanza(xml: string): void {
    this.deliver(xml);
  }

  end(): void {
    this.fail(new Error('stream closed by the server'));
  }

  write(data: string | Buffer): void {
    if (!this.closed) this.socket?.write(data);
  }

  /** Full XMPP login; `presence` sends initial presence and waits until the server has processed it. */
  async login(opts: { presence: boolean; resource: string }): Promise<void> {
    const timer = setTimeout(() => this.fail(new Error(`login of ${this.user} timed out`)), LOGIN_TIMEOUT_MS);
    try {
      await this.connectTcp();
      let features = await this.openStream();
      if (!features.includes(NS_TLS)) throw new Error('the server offers no STARTTLS');
      this.write(`<starttls xmlns='${NS_TLS}'/>`);
      await this.expect((x) => named(x, 'proceed'), 'proceed');
      await this.upgrade();
      features = await this.openStream();
      if (!features.includes('>SCRAM-SHA-1<')) throw new Error('the server offers no SCRAM-SHA-1');
      await this.authenticate();
      features = await this.openStream();
      this.write(`<iq type='set' id='bind'><bind xmlns='${NS_BIND}'><resource>${opts.resource}</resource></bind></iq>`);
      const bound = await this.expect((x) => named(x, 'iq') && attr(x, 'id') === 'bind', 'bind result');
      if (attr(bound, 'type') !== 'result') throw new Error(`bind failed: ${bound.slice(0, 300)}`);
      this.jid = childText(bound, 'jid') ?? `${this.user}@${this.target.domain}/${opts.resource}`;
      if (sessionRequired(features)) {
        this.write(`<iq type='set' id='sess'><session xmlns='${NS_SESSION}'/></iq>`);
        await this.expect((x) => named(x, 'iq') && attr(x, 'id') === 'sess', 'session result');
      }
      this.bound = true;
      if (opts.presence) {
        // Processing is in order (RFC 6120 §10.1): the ping's answer means the presence was handled too.
        this.write(
          `<presence/><iq type='get' id='ready' to='${this.target.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`,
        );
        await this.expect((x) => named(x, 'iq') && attr(x, 'id') === 'ready', 'ping result');
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Relay mode: direct TLS, then a hello frame carrying this connection's index; the relay answers <ok/>. */
  async connectRelay(): Promise<void> {
    await this.connectTcp();
    await this.upgrade();
    const hello = Buffer.alloc(8);
    hello.writeUInt32BE(0, 0);
    hello.writeUInt32BE(this.index, 4);
    this.write(hello);
    await this.expect((x) => named(x, 'ok'), 'relay ok');
    this.bound = true;
  }

  /** Ends the stream and resolves once the socket is closed (or after a grace period). */
  close(): Promise<void> {
    if (this.closed || !this.socket) {
      this.closed = true;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.closeWaiters.push(resolve);
      const socket = this.socket!;
      if (this.target.mode === 'xmpp') socket.end('</stream:stream>');
      else socket.end();
      setTimeout(() => socket.destroy(), 3000).unref();
    });
  }

  private source(): string {
    const list = this.target.sourceAddresses;
    return list[nextSource++ % list.length] ?? '127.0.0.1';
  }

  private connectTcp(): Promise<void> {
    const { host, port } = this.target;
    const socket = net.connect({ host, port, localAddress: this.source() });
    socket.setNoDelay(true);
    this.socket = socket;
    this.attach(socket);
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
  }

  private upgrade(): Promise<void> {
    const raw = this.socket!;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    this.scanner.reset();
    const socket = tls.connect({ socket: raw, servername: this.target.domain, rejectUnauthorized: false });
    this.socket = socket;
    this.attach(socket);
    return new Promise((resolve, reject) => {
      socket.once('secureConnect', () => {
        this.tlsProtocol = socket.getProtocol() ?? '';
        resolve();
      });
      socket.once('error', reject);
    });
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.recvAt = performance.now();
      this.scanner.push(chunk.toString('latin1'));
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      this.fail(new Error('connection closed'));
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  private async openStream(): Promise<string> {
    this.scanner.reset();
    this.write(
      `<?xml version='1.0'?><stream:stream to='${this.target.domain}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
    );
    await this.expect((x) => named(x, 'stream'), 'stream header');
    return this.expect((x) => named(x, 'features'), 'stream features');
  }

  private async authenticate(): Promise<void> {
    const scram = new ScramSha1Client(this.user, this.target.password);
    this.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`);
    const challenge = await this.expect((x) => named(x, 'challenge'), 'SASL challenge');
    const final = await scram.final(unb64(childText(challenge, 'challenge') ?? ''));
    this.write(`<response xmlns='${NS_SASL}'>${b64(final)}</response>`);
    const success = await this.expect((x) => named(x, 'success'), 'SASL success');
    if (!scram.verify(unb64(childText(success, 'success') ?? ''))) throw new Error('server signature mismatch');
  }

  private expect(match: (xml: string) => boolean, what: string): Promise<string> {
    for (let early = this.backlog.shift(); early !== undefined; early = this.backlog.shift()) {
      if (match(early)) return Promise.resolve(early);
      if (!this.bound) return Promise.reject(new Error(`expected ${what}, got ${early.slice(0, 300)}`));
      this.onStanza?.(this, early);
    }
    if (this.closed) return Promise.reject(new Error(`connection closed before ${what}`));
    return new Promise((resolve, reject) => {
      this.waiter = { match, what, resolve, reject };
    });
  }

  private deliver(xml: string): void {
    const w = this.waiter;
    if (w) {
      if (w.match(xml)) {
        this.waiter = null;
        w.resolve(xml);
        return;
      }
      if (!this.bound) {
        this.waiter = null;
        w.reject(new Error(`expected ${w.what}, got ${xml.slice(0, 300)}`));
        return;
      }
    }
    if (!w && !this.bound) this.backlog.push(xml);
    else if (this.onStanza) this.onStanza(this, xml);
  }

  private fail(err: Error): void {
    const first = !this.closed;
    this.closed = true;
    const w = this.waiter;
    this.waiter = null;
    if (w) w.reject(err);
    if (first) this.socket?.destroy();
  }
}

/** RFC 6121 Appendix E: a session element with <optional/> needs no session request; an empty one does. */
function sessionRequired(features: string): boolean {
  const k = features.indexOf(NS_SESSION);
  if (k < 0) return false;
  const gt = features.indexOf('>', k);
  if (features.charCodeAt(gt - 1) === 0x2f) return true;
  const close = features.indexOf('</session>', gt);
  return !features.slice(gt, close < 0 ? undefined : close).includes('optional');
}
