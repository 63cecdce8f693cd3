// TCP listeners for client streams: STARTTLS on a plain port, or direct TLS (XEP-0368).
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { SwitchboardError } from '../errors/index.js';

export interface BoundListener {
  readonly type: string;
  readonly tls: string;
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface SocketListenerOptions {
  type: string;
  address: string;
  port: number;
  mode: 'starttls' | 'direct' | 'none';
  tlsOptions: () => tls.TlsOptions;
  /** ALPN protocol for direct TLS (XEP-0368 §3: 'xmpp-client' / 'xmpp-server'). */
  alpn: string;
  onSocket(socket: net.Socket, direct: boolean): void;
  maxConnections: number;
  log: Logger;
}

export async function listen(opts: SocketListenerOptions): Promise<BoundListener> {
  const sockets = new Set<net.Socket>();
  // One listener function for all the sockets (it gets the socket as `this`), not a closure and a once() wrapper
  // per connection; 'close' comes once anyway.
  const untrack = function (this: net.Socket): void {
    sockets.delete(this);
  };
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', untrack);
  };
  let server: net.Server;
  if (opts.mode === 'direct') {
    server = tls.createServer({ ...opts.tlsOptions(), ALPNProtocols: [opts.alpn] }, (socket) => {
      track(socket);
      opts.onSocket(socket, true);
    });
    // A failed handshake only concerns that client.
    server.on('tlsClientError', (err, socket) => {
      opts.log.debug({ err: err.message, ip: socket.remoteAddress }, 'TLS handshake failed');
      socket.destroy();
    });
  } else {
    server = net.createServer((socket) => {
      track(socket);
      opts.onSocket(socket, false);
    });
  }
  server.maxConnections = opts.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new SwitchboardError(
          'SB_ERR_LISTEN',
          `cannot listen on ${opts.address}:${opts.port} (${opts.type}): ${err.message}`,
          { cause: err },
        ),
      ),
    );
    server.listen(opts.port, opts.address, () => resolve());
  });
  server.on('error', (err) => opts.log.error({ err }, 'listener error'));
  const addr = server.address() as net.AddressInfo;
  return {
    type: opts.type,
    tls: opts.mode,
    address: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
