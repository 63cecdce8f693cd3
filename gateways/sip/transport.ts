// SIP transports (RFC 3261 §18): UDP, TCP and TLS listeners and client connections. Datagrams are parsed whole;
// streams are framed by Content-Length (framing.ts). A response to a request received over a stream goes back on
// the same connection (§18.2.2); client connections are reused per remote address. The transport neither retries
// nor interprets: the transaction layer (transaction.ts) does that.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { Logger } from 'pino';
import { SipStreamFramer } from './framing.js';
import { DEFAULT_LIMITS, parseDatagram, type SipLimits, type SipMessage, SipParseError, serialize } from './message.js';

export type TransportName = 'udp' | 'tcp' | 'tls';

/** A transport address: where a message comes from or goes to. */
export interface Endpoint {
  readonly transport: TransportName;
  readonly address: string;
  readonly port: number;
  /** The host name the address was resolved from: TLS checks the certificate against it (RFC 5922 §7.1). */
  readonly host?: string;
}

/** An endpoint plus, for streams, the connection a message arrived on (responses must use it, §18.2.2). */
export interface Flow extends Endpoint {
  readonly connection?: number;
}

export interface ListenSpec extends Endpoint {
  /** PEM key and certificate for a TLS listener. */
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
}

export interface TransportOptions {
  readonly listen: readonly ListenSpec[];
  /** Address for the UDP socket bound when no UDP listener is configured (client use only). */
  readonly clientAddress: string;
  readonly limits?: SipLimits;
  /** TLS client settings: extra CA and whether to verify the server certificate. */
  readonly tlsClient?: { readonly ca?: Buffer; readonly rejectUnauthorized: boolean };
  readonly connectTimeoutMs: number;
  /** Stream connections with no traffic for this long are closed. */
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly log: Logger;
}

export interface TransportHandler {
  message(m: SipMessage, source: Flow): void;
  /** A message that failed to parse; answer it when `err.head` allows (the transport then closes fatal streams). */
  invalid(err: SipParseError, source: Flow): void;
}

interface Connection {
  readonly id: number;
  readonly socket: Socket | TLSSocket;
  readonly remote: Endpoint;
  readonly key: string;
}

const keyOf = (e: Endpoint) => `${e.transport}:${e.address}:${e.port}`;

export class SipTransport {
  private udp: UdpSocket | null = null;
  private udpEndpoint: Endpoint | null = null;
  private readonly servers: { server: Server; endpoint: Endpoint }[] = [];
  private readonly connections = new Map<number, Connection>();
  private readonly byRemote = new Map<string, Connection>();
  private readonly pending = new Map<string, Promise<Connection>>();
  private nextId = 1;
  private closed = false;
  private readonly limits: SipLimits;

  constructor(
    private readonly opts: TransportOptions,
    private readonly handler: TransportHandler,
  ) {
    this.limits = opts.limits ?? DEFAULT_LIMITS;
  }

  /** Binds the listeners (and a client UDP socket when no UDP listener is configured). */
  async start(): Promise<void> {
    const udpSpec = this.opts.listen.find((l) => l.transport === 'udp');
    await this.bindUdp(udpSpec ?? { transport: 'udp', address: this.opts.clientAddress, port: 0 });
    for (const spec of this.opts.listen) if (spec.transport !== 'udp') await this.listenStream(spec);
  }

  /** Where the gateway can be reached over `transport` (for Via sent-by and Contact), when it listens there. */
  local(transport: TransportName): Endpoint | undefined {
    if (transport === 'udp') return this.udpEndpoint ?? undefined;
    return this.servers.find((s) => s.endpoint.transport === transport)?.endpoint;
  }

  /** The local address of a stream connection (for a Via when the gateway has no listener of that transport). */
  connectionLocal(flow: Flow): Endpoint | undefined {
    const c = flow.connection !== undefined ? this.connections.get(flow.connection) : this.byRemote.get(keyOf(flow));
    if (!c) return undefined;
    return { transport: flow.transport, address: c.socket.localAddress ?? '127.0.0.1', port: c.socket.localPort ?? 0 };
  }

  /** Sends a message; over streams on the given connection, else a reused or new one. Rejects on failure. */
  async send(m: SipMessage, dest: Flow): Promise<void> {
    if (this.closed) throw new Error('transport closed');
    const bytes = serialize(m);
    if (dest.transport === 'udp') {
      const udp = this.udp;
      if (!udp) throw new Error('no UDP socket');
      await new Promise<void>((resolve, reject) =>
        udp.send(bytes, dest.port, dest.address, (err) => (err ? reject(err) : resolve())),
      );
      return;
    }
    const conn =
      (dest.connection !== undefined ? this.connections.get(dest.connection) : undefined) ??
      this.byRemote.get(keyOf(dest)) ??
      (await this.connect(dest));
    await new Promise<void>((resolve, reject) => conn.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  /** Opens (or waits for) a client connection to `dest`. */
  async connect(dest: Endpoint): Promise<Connection> {
    const key = keyOf(dest);
    const existing = this.byRemote.get(key);
    if (existing) return existing;
    let p = this.pending.get(key);
    if (!p) {
      p = this.dial(dest).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private dial(dest: Endpoint): Promise<Connection> {
    if (this.connections.size >= this.opts.maxConnections) return Promise.reject(new Error('too many connections'));
    return new Promise<Connection>((resolve, reject) => {
      const tlsOpts = this.opts.tlsClient;
      const socket =
        dest.transport === 'tls'
          ? tlsConnect({
              host: dest.address,
              port: dest.port,
              ...(tlsOpts?.ca ? { ca: tlsOpts.ca } : {}),
              rejectUnauthorized: tlsOpts?.rejectUnauthorized ?? true,
              ...(dest.host && !isIP(dest.host) ? { servername: dest.host } : {}),
            })
          : tcpConnect({ host: dest.address, port: dest.port });
      const timer = setTimeout(() => socket.destroy(new Error('connect timeout')), this.opts.connectTimeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', fail);
      socket.once(dest.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(this.adopt(socket, dest));
      });
    });
  }

  private async bindUdp(spec: Endpoint): Promise<void> {
    const sock = createSocket({ type: spec.address.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(spec.port, spec.address, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    sock.on('error', (err) => this.opts.log.warn({ err }, 'SIP UDP socket error'));
    sock.on('message', (buf, rinfo) =>
      this.onDatagram(buf, { transport: 'udp', address: rinfo.address, port: rinfo.port }),
    );
    this.udp = sock;
    this.udpEndpoint = { transport: 'udp', address: spec.address, port: sock.address().port };
  }

  private onDatagram(buf: Buffer, source: Flow): void {
    // RFC 5626 §4.4.1 STUN/CRLF keep-alives carry no SIP message.
    if (buf.length <= 4 && /^[\r\n]*$/.test(buf.toString('latin1'))) return;
    let m: SipMessage;
    try {
      m = parseDatagram(buf, this.limits);
    } catch (err) {
      if (err instanceof SipParseError) this.handler.invalid(err, source);
      else this.opts.log.error({ err }, 'SIP datagram handling failed');
      return;
    }
    this.dispatch(m, source);
  }

  private dispatch(m: SipMessage, source: Flow): void {
    try {
      this.handler.message(m, source);
    } catch (err) {
      this.opts.log.error({ err }, 'SIP message handling failed');
    }
  }

  private async listenStream(spec: ListenSpec): Promise<void> {
    const onSocket = (socket: Socket | TLSSocket) => {
      if (this.connections.size >= this.opts.maxConnections) {
        socket.destroy();
        return;
      }
      const remote: Endpoint = {
        transport: spec.transport,
        address: socket.remoteAddress ?? '',
        port: socket.remotePort ?? 0,
      };
      this.adopt(socket, remote);
    };
    let server: Server;
    if (spec.transport === 'tls') {
      if (!spec.tls) throw new Error('a TLS listener needs a key and a certificate');
      server = createTlsServer({ key: spec.tls.key, cert: spec.tls.cert }, onSocket);
    } else {
      server = createServer(onSocket);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(spec.port, spec.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.opts.log.warn({ err }, 'SIP listener error'));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : spec.port;
    this.servers.push({ server, endpoint: { transport: spec.transport, address: spec.address, port } });
  }

  /** Registers a connected stream socket: framing, idle timeout, bookkeeping. */
  private adopt(socket: Socket | TLSSocket, remote: Endpoint): Connection {
    const conn: Connection = { id: this.nextId++, socket, remote, key: keyOf(remote) };
    this.connections.set(conn.id, conn);
    if (!this.byRemote.has(conn.key)) this.byRemote.set(conn.key, conn);
    const framer = new SipStreamFramer(this.limits);
    const flow: Flow = { ...remote, connection: conn.id };
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.kind === 'message') this.dispatch(ev.message, flow);
        else if (ev.kind === 'ping')
          socket.write('\r\n'); // RFC 5626 §3.5.1 pong
        else {
          this.handler.invalid(ev.error, flow);
          // Let the error response go out first, then close: the framing is lost.
          if (ev.fatal) socket.end();
        }
      }
    });
    socket.on('error', (err) => this.opts.log.debug({ err, remote }, 'SIP connection error'));
    socket.on('close', () => {
      this.connections.delete(conn.id);
      if (this.byRemote.get(conn.key) === conn) this.byRemote.delete(conn.key);
    });
    return conn;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.connections.values()) c.socket.destroy();
    this.connections.clear();
    this.byRemote.clear();
    await Promise.all(this.servers.map(({ server }) => new Promise<void>((r) => server.close(() => r()))));
    this.servers.length = 0;
    const udp = this.udp;
    this.udp = null;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
  }
}
