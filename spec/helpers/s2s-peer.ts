// A raw server-to-server peer for bad-input tests: it sends exactly the bytes a test wants on an s2s stream
// (RFC 6120 'jabber:server' streams with the dialback prefix declared, XEP-0220) and keeps everything received,
// so a test can assert the stream errors, dialback answers and SASL outcomes the server sends back.
import { connect as netConnect, type Socket } from 'node:net';
import type { Element } from '../../server/xml/element.js';
import { NS } from '../../server/xml/ns.js';
import { ObservedStream } from './observed-stream.js';

export interface PeerTls {
  /** Our certificate and key as a TLS client (for SASL EXTERNAL); none = no client certificate. */
  cert?: string;
  key?: string;
  servername: string;
}

export class S2sPeer extends ObservedStream {
  private constructor(socket: Socket) {
    super(socket, 1 << 20);
  }

  static async connect(port: number): Promise<S2sPeer> {
    const socket = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new S2sPeer(socket);
  }

  waitElement(pred: (el: Element) => boolean, what: string, from = 0, timeoutMs = 5000): Promise<Element> {
    return this.waitFor(() => this.elements.slice(from).find(pred), what, timeoutMs);
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
    await this.upgradeSocket(opts);
  }
}
