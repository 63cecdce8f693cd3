// What the Prosody and ejabberd harnesses share: options, the running-peer interface, skip-or-fail when a peer is
// not installed (DESIGN §8: REQUIRE_PEERS=1 fails loudly), and @xmpp/client sessions against a peer.
import { readFileSync } from 'node:fs';
import { type ClientSession, startClient } from '../xmpp-client.js';
import type { IssuedCert } from './ca.js';

export interface PeerUser {
  user: string;
  password: string;
}

/**
 * How the peer authenticates servers (RFC 6120 §13.7.2, XEP-0178, XEP-0220):
 * - `external`: certificates must validate (PKIX chain + name); SASL EXTERNAL, no dialback.
 * - `dialback`: certificates need not validate; server dialback is accepted (and used when EXTERNAL is impossible).
 */
export type PeerAuthMode = 'external' | 'dialback';

export interface PeerOptions {
  /** The XMPP domain the peer serves. */
  domain: string;
  /** The peer's own certificate for `domain` (CA-issued, self-signed or wrong-name). */
  cert: IssuedCert;
  /** PEM file of the CA(s) the peer trusts for other servers' certificates (the test CA). */
  caFile?: string;
  auth: PeerAuthMode;
  /** Require TLS on s2s streams (default true; both peers then still encrypt dialback-only streams). */
  requireEncryption?: boolean;
  /** Users registered before the peer is reported ready. */
  users?: PeerUser[];
  /** The peer's own 127.0.0.x (s2s on port 5269 there, c2s on a free port); allocated when absent. */
  address?: string;
  /**
   * Other domains the peer must reach (domain → 127.0.0.x). Prosody gets them in a private hosts file; ejabberd
   * only resolves through the system, so for it they go to /etc/hosts (see system.ts `mapHosts`).
   */
  resolve?: Record<string, string>;
  /** Verbose peer logs (stanza-level); default from SB_PEER_LOG=debug. */
  debug?: boolean;
}

export interface XmppPeer {
  readonly kind: 'prosody' | 'ejabberd';
  readonly domain: string;
  /** 127.0.0.x: s2s listens on `address:5269`, c2s on `address:c2sPort`. */
  readonly address: string;
  readonly s2sPort: number;
  readonly c2sPort: number;
  /** Private directory (config, data, logs); removed by `cleanup()`. */
  readonly dir: string;
  readonly logFile: string;
  /** The PEM a client must trust to validate the peer's c2s certificate. */
  readonly clientTrustPem: string;
  readonly pid: number | undefined;
  running(): boolean;
  /** (Re)starts with the same config and data; resolves when ready. */
  start(): Promise<void>;
  /** Stops the process by its PID (SIGTERM, then SIGKILL); data stays. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP: the process hangs (the kernel still accepts TCP connections) until `resume()`. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  register(user: string, password: string): Promise<void>;
  /** Stops and removes the directory. */
  cleanup(): Promise<void>;
  /** The peer's log so far (for failure messages). */
  log(): string;
}

/** Default peer verbosity: SB_PEER_LOG=debug logs stanzas. */
export const peerDebug = () => process.env.SB_PEER_LOG === 'debug';

/**
 * In a mocha `before`: skips the suite with a clear message when `missing` is set, or fails when REQUIRE_PEERS=1.
 */
export function skipUnlessInstalled(ctx: Mocha.Context, missing: string | undefined): void {
  if (!missing) return;
  if (process.env.REQUIRE_PEERS === '1') throw new Error(`REQUIRE_PEERS=1 but ${missing}`);
  console.log(`      skipped: ${missing}`);
  ctx.skip();
}

/** A logged-in @xmpp/client session with a user of the peer (over STARTTLS to its c2s port). */
export function peerClient(peer: XmppPeer, user: string, password: string, resource?: string): Promise<ClientSession> {
  return startClient({
    host: peer.address,
    port: peer.c2sPort,
    caPem: peer.clientTrustPem,
    domain: peer.domain,
    username: user,
    password,
    ...(resource !== undefined ? { resource } : {}),
  });
}

/** The last `lines` lines of a log file, for assertion messages. */
export function tail(file: string, lines = 60): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
