// Federation as a Subsystem (server/core/subsystems.ts): installs the router's remote sender (the outbound pool,
// one link per (local, remote) domain pair), opens `s2s` listeners, and connects the dialback roles: an inbound
// <db:result/> is verified over an outbound stream to the sender domain's authoritative server (XEP-0220 §2.1.2).
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ListenerConfig, S2sConfig } from '../config/index.js';
import type { Origin } from '../core/hooks.js';
import type { Server } from '../core/server.js';
import type { Subsystem } from '../core/subsystems.js';
import { StanzaError, StreamError } from '../errors/index.js';
import { Jid } from '../jid/index.js';
import { SERVER_ORIGIN } from '../router/router.js';
import { type BoundListener, listen } from '../stream/listeners.js';
import type { Element } from '../xml/element.js';
import { DialbackKeys } from './dialback.js';
import { type InboundDeps, InboundStream } from './inbound.js';
import { establish, type LinkDeps, OutboundLink } from './outbound.js';
import { type OutboundStream, S2sFailure, type VerifyOutcome } from './outbound-stream.js';
import { FederationPolicy, RateLimiter } from './policy.js';
import { systemResolver } from './resolve.js';
import { S2sTrust } from './trust.js';

export function createFederation(server: Server): Subsystem {
  return new Federation(server);
}

class Federation implements Subsystem {
  readonly name = 's2s';
  private readonly cfg: S2sConfig;
  private readonly log: Logger;
  private readonly keys = new DialbackKeys();
  private readonly policy: FederationPolicy;
  private readonly rate: RateLimiter;
  private readonly links = new Map<string, OutboundLink>();
  private readonly inbound = new Set<InboundStream>();
  private readonly verifyStreams = new Set<OutboundStream>();
  private trust: S2sTrust | null = null;
  private linkDeps: LinkDeps | null = null;
  private inboundDeps: InboundDeps | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Cancels verification-only connections still being set up at shutdown. */
  private readonly stopping = new AbortController();

  constructor(private readonly server: Server) {
    this.cfg = server.config.s2s;
    this.log = server.log.child({ c: 's2s' });
    this.policy = new FederationPolicy(this.cfg);
    this.rate = new RateLimiter(this.cfg.rate_per_second, this.cfg.rate_burst);
  }

  async setup(): Promise<void> {
    // Disabled: the router keeps bouncing remote stanzas with remote-server-not-found.
    if (!this.cfg.enabled) return;
    this.trust = await S2sTrust.load(this.server.config, this.log);
    this.linkDeps = this.makeLinkDeps(this.trust);
    this.inboundDeps = this.makeInboundDeps(this.trust);
    this.server.router.setRemote((stanza, to, origin) => this.send(stanza, to, origin));
    if (this.rate.enabled) {
      this.sweepTimer = setInterval(() => this.rate.sweep(), 60_000);
      this.sweepTimer.unref();
    }
  }

  async listen(l: ListenerConfig): Promise<BoundListener | null> {
    if (l.type !== 's2s') return null;
    const deps = this.inboundDeps;
    const trust = this.trust;
    if (!deps || !trust) {
      this.log.warn({ port: l.port }, 's2s.enabled is false: the s2s listener is not opened');
      return { type: 's2s', tls: l.tls, address: l.address, port: 0, close: async () => {} };
    }
    return listen({
      type: 's2s',
      address: l.address,
      port: l.port,
      mode: l.tls,
      tlsOptions: () => trust.serverOptions(),
      alpn: 'xmpp-server',
      maxConnections: 10_000,
      log: this.log,
      onSocket: (socket: Socket, direct: boolean) => {
        this.inbound.add(new InboundStream(socket, direct, deps));
        this.server.metrics.sessions.inc({ type: 's2s_in' });
      },
    });
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.server.router.setRemote(null);
    this.stopping.abort();
    for (const s of [...this.inbound]) s.close(new StreamError('system-shutdown'));
    for (const link of [...this.links.values()]) link.close();
    for (const s of [...this.verifyStreams]) s.close();
    this.links.clear();
  }

  /** The router's remote sender (RFC 6120 §10.4): policy, then the pair's link (created on demand). */
  private send(stanza: Element, to: Jid, origin: Origin): void {
    const deps = this.linkDeps;
    const from = Jid.tryParse(stanza.attrs.from);
    // We can only authenticate as domains served here (a host, a component, a gateway).
    if (!deps || !from || this.server.router.table.lookup(from.domain) === undefined) {
      this.server.router.bounce(stanza, StanzaError.notAllowed('cannot send for that domain'), origin);
      return;
    }
    const local = from.domain;
    const remote = to.domain;
    if (!this.policy.allows(local, remote)) {
      this.log.warn({ local, remote, stage: 'policy' }, 's2s policy denies this domain; bouncing');
      this.server.router.bounce(stanza, StanzaError.notAllowed(`${local} does not federate with ${remote}`), origin);
      return;
    }
    const key = `${local} ${remote}`;
    let link = this.links.get(key);
    if (!link?.usable) {
      link = new OutboundLink(local, remote, deps, (done) => {
        if (this.links.get(key) === done) this.links.delete(key);
      });
      this.links.set(key, link);
      link.start(this.sharedStream(remote));
    }
    link.send(stanza, origin);
  }

  /** A ready stream to `remote` that more local domains may join (XEP-0220 §2.6.1), if any. */
  private sharedStream(remote: string): OutboundStream | undefined {
    for (const link of this.links.values()) {
      const stream = link.stream;
      if (link.remote === remote && link.usable && stream?.dialbackCapable && this.cfg.dialback) return stream;
    }
    return undefined;
  }

  /**
   * Receiving role (XEP-0220 §2.1.2): asks the authoritative server of `originating` whether it issued `key`.
   * Reuses a ready outbound stream for the pair, else opens a verification-only stream and closes it after.
   */
  private async verify(receiving: string, originating: string, id: string, key: string): Promise<VerifyOutcome> {
    const timeoutMs = this.cfg.negotiation_timeout_seconds * 1000;
    const link = this.links.get(`${receiving} ${originating}`);
    if (link?.state === 'ready' && link.usable && link.stream) {
      return link.stream.requestVerify(receiving, originating, id, key, timeoutMs);
    }
    const deps = this.linkDeps;
    if (!deps) return { type: 'error', condition: 'remote-server-not-found' };
    let stream: OutboundStream;
    try {
      stream = await establish(receiving, originating, deps, true, this.stopping.signal);
    } catch (err) {
      if (!(err instanceof S2sFailure)) throw err;
      this.log.warn(
        { local: receiving, remote: originating, stage: err.stage, reason: err.message },
        'cannot reach the authoritative server for dialback verification',
      );
      return { type: 'error', condition: err.timeout ? 'remote-server-timeout' : 'remote-server-not-found' };
    }
    this.verifyStreams.add(stream);
    try {
      return await stream.requestVerify(receiving, originating, id, key, timeoutMs);
    } finally {
      // XEP-0220 §2.1.2: a connection opened only for verification is closed after the result.
      this.verifyStreams.delete(stream);
      stream.close();
    }
  }

  private streamLimits() {
    const { limits } = this.server.config;
    return {
      maxStanzaBytes: this.cfg.max_stanza_bytes,
      maxDepth: limits.max_depth,
      maxAttributes: limits.max_attributes,
    };
  }

  private makeLinkDeps(trust: S2sTrust): LinkDeps {
    const m = this.server.metrics;
    return {
      log: this.log,
      limits: this.streamLimits(),
      config: this.cfg,
      trust,
      keys: this.keys,
      dns: systemResolver(this.cfg.dns_timeout_seconds * 1000),
      bounce: (stanza, err, origin) => this.server.router.bounce(stanza, err, origin),
      countOut: (kind) => m.stanzas.inc({ direction: 'out', kind }),
      countStreamError: (condition) => m.streamErrors.inc({ condition }),
      onReady: () => m.sessions.inc({ type: 's2s_out' }),
      onClosed: (stream) => {
        m.sessions.dec({ type: 's2s_out' });
        // Every pair multiplexed on the stream goes with it; their next stanza opens a new link.
        for (const [key, link] of this.links) {
          if (link.stream !== stream) continue;
          link.closed();
          this.links.delete(key);
        }
      },
    };
  }

  private makeInboundDeps(trust: S2sTrust): InboundDeps {
    const m = this.server.metrics;
    const router = this.server.router;
    return {
      log: this.log,
      limits: this.streamLimits(),
      config: this.cfg,
      trust,
      keys: this.keys,
      policy: this.policy,
      rate: this.rate,
      upgradeTls: (raw, local) => trust.upgradeServer(raw, local),
      served: (domain) => router.table.lookup(domain) !== undefined,
      origin: (remote) => ({
        kind: 's2s',
        jid: Jid.tryParse(remote),
        send: (el) => void router.route(el, SERVER_ORIGIN),
      }),
      route: (stanza, origin) => router.route(stanza, origin),
      verify: (receiving, originating, id, key) => this.verify(receiving, originating, id, key),
      onClose: (stream) => {
        if (this.inbound.delete(stream)) m.sessions.dec({ type: 's2s_in' });
      },
      countIn: (kind) => m.stanzas.inc({ direction: 'in', kind }),
      countStreamError: (condition) => m.streamErrors.inc({ condition }),
    };
  }
}
