// RFC 6121 Appendix A: the presence subscription state machine, as pure functions.
// A state is the subscription (none / to / from / both), "pending out" (the user asked the contact), "pending in"
// (the contact asked the user) and the pre-approval of §3.4. Each function answers one row of one table.
import type { SubscriptionSnapshot } from '../rfc6121-roster/types.js';

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export function isSubscriptionType(type: string | undefined): type is SubscriptionType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}

export interface OutboundDecision {
  /** Whether the stanza is routed to the contact (the "Route?" column of A.2). */
  route: boolean;
  /** The new state, or null for "no state change". */
  next: SubscriptionSnapshot | null;
}

export interface InboundDecision {
  /** Whether the stanza is delivered to the user (the "Deliver?" column of A.3). */
  deliver: boolean;
  next: SubscriptionSnapshot | null;
  /** §3.1.3 rule 2 and §3.4: the server answers 'subscribed' on the user's behalf. */
  autoReply?: 'subscribed';
}

const hasTo = (s: SubscriptionSnapshot): boolean => s.subscription === 'to' || s.subscription === 'both';
const hasFrom = (s: SubscriptionSnapshot): boolean => s.subscription === 'from' || s.subscription === 'both';

function join(to: boolean, from: boolean): SubscriptionSnapshot['subscription'] {
  if (to) return from ? 'both' : 'to';
  return from ? 'from' : 'none';
}

function moved(
  s: SubscriptionSnapshot,
  change: Partial<SubscriptionSnapshot> & { to?: boolean; from?: boolean },
): SubscriptionSnapshot {
  const to = change.to ?? hasTo(s);
  const from = change.from ?? hasFrom(s);
  return {
    subscription: join(to, from),
    // A subscription in a direction ends what was pending in that direction.
    pendingOut: to ? false : (change.pendingOut ?? s.pendingOut),
    pendingIn: from ? false : (change.pendingIn ?? s.pendingIn),
    // §3.4: a pre-approval only means something until the contact is subscribed.
    approved: from ? false : (change.approved ?? s.approved),
  };
}

/** Appendix A.2: the user's server processing a subscription stanza the user sent to a contact. */
export function outbound(s: SubscriptionSnapshot, type: SubscriptionType): OutboundDecision {
  switch (type) {
    // A.2.1: always routed (the contact's server auto-replies when already subscribed, §3.1.3); None → None + Pending
    // Out, None + Pending In → None + Pending Out/In, From → From + Pending Out; otherwise no state change.
    case 'subscribe':
      return { route: true, next: hasTo(s) || s.pendingOut ? null : moved(s, { pendingOut: true }) };
    // A.2.2: always routed; the subscription to the contact and any pending out end (To → None, Both → From).
    case 'unsubscribe':
      return { route: true, next: hasTo(s) || s.pendingOut ? moved(s, { to: false, pendingOut: false }) : null };
    // A.2.3: approves a pending in (None + Pending In → From, To + Pending In → Both, …); without a request
    // (None, None + Pending Out, To) it is a pre-approval (§3.4.2), which is not routed.
    case 'subscribed':
      if (s.pendingIn) return { route: true, next: moved(s, { from: true }) };
      if (!hasFrom(s)) return { route: false, next: s.approved ? null : moved(s, { approved: true }) };
      return { route: false, next: null };
    // A.2.4: cancels the contact's subscription (From → None, Both → To) or denies a pending in; otherwise only a
    // pre-approval is withdrawn (§3.4) and nothing is routed.
    case 'unsubscribed':
      if (hasFrom(s) || s.pendingIn)
        return { route: true, next: moved(s, { from: false, pendingIn: false, approved: false }) };
      return { route: false, next: s.approved ? moved(s, { approved: false }) : null };
  }
}

/** Appendix A.3: the user's server processing a subscription stanza a contact sent to the user. */
export function inbound(s: SubscriptionSnapshot, type: SubscriptionType): InboundDecision {
  switch (type) {
    // A.3.1: From, From + Pending Out and Both are answered on the user's behalf (§3.1.3 rule 2), as is a
    // pre-approved contact, which becomes subscribed (§3.4.2). A request already pending in is not delivered
    // again. Otherwise it is delivered and becomes pending in.
    case 'subscribe':
      if (hasFrom(s)) return { deliver: false, next: null, autoReply: 'subscribed' };
      if (s.approved) return { deliver: false, next: moved(s, { from: true }), autoReply: 'subscribed' };
      if (s.pendingIn) return { deliver: false, next: null };
      return { deliver: true, next: moved(s, { pendingIn: true }) };
    // A.3.2: only an approval the user asked for counts (None + Pending Out → To, None + Pending Out/In → To +
    // Pending In, From + Pending Out → Both).
    case 'subscribed':
      if (!s.pendingOut) return { deliver: false, next: null };
      return { deliver: true, next: moved(s, { to: true }) };
    // A.3.3: the contact ends its subscription to the user, or withdraws its request.
    case 'unsubscribe':
      if (!hasFrom(s) && !s.pendingIn) return { deliver: false, next: null };
      return { deliver: true, next: moved(s, { from: false, pendingIn: false }) };
    // A.3.4: the contact cancels the user's subscription, or denies the user's request.
    case 'unsubscribed':
      if (!hasTo(s) && !s.pendingOut) return { deliver: false, next: null };
      return { deliver: true, next: moved(s, { to: false, pendingOut: false }) };
  }
}

/** The Appendix A.1 name of a state, for logs and tests ("None + Pending Out/In", "To + Pending In" …). */
export function stateName(s: SubscriptionSnapshot): string {
  const base = { none: 'None', to: 'To', from: 'From', both: 'Both' }[s.subscription];
  const pending = [s.pendingOut ? 'Out' : null, s.pendingIn ? 'In' : null].filter((p) => p !== null);
  return pending.length === 0 ? base : `${base} + Pending ${pending.join('/')}`;
}

/** Parses an Appendix A.1 state name; the inverse of `stateName` (pre-approval is not part of the name). */
export function parseStateName(name: string): SubscriptionSnapshot {
  const [base = '', pending = ''] = name.split(' + Pending ');
  const subscription = ({ None: 'none', To: 'to', From: 'from', Both: 'both' } as const)[base as 'None'];
  if (subscription === undefined) throw new Error(`unknown state ${name}`);
  const flags = pending.split('/');
  return { subscription, pendingOut: flags.includes('Out'), pendingIn: flags.includes('In'), approved: false };
}
