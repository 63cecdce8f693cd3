// A raw server-to-server peer for bad-input tests: it sends exactly the bytes a test wants on an s2s stream
// (RFC 6120 'jabber:server' streams with the dialback prefix declared, XEP-0220) and keeps everything received,
// so a test can assert the stream errors, dialback answers and SASL outcomes the server sends back.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Element } from '../../server/xml/element.js';
import { XmlFramer } from '../../server/xml/framer.js';
import { NS } from '../../server/xml/ns.js';
import type { StreamErrorSeen } from './raw-stream.js';

export interface PeerTls {
  /** Our certificate and key as a TLS client (for SASL EXTERNAL); none = no client certificate. */
  cert?: string;
  key?: string;
  servername: string;
}

export class S2sPeer {
  text = '';
  readonly headers: Record<string, string>[] = [];
  readonly elements: Element[] = [];
  streamClosed = false;
  socketClosed = false;
  parseError: string | null = null;
  private framer: XmlFramer;
  private readonly waiters = new Set<() => void>();

  private constructor(public socket: Socket) {
    this.framer = this.makeFramer();
    this.listen(socket);
  }

  static async connect(port: number): Promise<S2sPeer> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new S2sPeer(socket);
  }

  private makeFramer(): XmlFramer {
    return new XmlFramer(
      { maxStanzaBytes: 1 << 20, maxDepth: 64, maxAttributes: 64 },
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
    socket.on('error', () => this.wake());
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(data: string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  waitFor<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 5000): Promise<T> {
    const first = check();
    if (first) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const r = check();
        if (r) {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}; received: ${this.text.slice(-600)}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  waitElement(pred: (el: Element) => boolean, what: string, from = 0, timeoutMs = 5000): Promise<Element> {
    return this.waitFor(() => this.elements.slice(from).find(pred), what, timeoutMs);
  }

  waitClosed(timeoutMs = 5000): Promise<true> {
    return this.waitFor(() => this.socketClosed, 'the TCP close', timeoutMs);
  }

  /** An initial stream header (RFC 6120 §4.7) as a server sends it, with the dialback prefix (XEP-0220 §2.4.1). */
  async open(from: string, to: string): Promise<Element> {
    const start = this.elements.length;
    this.framer.reset();
    this.send(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:db='${NS.DIALBACK}' xmlns:stream='${NS.STREAM}' from='${from}' to='${to}' version='1.0'>`,
    );
    return this.waitElement((el) => el.name === 'stream:features' || el.name === 'stream:error', 'features', start);
  }

  /** RFC 6120 §5.4.2 from the initiating side, optionally presenting a client certificate. */
  async startTls(opts: PeerTls): Promise<void> {
    const start = this.elements.length;
    this.send(`<starttls xmlns='${NS.TLS}'/>`);
    await this.waitElement((el) => el.name === 'proceed', '<proceed/>', start);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false, ...opts });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    raw.removeAllListeners('error');
    raw.on('error', () => this.wake());
    this.socket = secure;
    this.framer = this.makeFramer();
    this.listen(secure);
  }

  /** The stream error received, if any. */
  streamError(): StreamErrorSeen | undefined {
    const el = this.elements.find((e) => e.name === 'stream:error');
    if (!el) return undefined;
    const cond = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS_ERR && c.name !== 'text');
    return { condition: cond?.name ?? '(none)', text: el.getChildText('text', NS.STREAMS_ERR) ?? undefined };
  }

  destroy(): void {
    this.socket.destroy();
  }
}
