// Outbound links (DESIGN §4 "S2S pool"): one per (local domain, remote domain) pair. A link resolves the remote
// domain, tries each target with a connect timeout, negotiates the stream, queues stanzas meanwhile and sends
// them in order once authenticated, or bounces them (RFC 6120 §8.3.3.13 remote-server-not-found, §8.3.3.14
// remote-server-timeout) when every target failed.
import net from 'node:net';
import tls from 'node:tls';
import type { Origin } from '../core/hooks.js';
import { StanzaError } from '../errors/index.js';
import type { Element } from '../xml/element.js';
import { addSender } from './multiplex.js';
import { type OutboundDeps, OutboundStream, S2sFailure } from './outbound-stream.js';
import { ResolveError, type ResolverLike, resolveTargets, type Target } from './resolve.js';

export interface LinkDeps extends OutboundDeps {
  dns: ResolverLike;
  bounce(stanza: Element, err: StanzaError, origin: Origin): void;
}

/** Cancels a connection attempt when the negotiation timeout fires. */
interface Attempt {
  cancelled: boolean;
  socket: net.Socket | null;
  stream: OutboundStream | null;
}

/**
 * Connects to the remote domain's server and negotiates a stream as `local`: authenticated for the pair, or
 * (verifyOnly) ready to carry <db:verify/>. Gives up after s2s.negotiation_timeout_seconds. Throws S2sFailure.
 */
export async function establish(
  local: string,
  remote: string,
  deps: LinkDeps,
  verifyOnly: boolean,
  signal?: AbortSignal,
): Promise<OutboundStream> {
  const attempt: Attempt = { cancelled: false, socket: null, stream: null };
  const timeoutMs = deps.config.negotiation_timeout_seconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const cancel = (failure: S2sFailure) => {
      attempt.cancelled = true;
      attempt.stream?.fail(failure);
      attempt.stream?.abort();
      attempt.socket?.destroy();
      reject(failure);
    };
    timer = setTimeout(
      () => cancel(new S2sFailure('stream', `no authenticated stream after ${timeoutMs / 1000} s`, true)),
      timeoutMs,
    );
    onAbort = () => cancel(new S2sFailure('stream', 'the server is shutting down'));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([tryTargets(local, remote, deps, verifyOnly, attempt), stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

async function tryTargets(
  local: string,
  remote: string,
  deps: LinkDeps,
  verifyOnly: boolean,
  attempt: Attempt,
): Promise<OutboundStream> {
  let targets: Target[];
  try {
    targets = await resolveTargets(remote, deps.config.routes, deps.dns);
  } catch (err) {
    if (!(err instanceof ResolveError)) throw err;
    throw new S2sFailure('dns', err.message, err.timeout);
  }
  let last = new S2sFailure('dns', `no target for ${remote}`);
  for (const target of targets) {
    if (attempt.cancelled) break;
    const where = `${target.host}:${target.port}${target.directTls ? ' (direct TLS)' : ''} via ${target.via}`;
    let stream: OutboundStream | null = null;
    try {
      const socket = await connectTarget(target, local, remote, deps, attempt);
      stream = new OutboundStream(socket, target.directTls, local, remote, deps);
      attempt.stream = stream;
      await stream.negotiate(verifyOnly);
      stream.log.info({ target: where, method: stream.method, verifyOnly }, 's2s stream ready');
      return stream;
    } catch (err) {
      if (!(err instanceof S2sFailure)) throw err;
      last = err;
      stream?.abort();
      if (!attempt.cancelled) {
        deps.log.info({ local, remote, target: where, stage: err.stage, reason: err.message }, 's2s target failed');
      }
    }
  }
  throw last;
}

function connectTarget(
  t: Target,
  local: string,
  remote: string,
  deps: LinkDeps,
  attempt: Attempt,
): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    // XEP-0368 §3: direct TLS negotiates ALPN 'xmpp-server' and SNI with the XMPP domain.
    const socket = t.directTls
      ? tls.connect({
          host: t.host,
          port: t.port,
          ALPNProtocols: ['xmpp-server'],
          ...deps.trust.clientOptions(local, remote),
        })
      : net.connect({ host: t.host, port: t.port });
    attempt.socket = socket;
    const stage = t.directTls ? 'tls' : 'tcp';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new S2sFailure(stage, `connecting to ${t.host}:${t.port} timed out`, true));
    }, deps.config.connect_timeout_seconds * 1000);
    const onError = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const tlsError = /SSL|TLS|CERT/i.test(`${err.code ?? ''} ${err.message}`);
      reject(new S2sFailure(tlsError ? 'tls' : 'tcp', `${t.host}:${t.port}: ${err.code ?? err.message}`));
    };
    socket.once('error', onError);
    socket.once(t.directTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

interface Queued {
  stanza: Element;
  origin: Origin;
}

/** The pool entry for one (local, remote) pair. */
export class OutboundLink {
  state: 'connecting' | 'ready' | 'closed' = 'connecting';
  stream: OutboundStream | null = null;
  private queue: Queued[] = [];
  private readonly abort = new AbortController();

  constructor(
    readonly local: string,
    readonly remote: string,
    private readonly deps: LinkDeps,
    private readonly onDone: (link: OutboundLink) => void,
  ) {}

  /** Still connecting, or ready with an open stream: new stanzas may be given to it. */
  get usable(): boolean {
    if (this.state === 'connecting') return true;
    return this.state === 'ready' && this.stream !== null && !this.stream.isClosed;
  }

  /**
   * Opens a stream for the pair; or first, given a ready stream from another local domain to the same remote
   * one, asks to join it (XEP-0220 §2.6.1), falling back to a stream of its own if the peer says no.
   */
  start(shared?: OutboundStream): void {
    const connect = () =>
      establish(this.local, this.remote, this.deps, false, this.abort.signal).then(
        (stream) => this.ready(stream),
        (err: unknown) => this.failed(err),
      );
    if (!shared) {
      void connect();
      return;
    }
    const timeoutMs = this.deps.config.negotiation_timeout_seconds * 1000;
    addSender(shared, this.local, this.deps.keys, timeoutMs).then(
      () => {
        this.deps.log.info({ local: this.local, remote: this.remote }, 's2s sender multiplexed on a stream');
        this.ready(shared);
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        this.deps.log.info({ local: this.local, remote: this.remote, reason }, 'multiplexing refused; new stream');
        if (this.state !== 'closed') void connect();
      },
    );
  }

  send(stanza: Element, origin: Origin): void {
    if (this.state === 'ready' && this.stream && !this.stream.isClosed) {
      this.stream.sendStanza(stanza);
      return;
    }
    if (this.queue.length >= this.deps.config.max_queue) {
      this.deps.bounce(stanza, StanzaError.resourceConstraint(`too many stanzas waiting for ${this.remote}`), origin);
      return;
    }
    this.queue.push({ stanza, origin });
  }

  private ready(stream: OutboundStream): void {
    if (this.state === 'closed') {
      stream.close();
      return;
    }
    this.state = 'ready';
    this.stream = stream;
    // XEP-0220 §2.1.1: stanzas queued for the pair go out, in order, once it is authorized.
    for (const q of this.queue.splice(0)) stream.sendStanza(q.stanza);
  }

  private failed(err: unknown): void {
    this.state = 'closed';
    this.onDone(this);
    // Shutting down: the senders are going away too.
    if (this.abort.signal.aborted) return;
    const failure =
      err instanceof S2sFailure ? err : new S2sFailure('stream', `internal error: ${(err as Error).message}`);
    if (!(err instanceof S2sFailure)) this.deps.log.error({ err }, 's2s connection attempt crashed');
    const { local, remote } = this;
    const { stage, timeout, message: reason } = failure;
    this.deps.log.warn({ local, remote, stage, timeout, reason }, 's2s connection failed');
    const error = new StanzaError(failure.condition, `${remote}: ${stage} failure: ${reason}`);
    for (const q of this.queue.splice(0)) this.deps.bounce(q.stanza, error, q.origin);
  }

  /** The ready stream went away: the next stanza opens a new link. */
  closed(): void {
    this.state = 'closed';
  }

  /** Server shutdown: ends the stream, or cancels the attempt still under way. */
  close(): void {
    this.state = 'closed';
    this.abort.abort();
    this.stream?.close();
  }
}
