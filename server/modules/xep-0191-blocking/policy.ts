// XEP-0191 §3.3 enforcement: stanzas between a user and the JIDs on the user's blocklist, both ways.
// Inbound checks sit on the user's host delivery events, outbound checks on the 'pre-*' events the router
// fires on the sender's host, both above every delivering handler.
import type { StanzaEvent } from '../../core/hooks.js';
import type { ModuleContext } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import type { Jid } from '../../jid/index.js';
import { errorReply, mayBounce } from '../../router/stanza.js';
import type { Element } from '../../xml/element.js';
import { blockedError, blockMatches, inboundAnswer } from './codec.js';
import type { BlockLists } from './lists.js';

/** Policy runs before any handler that delivers or answers (those use 0 and below). */
export const POLICY_PRIORITY = 1000;

const INBOUND = ['message/bare', 'message/full', 'presence/bare', 'presence/full', 'iq/bare', 'iq/full'] as const;
const OUTBOUND = [
  'pre-message/bare',
  'pre-message/full',
  'pre-message/host',
  'pre-presence/bare',
  'pre-presence/full',
  'pre-presence/host',
  'pre-iq/bare',
  'pre-iq/full',
  'pre-iq/host',
] as const;

export interface Enforcement {
  /** Routes a stanza the module itself generates for the user, past the outbound check (the unavailable
   *  presence to a JID being blocked, §3.3, and error replies to blocked JIDs). */
  sendUnchecked(stanza: Element): void;
}

export function enforceBlocking(ctx: ModuleContext<unknown>, lists: BlockLists): Enforcement {
  const unchecked = new WeakSet<Element>();
  const sendUnchecked = (stanza: Element): void => {
    unchecked.add(stanza);
    ctx.send(stanza);
  };
  // §5 note: one of the user's resources is never blocked from another; nor is the user's own server.
  const exempt = (peer: Jid, user: Jid): boolean =>
    peer.bareEquals(user) || (peer.local === null && peer.resource === null && peer.domain === ctx.host);

  // Both checks run for every stanza to and from a local user. With the list in memory they answer at once,
  // without a promise: an async check per stanza (and the hook timeout it brings) showed in the message
  // benchmark's profile (docs/benchmarks.md). Only a list that must be loaded makes them wait.
  const withList = (user: string, decide: (list: ReadonlySet<string>) => boolean): boolean | Promise<boolean> => {
    const list = lists.cached(user);
    return list ? decide(list) : lists.get(user).then(decide);
  };

  const inbound = (ev: StanzaEvent): boolean | Promise<boolean> => {
    const user = ev.to.local;
    if (user === null || exempt(ev.from, ev.to)) return false;
    return withList(user, (list) => {
      if (!blockMatches(list, ev.from)) return false;
      if (inboundAnswer(ev.stanza) === 'service-unavailable') {
        sendUnchecked(errorReply(ev.stanza, StanzaError.serviceUnavailable()));
      }
      return true;
    });
  };

  const outbound = (ev: StanzaEvent): boolean | Promise<boolean> => {
    const user = ev.from.local;
    if (unchecked.has(ev.stanza) || user === null || ev.from.domain !== ctx.host || exempt(ev.to, ev.from))
      return false;
    return withList(user, (list) => {
      if (!blockMatches(list, ev.to)) return false;
      // Only a client can be told; what the server sends on the user's behalf (presence broadcasts) is dropped.
      if (ev.origin.kind === 'c2s' && mayBounce(ev.stanza)) ev.origin.send(errorReply(ev.stanza, blockedError()));
      return true;
    });
  };

  for (const event of INBOUND) ctx.hook(event, inbound, POLICY_PRIORITY);
  for (const event of OUTBOUND) ctx.hook(event, outbound, POLICY_PRIORITY);
  return { sendUnchecked };
}
