// Router.route (DESIGN §4): one lookup by domain, then local dispatch, component/gateway delivery or s2s.
import type { Logger } from 'pino';
import type { Origin, StanzaEvent } from '../core/hooks.js';
import type { LocalHost } from '../core/host.js';
import { StanzaError } from '../errors/index.js';
import { Jid, JidError } from '../jid/index.js';
import type { Element } from '../xml/element.js';
import type { RouteTable } from './route-table.js';
import { errorReply, mayBounce } from './stanza.js';

/** Sends a stanza to a domain that is not ours (s2s); installed by the s2s layer. */
export type RemoteSender = (stanza: Element, to: Jid, origin: Origin) => void;

export const SERVER_ORIGIN: Origin = { kind: 'local', jid: null, send: () => {} };

export class Router {
  private remote: RemoteSender | null = null;
  private readonly hosts = new Map<string, LocalHost>();

  constructor(
    readonly table: RouteTable,
    private readonly log: Logger,
    private readonly onRouted?: (kind: string, seconds: number) => void,
  ) {}

  addHost(host: LocalHost): void {
    this.hosts.set(host.name, host);
    this.table.add(host.name, { kind: 'local', host: host.name });
  }

  host(name: string): LocalHost | undefined {
    return this.hosts.get(name);
  }

  setRemote(sender: RemoteSender | null): void {
    this.remote = sender;
  }

  /**
   * Routes a stanza whose 'from' and 'to' are already stamped and prepared. Never throws: failures become
   * bounces (RFC 6120 §8.3), and errors are never answered with errors (§8.3.1). The promise settles when
   * local dispatch is done, so a session can process its stanzas in order (RFC 6120 §10.1).
   */
  route(stanza: Element, origin: Origin): Promise<void> | undefined {
    const started = this.onRouted ? process.hrtime.bigint() : 0n;
    let to: Jid;
    let from: Jid;
    try {
      to = Jid.parse(stanza.attrs.to ?? '');
      from = Jid.parse(stanza.attrs.from ?? '');
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      this.bounce(stanza, StanzaError.jidMalformed(err.message), origin);
      return undefined;
    }
    // Stanzas from local users (sent by their clients or by the server on their behalf) first pass the
    // sender's host 'pre-*' events, where outbound policy such as blocking (XEP-0191 §3.3) applies.
    const sender =
      origin.kind !== 's2s' && origin.kind !== 'component' && origin.kind !== 'gateway' && from.local !== null
        ? this.hosts.get(from.domain)
        : undefined;
    if (sender) {
      const target = to.local === null ? 'host' : to.resource !== null ? 'full' : from.bareEquals(to) ? 'self' : 'bare';
      const event = `pre-${stanza.name as 'message' | 'presence' | 'iq'}/${target}` as const;
      if (sender.bus.has(event)) {
        // A handler may replace ev.stanza with an amended copy (e.g. without a forged XEP-0359 stanza-id); what
        // is routed on is the event's stanza, never a mutated original (DESIGN §9.7).
        const ev: StanzaEvent = { stanza, from, to, origin };
        return sender.bus.fire(event, ev).then(
          (claimed) => (claimed ? undefined : this.deliver(ev.stanza, from, to, origin, started)),
          (err: unknown) => this.bounce(stanza, sender.toStanzaError(err, event), origin),
        );
      }
    }
    return this.deliver(stanza, from, to, origin, started);
  }

  private deliver(stanza: Element, from: Jid, to: Jid, origin: Origin, started: bigint): Promise<void> | undefined {
    const route = this.table.lookup(to.domain);
    let done: Promise<void> | undefined;
    if (route === undefined) {
      if (this.remote) this.remote(stanza, to, origin);
      else this.bounce(stanza, StanzaError.remoteServerNotFound('federation is not enabled'), origin);
    } else if (route.kind === 'local') {
      const host = this.hosts.get(route.host);
      if (host) {
        done = host.dispatch(stanza, from, to, origin).catch((err: unknown) => {
          this.log.error({ err }, 'dispatch failed');
        });
      }
    } else {
      route.deliver(stanza);
    }
    if (this.onRouted) this.onRouted(stanza.name, Number(process.hrtime.bigint() - started) / 1e9);
    return done;
  }

  /** Replies with an error to the sender of a stanza, unless that would answer an error (RFC 6120 §8.3.1). */
  bounce(stanza: Element, err: StanzaError, origin: Origin): void {
    if (!mayBounce(stanza) || !stanza.attrs.from) return;
    const reply = errorReply(stanza, err);
    // The reply's 'from' is the original 'to'; when that was unusable, answer from the sender's own domain.
    if (!reply.attrs.from || !Jid.tryParse(reply.attrs.from)) {
      const sender = Jid.tryParse(stanza.attrs.from);
      if (!sender) return;
      reply.attrs.from = sender.domain;
    }
    this.route(reply, origin);
  }
}
