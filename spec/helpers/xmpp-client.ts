// Sessions of a real client library (@xmpp/client, xmpp.js 0.14) against a test server (DESIGN §8, item 5).
//
// Certificate trust: xmpp.js 0.14 passes no TLS options through (STARTTLS upgrades with `{ socket, host }` only),
// so rather than turning verification off for the whole process (NODE_TLS_REJECT_UNAUTHORIZED=0), this helper
// adds the test servers' self-signed certificates as trusted CAs to the TLS sockets that xmpp.js itself opens.
// Verification stays on: the certificate must still chain to a trusted one and name the domain.
import { pbkdf2 } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { type ClientOptions, client, type XmppClient, xml } from '@xmpp/client';
import XmppTlsSocket from '@xmpp/tls/lib/Socket.js';
import type { Element } from 'ltx';

export type { Element, XmppClient };
export { xml };

// SCRAM-SHA-1 in xmpp.js (package sasl-scram-sha-1) computes Hi(password, salt, i) (RFC 5802 §2.2) as 2 × i
// WebCrypto calls, each a round trip through the libuv thread pool: about 0.8 s per login at i = 4096 on an idle
// machine and many seconds on a loaded 2-core one, enough to push tests past their timeouts. Hi is PBKDF2 with
// HMAC-SHA-1 and a 20-byte output (RFC 5802 §2.2), which node computes natively in one call: the same bytes.
type HiFn = (text: string, salt: Uint8Array, iterations: number) => Promise<Uint8Array>;
// Resolved along the dependency chain, so that it is the very module the client loads.
const xmppClientFile = createRequire(import.meta.url).resolve('@xmpp/client');
const scramMechFile = createRequire(xmppClientFile).resolve('@xmpp/sasl-scram-sha-1');
const scramBitops = createRequire(scramMechFile)('sasl-scram-sha-1/lib/bitops.js') as { Hi: HiFn };
if (typeof scramBitops.Hi !== 'function') throw new Error('sasl-scram-sha-1 no longer exports Hi: revisit this patch');
const webCryptoHi = scramBitops.Hi;
scramBitops.Hi = (text, salt, iterations) =>
  // The library refuses an empty password (a zero-length HMAC key): keep its behaviour there.
  text === ''
    ? webCryptoHi(text, salt, iterations)
    : new Promise((resolve, reject) =>
        pbkdf2(text, salt, iterations, 20, 'sha1', (err, key) => (err ? reject(err) : resolve(new Uint8Array(key)))),
      );

const trusted = new Set<string>();
/** Certificate per server port: every test server's self-signed certificate has the same subject (CN=localhost)
 * and no key identifiers, so with several of them as CAs OpenSSL may pick the wrong one; trust the right one. */
const byPort = new Map<number, string>();
let patched = false;

/** Trusts the self-signed certificate a test server generated in its data directory (for that port, if given). */
export function trustServerCertificate(dataDir: string, port?: number): void {
  trustCertificate(readFileSync(join(dataDir, 'tls', 'selfsigned.crt'), 'utf8'), port);
}

/** Trusts `pem` (a CA, or a self-signed server certificate) as a root, for the server on that port if given. */
export function trustCertificate(pem: string, port?: number): void {
  trusted.add(pem);
  if (port !== undefined) byPort.set(port, pem);
  if (patched) return;
  patched = true;
  const connect = XmppTlsSocket.prototype.connect;
  XmppTlsSocket.prototype.connect = function (this: unknown, options: ConnectionOptions) {
    // Direct TLS dials 127.0.0.1: name the XMPP domain for SNI and for the identity check (RFC 6125 / RFC 7590).
    const servername = options.servername ?? (options.host && isIP(options.host) ? 'localhost' : options.host);
    // STARTTLS upgrades an existing socket (its remote port names the server); direct TLS dials options.port.
    const port = options.port ?? (options.socket as { remotePort?: number } | undefined)?.remotePort;
    const pem = port === undefined ? undefined : byPort.get(port);
    const ca = pem === undefined ? [...trusted] : [pem];
    return connect.call(this, { ...options, ...(servername ? { servername } : {}), ca });
  };
}

export interface ClientSessionOptions {
  /** Test server port: the STARTTLS port, or the direct TLS port with `directTls`. */
  port: number;
  /** Data directory of the server, for its self-signed certificate (or give `caPem`). */
  dataDir?: string;
  /** PEM to trust for this server instead of a test server's self-signed certificate (e.g. a test CA). */
  caPem?: string;
  /** Address to connect to (default 127.0.0.1), e.g. a real peer's own 127.0.0.x. */
  host?: string;
  username: string;
  password: string;
  domain?: string;
  resource?: string;
  /** Force a mechanism; by default xmpp.js picks (SCRAM-SHA-1 over TLS). */
  mechanism?: 'SCRAM-SHA-1' | 'PLAIN';
  directTls?: boolean;
  /**
   * Let xmpp.js enable XEP-0198 stream management (with resumption), as it does whenever the server offers it.
   * Off unless asked for: the specs of other features expect a plain stream (e.g. RFC 6121 §4.5.2 unavailable
   * presence at once on a dropped connection, where a resumable session hibernates), and xmpp.js 0.14 zeroes
   * its inbound count only after handling the rest of the TCP read that carried <enabled/>, so it under-counts
   * now and then; the server then rightly keeps those stanzas unacknowledged and stores them offline at the end.
   */
  streamManagement?: boolean;
}

/** A started @xmpp/client plus an inbox of received stanzas, so tests can await what they expect. */
export class ClientSession {
  readonly inbox: Element[] = [];
  readonly errors: Error[] = [];
  private waiters: { pred: (el: Element) => boolean; resolve: (el: Element) => void }[] = [];

  constructor(readonly xmpp: XmppClient) {
    xmpp.on('stanza', (el: Element) => {
      const i = this.waiters.findIndex((w) => w.pred(el));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(el);
      else this.inbox.push(el);
    });
    xmpp.on('error', (err: Error) => this.errors.push(err));
  }

  get jid(): string {
    return this.xmpp.jid?.toString() ?? '';
  }

  send(el: Element): Promise<void> {
    return this.xmpp.send(el);
  }

  /** Sends an iq get/set and resolves with the result (rejects with the StanzaError on type='error'). */
  request(el: Element, timeoutMs = 5000): Promise<Element> {
    return this.xmpp.iqCaller.request(el, timeoutMs);
  }

  /** First received stanza (already buffered or still to come) matching `pred`. */
  waitFor(pred: (el: Element) => boolean, timeoutMs = 5000): Promise<Element> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    let timer: NodeJS.Timeout | undefined;
    let waiter: { pred: (el: Element) => boolean; resolve: (el: Element) => void } | undefined;
    return new Promise<Element>((resolve, reject) => {
      waiter = {
        pred,
        resolve: (el) => {
          clearTimeout(timer);
          resolve(el);
        },
      };
      this.waiters.push(waiter);
      timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.jid}: no matching stanza within ${timeoutMs} ms; inbox: ${this.inbox.join(' ')}`));
      }, timeoutMs);
    });
  }

  /** Resolves on the next 'offline'/'disconnect' status. */
  waitForDisconnect(timeoutMs = 5000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.xmpp.status === 'disconnect' || this.xmpp.status === 'offline') return resolve();
      const timer = setTimeout(() => reject(new Error(`${this.jid} was not disconnected`)), timeoutMs);
      this.xmpp.on('status', (s: string) => {
        if (s === 'disconnect' || s === 'offline') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.xmpp.reconnect.stop();
    if (this.xmpp.status === 'offline' || this.xmpp.status === 'disconnect') return;
    try {
      await this.xmpp.stop();
    } catch (err) {
      // The server may already have closed the stream (e.g. after a conflict); that is not a test failure.
      this.errors.push(err as Error);
    }
  }
}

/** Starts an @xmpp/client session and resolves once it is online (bound). Rejects if login fails. */
export async function startClient(opts: ClientSessionOptions): Promise<ClientSession> {
  if (opts.caPem !== undefined) trustCertificate(opts.caPem, opts.port);
  else if (opts.dataDir !== undefined) trustServerCertificate(opts.dataDir, opts.port);
  else throw new Error('startClient needs dataDir or caPem');
  const domain = opts.domain ?? 'localhost';
  const host = opts.host ?? '127.0.0.1';
  const params: ClientOptions = {
    service: opts.directTls ? `xmpps://${host}:${opts.port}` : `xmpp://${host}:${opts.port}`,
    domain,
    timeout: 5000,
  };
  if (opts.resource !== undefined) params.resource = opts.resource;
  const { username, password, mechanism } = opts;
  if (mechanism) {
    params.credentials = (authenticate) => authenticate({ username, password }, mechanism);
  } else {
    params.username = username;
    params.password = password;
  }
  const xmpp = client(params);
  // Tests decide about reconnection themselves.
  xmpp.reconnect.stop();
  if (opts.streamManagement !== true) {
    // Runs before xmpp.js's own 'element' listener (its middleware), so that it never sees the <sm/> feature.
    xmpp.prependListener('element', (el: Element) => {
      if (el.is('features', 'http://etherx.jabber.org/streams')) el.remove('sm', 'urn:xmpp:sm:3');
    });
  }
  const session = new ClientSession(xmpp);
  try {
    await xmpp.start();
  } catch (err) {
    await session.stop();
    throw err;
  }
  return session;
}
