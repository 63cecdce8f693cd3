// TLS for federation: our per-host certificates with a trust store (the defaults plus s2s.ca_file), used both as
// server (inbound, asking the peer for its certificate) and as client (outbound, presenting ours), and the check
// of a peer's certificate: PKIX chain (RFC 5280) and the RFC 6125 name check against the peer's domain.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { SwitchboardError } from '../errors/index.js';
import { type CertKeyPem, loadTlsMaterial } from '../stream/tls-context.js';

export interface PeerCheck {
  /** The certificate chains to a trusted root (or is an allowed self-signed one) and names the domain. */
  valid: boolean;
  /** Why not, for logs and for the dialback decision. */
  reason?: string;
}

export class S2sTrust {
  private constructor(
    private readonly defaultCtx: tls.SecureContext,
    private readonly perHost: Map<string, tls.SecureContext>,
    private readonly material: { default: CertKeyPem; perHost: Map<string, CertKeyPem>; ca: string[] },
    private readonly minVersion: tls.SecureVersion,
    private readonly allowSelfSigned: boolean,
  ) {}

  static async load(config: Config, log: Logger): Promise<S2sTrust> {
    const hosts = Object.keys(config.hosts);
    const material = await loadTlsMaterial(config.tls, config.data_dir, hosts, log, config.hosts);
    const extra = config.s2s.ca_file ? await readCaFile(config.s2s.ca_file) : [];
    const ca = [...tls.rootCertificates, ...extra];
    const minVersion = config.tls.min_version;
    const make = (pair: CertKeyPem) => tls.createSecureContext({ cert: pair.cert, key: pair.key, ca, minVersion });
    const perHost = new Map([...material.perHost].map(([h, pair]) => [h, make(pair)] as const));
    return new S2sTrust(
      make(material.default),
      perHost,
      { default: material.default, perHost: material.perHost, ca },
      minVersion,
      config.s2s.allow_self_signed,
    );
  }

  /** Our certificate for a local domain (RFC 6120 §13.7.1.1: a server presents its domain's certificate). */
  contextFor(domain: string): tls.SecureContext {
    return this.perHost.get(domain) ?? this.defaultCtx;
  }

  private readonly sni = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, this.contextFor(servername.toLowerCase().replace(/\.$/, '')));
  };

  /**
   * Server-side options: the certificate chosen by SNI, and a request for the peer's certificate that does not
   * fail the handshake when it is missing or untrusted (dialback may still authenticate the peer, XEP-0220).
   */
  serverOptions(): tls.TlsOptions {
    return {
      secureContext: this.defaultCtx,
      // tls.createServer() builds its default context from these instead of `secureContext`.
      cert: this.material.default.cert,
      key: this.material.default.key,
      ca: this.material.ca,
      SNICallback: this.sni,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: this.minVersion,
    };
  }

  /**
   * Client-side options towards `remote` as `local`. The handshake never fails on the peer's certificate: the
   * caller decides with checkPeer() whether it is good enough for SASL EXTERNAL, for dialback, or not at all.
   */
  /**
   * Receiving side of STARTTLS (RFC 6120 §5.4.3.3): the TLS handshake as server on an accepted socket. It goes
   * through a (never listening) tls.Server, because only sockets a tls.Server accepts get `authorized` and
   * `authorizationError` computed for the client certificate; a bare `new TLSSocket(..., { isServer })` does
   * not. Sockets are matched to their TLS wrappers by their address 4-tuple.
   */
  upgradeServer(raw: Socket, domain: string | null): Promise<tls.TLSSocket> {
    const key = tuple(raw);
    return new Promise<tls.TLSSocket>((resolve, reject) => {
      this.pendingUpgrades.set(key, { resolve, reject });
      this.upgrader(domain).emit('connection', raw);
      raw.resume();
    });
  }

  private readonly upgraders = new Map<string, tls.Server>();
  private readonly pendingUpgrades = new Map<string, { resolve(s: tls.TLSSocket): void; reject(e: Error): void }>();

  /**
   * One upgrader per local domain: a peer that sends no SNI (COMPAT(prosody): 0.12 sends none on STARTTLS s2s
   * streams) gets the certificate of the domain its stream header addressed (RFC 6120 §13.7.1.1), not the
   * default one; SNI, when sent, still chooses.
   */
  private upgrader(domain: string | null): tls.Server {
    const pair = (domain !== null ? this.material.perHost.get(domain) : undefined) ?? this.material.default;
    const name = pair === this.material.default ? '' : (domain ?? '');
    const existing = this.upgraders.get(name);
    if (existing) return existing;
    const options = { ...this.serverOptions(), cert: pair.cert, key: pair.key };
    const server = tls.createServer({ ...options, handshakeTimeout: 30_000 });
    const settle = (socket: tls.TLSSocket, err?: Error) => {
      const key = tuple(socket);
      const pending = this.pendingUpgrades.get(key);
      if (!pending) return;
      this.pendingUpgrades.delete(key);
      if (err) pending.reject(err);
      else pending.resolve(socket);
    };
    server.on('secureConnection', (socket: tls.TLSSocket) => settle(socket));
    server.on('tlsClientError', (err, socket) => {
      settle(socket, err);
      socket.destroy();
    });
    this.upgraders.set(name, server);
    return server;
  }

  clientOptions(local: string, remote: string): tls.ConnectionOptions {
    // RFC 6120 §13.7.2.1 and XEP-0368 §3: SNI carries the remote domain (not the SRV target host).
    return { secureContext: this.contextFor(local), servername: remote, rejectUnauthorized: false };
  }

  /** RFC 6125 §6 / RFC 6120 §13.7.2: does the peer's certificate prove `domain`? */
  checkPeer(socket: tls.TLSSocket, domain: string): PeerCheck {
    const cert = socket.getPeerCertificate(true);
    if (!cert?.raw) return { valid: false, reason: 'no certificate presented' };
    // RFC 6125 §6.4: DNS-ID in subjectAltName (CN only without SANs), wildcard in the left-most label only.
    const nameError = tls.checkServerIdentity(domain, cert);
    if (nameError) return { valid: false, reason: `certificate does not name ${domain}: ${nameError.message}` };
    if (socket.authorized) return { valid: true };
    const code = String(socket.authorizationError ?? 'unknown error');
    if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' && this.allowSelfSigned && selfSigned(cert.raw)) {
      return { valid: true };
    }
    return { valid: false, reason: `certificate not trusted: ${code}` };
  }
}

function tuple(s: Socket): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

function selfSigned(der: Buffer): boolean {
  const x509 = new X509Certificate(der);
  if (x509.issuer !== x509.subject || !x509.verify(x509.publicKey)) return false;
  const now = Date.now();
  return new Date(x509.validFrom).getTime() <= now && now <= new Date(x509.validTo).getTime();
}

async function readCaFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new SwitchboardError('SB_ERR_TLS_CERT', `s2s.ca_file ${path}: cannot read (${code})`, { cause: err });
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw new SwitchboardError('SB_ERR_TLS_CERT', `s2s.ca_file ${path}: no PEM certificate`);
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new SwitchboardError('SB_ERR_TLS_CERT', `s2s.ca_file ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return pems;
}
