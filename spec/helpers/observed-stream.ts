// What the raw client stream and the raw s2s peer share: a socket whose bytes are all kept (text, parsed top-level
// elements, stream close, TCP close), waits re-evaluated whenever something arrives, and the switch of the same
// TCP connection to TLS after <proceed/> (RFC 6120 §5.4.3.3).
import type { Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import type { Element } from '../../server/xml/element.js';
import { XmlFramer } from '../../server/xml/framer.js';
import { NS } from '../../server/xml/ns.js';

export interface StreamErrorSeen {
  condition: string;
  text: string | undefined;
}

export abstract class ObservedStream {
  /** Every decoded byte received on the current transport (reset by a TLS upgrade). */
  text = '';
  /** Stream headers received, in order. */
  readonly headers: Record<string, string>[] = [];
  /** Top-level elements received, in order, across restarts and transports. */
  readonly elements: Element[] = [];
  /** The other side sent '</stream:stream>'. */
  streamClosed = false;
  /** The transport closed (TCP FIN or reset). */
  socketClosed = false;
  /** Set when the other side's output could not be parsed. */
  parseError: string | null = null;
  protected framer: XmlFramer;
  private readonly waiters = new Set<() => void>();

  protected constructor(
    public socket: Socket,
    private readonly maxStanzaBytes: number,
  ) {
    this.framer = this.makeFramer();
    this.listen(socket);
  }

  private makeFramer(): XmlFramer {
    return new XmlFramer(
      { maxStanzaBytes: this.maxStanzaBytes, maxDepth: 64, maxAttributes: 64 },
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
    // A reset by the other side is an expected outcome in these tests; 'close' records it.
    socket.on('error', () => this.wake());
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
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

  /** Wraps the current socket in TLS; whatever arrives afterwards is read through TLS with a fresh parser. */
  protected async upgradeSocket(opts: ConnectionOptions): Promise<void> {
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
    this.text = '';
    this.framer = this.makeFramer();
    this.listen(secure);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
