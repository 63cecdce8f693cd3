// RFC 6121 §3: subscription stanzas the user sends (Appendix A.2) and receives (Appendix A.3), and §4.3 probes.
import type { StanzaEvent } from '../../core/hooks.js';
import { StanzaError } from '../../errors/index.js';
import type { Jid } from '../../jid/index.js';
import { errorReply } from '../../router/stanza.js';
import type { SubscriptionSnapshot } from '../rfc6121-roster/types.js';
import { keptRequest, type LastRecord, lastUnavailable, readdress, typedPresence } from './codec.js';
import { availableResources, type Ctx, type Deps } from './state.js';
import {
  type InboundDecision,
  inbound,
  type OutboundDecision,
  outbound,
  type SubscriptionType,
} from './subscription.js';

const hasFrom = (s: SubscriptionSnapshot): boolean => s.subscription === 'from' || s.subscription === 'both';

/** Appendix A.2: a subscription stanza from one of the user's resources, on its way out. */
export async function outboundSubscription(deps: Deps, ev: StanzaEvent, type: SubscriptionType): Promise<void> {
  const { ctx, roster } = deps;
  const userBare = ev.from.bareString;
  // §3.1.2: subscriptions are between bare JIDs; a full JID is treated as the bare one.
  const contact = ev.to.bareString;
  if (contact === userBare || ev.from.local === null) return;
  let outcome: { d: OutboundDecision; before: SubscriptionSnapshot };
  try {
    outcome = await roster.update(ctx.host, ev.from.local, contact, (cur) => {
      const d = outbound(cur, type);
      return { next: d.next, result: { d, before: cur } };
    });
  } catch (err) {
    if (!(err instanceof StanzaError)) throw err;
    // The roster is full: the request is not sent, and the client learns why (RFC 6120 §8.3).
    ctx.sessions.get(ev.from)?.send(errorReply(ev.stanza, err));
    return;
  }
  const { d, before } = outcome;
  if (!d.route) return;
  // §3.1.2 (and §3.2.2, §3.3.2): the server stamps the user's bare JID on outbound subscription stanzas.
  ctx.send(readdress(ev.stanza, userBare, contact));
  // §3.1.5: approving a request shares the user's presence at once, from each available resource.
  if (type === 'subscribed') sendCurrentPresence(ctx, userBare, contact);
  // §3.2.2: cancelling the contact's subscription sends it unavailable from each available resource.
  if (type === 'unsubscribed' && hasFrom(before)) sendUnavailable(ctx, userBare, contact);
}

/** Appendix A.3: a subscription stanza addressed to the user (a full JID counts as the bare one, §3.1.3). */
export async function inboundSubscription(deps: Deps, ev: StanzaEvent, type: SubscriptionType): Promise<void> {
  const { ctx, roster } = deps;
  const user = ev.to.local;
  const userBare = ev.to.bareString;
  const contact = ev.from.bareString;
  if (user === null || contact === userBare) return;
  if (!(await accountExists(ctx, ev.to))) {
    // RFC 6121 §8.5.1: a subscribe to no such user is answered with unsubscribed; the other types are ignored.
    if (type === 'subscribe') ctx.send(typedPresence('unsubscribed', userBare, contact));
    return;
  }
  const kept = type === 'subscribe' ? keptRequest(ev.stanza, contact, userBare) : undefined;
  let outcome: { d: InboundDecision; before: SubscriptionSnapshot };
  try {
    outcome = await roster.update(ctx.host, user, contact, (cur) => {
      const d = inbound(cur, type);
      return kept === undefined
        ? { next: d.next, result: { d, before: cur } }
        : { next: d.next, pendingStanza: kept, result: { d, before: cur } };
    });
  } catch (err) {
    if (!(err instanceof StanzaError)) throw err;
    // Too many requests are pending for this user: the request is dropped rather than stored.
    ctx.log.debug({ user: userBare, contact, condition: err.condition }, 'subscription request not stored');
    return;
  }
  const { d, before } = outcome;
  if (!d.deliver && !d.autoReply) return;
  // A contact repeating requests (or alternating them) gets a bounded number through to the user.
  if (!deps.limiter.allow(`${userBare} ${contact}`)) {
    ctx.log.debug({ user: userBare, contact, type }, 'subscription stanza over the rate limit: not delivered');
    return;
  }
  // §3.1.3 rule 3, §3.1.6, §3.2.3, §3.3.3: delivered to every available resource, 'from' the contact's bare JID.
  if (d.deliver) for (const s of availableResources(ctx, userBare)) s.send(readdress(ev.stanza, contact, userBare));
  if (d.autoReply) {
    // §3.1.3 rule 2 and §3.4.2: answered on the user's behalf, and the user's presence follows (§3.1.5).
    ctx.send(typedPresence('subscribed', userBare, contact));
    sendCurrentPresence(ctx, userBare, contact);
  }
  // §3.3.3: the contact no longer receives the user's presence: unavailable from each available resource.
  if (type === 'unsubscribe' && d.deliver && hasFrom(before)) sendUnavailable(ctx, userBare, contact);
}

/** RFC 6121 §4.3.2: the server answers a probe of a local user on the user's behalf. */
export async function answerProbe(deps: Deps, ev: StanzaEvent): Promise<void> {
  const { ctx, roster } = deps;
  const user = ev.to.local;
  const userBare = ev.to.bareString;
  const prober = ev.from;
  // The user's own resources see each other's broadcasts (§4.2.2); §8.5.1: no such user: ignored.
  if (user === null || prober.bareString === userBare || !(await accountExists(ctx, ev.to))) return;
  // §4.3.2 rule 1: not subscribed to the user: no presence, and unsubscribed so the prober's server can correct
  // its state.
  if (!(await roster.sharesPresenceWith(ctx.host, user, prober.bareString))) {
    ctx.send(typedPresence('unsubscribed', userBare, prober.bareString));
    return;
  }
  const online = availableResources(ctx, userBare);
  // §4.3.2 rule 3: no available resource: unavailable from the bare JID, with the status of the user's last
  // unavailable presence and an XEP-0203 delay stamped with when the user went offline, when recorded.
  if (online.length === 0) {
    ctx.send(lastUnavailable(userBare, prober.toString(), await lastPresence(deps, user), ctx.host));
    return;
  }
  // §4.3.2 rule 4: the last presence without 'to' of each available resource.
  for (const s of online) if (s.presence) ctx.send(readdress(s.presence, s.jid.toString(), prober.toString()));
}

async function lastPresence(deps: Deps, user: string): Promise<LastRecord | null> {
  try {
    return await deps.last.get(user);
  } catch (err) {
    // Without the record the answer is still correct, only less informative.
    deps.ctx.log.error({ err, user }, 'reading the last presence failed');
    return null;
  }
}

function sendCurrentPresence(ctx: Ctx, userBare: string, contact: string): void {
  for (const s of availableResources(ctx, userBare))
    if (s.presence) ctx.send(readdress(s.presence, s.jid.toString(), contact));
}

function sendUnavailable(ctx: Ctx, userBare: string, contact: string): void {
  for (const s of availableResources(ctx, userBare)) ctx.send(typedPresence('unavailable', s.jid.toString(), contact));
}

async function accountExists(ctx: Ctx, jid: Jid): Promise<boolean> {
  if (ctx.sessions.resources(jid.bareString).length > 0) return true;
  return ctx.accounts.exists(ctx.host, jid.local ?? '');
}
