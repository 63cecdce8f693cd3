// RFC 6121 Appendix A as data: the four outbound (A.2) and four inbound (A.3) tables, row by row, shared by the
// unit spec of the state machine and the conversation spec that plays every row over the wire.
import type { SubscriptionType } from '../../server/modules/rfc6121-presence/subscription.js';

export type { SubscriptionType };

export type State =
  | 'None'
  | 'None + Pending Out'
  | 'None + Pending In'
  | 'None + Pending Out/In'
  | 'To'
  | 'To + Pending In'
  | 'From'
  | 'From + Pending Out'
  | 'Both';
/** What the contact's server receives besides the routed stanza: the user's presence, or its unavailable. */
export type Extra = 'subscribed' | 'available' | 'unavailable';
/** [existing state, routed (A.2) or delivered (A.3)?, new state or null for no change, what else the contact gets] */
export type Row = [State, boolean, State | null, Extra[]?];

// RFC 6121 Appendix A.2: the user's server processing what the user sends.
export const OUTBOUND: Record<SubscriptionType, Row[]> = {
  subscribe: [
    ['None', true, 'None + Pending Out'],
    ['None + Pending Out', true, null],
    ['None + Pending In', true, 'None + Pending Out/In'],
    ['None + Pending Out/In', true, null],
    ['To', true, null],
    ['To + Pending In', true, null],
    ['From', true, 'From + Pending Out'],
    ['From + Pending Out', true, null],
    ['Both', true, null],
  ],
  unsubscribe: [
    ['None', true, null],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', true, null],
    ['None + Pending Out/In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', true, null],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ],
  // §3.1.5: an approval is followed by the user's presence. None, None + Pending Out and To: see §3.4 below.
  subscribed: [
    ['None + Pending In', true, 'From', ['available']],
    ['None + Pending Out/In', true, 'From + Pending Out', ['available']],
    ['To + Pending In', true, 'Both', ['available']],
    ['From', false, null],
    ['From + Pending Out', false, null],
    ['Both', false, null],
  ],
  // §3.2.2: cancelling a subscription is followed by unavailable presence.
  unsubscribed: [
    ['None', false, null],
    ['None + Pending Out', false, null],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out/In', true, 'None + Pending Out'],
    ['To', false, null],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None', ['unavailable']],
    ['From + Pending Out', true, 'None + Pending Out', ['unavailable']],
    ['Both', true, 'To', ['unavailable']],
  ],
};

// RFC 6121 Appendix A.3: the user's server processing what the contact sends.
export const INBOUND: Record<SubscriptionType, Row[]> = {
  // §3.1.3 rule 2: a contact already subscribed is answered on the user's behalf, and gets the user's presence.
  subscribe: [
    ['None', true, 'None + Pending In'],
    ['None + Pending Out', true, 'None + Pending Out/In'],
    ['None + Pending In', false, null],
    ['None + Pending Out/In', false, null],
    ['To', true, 'To + Pending In'],
    ['To + Pending In', false, null],
    ['From', false, null, ['subscribed', 'available']],
    ['From + Pending Out', false, null, ['subscribed', 'available']],
    ['Both', false, null, ['subscribed', 'available']],
  ],
  subscribed: [
    ['None', false, null],
    ['None + Pending Out', true, 'To'],
    ['None + Pending In', false, null],
    ['None + Pending Out/In', true, 'To + Pending In'],
    ['To', false, null],
    ['To + Pending In', false, null],
    ['From', false, null],
    ['From + Pending Out', true, 'Both'],
    ['Both', false, null],
  ],
  // §3.3.3: a contact that unsubscribes gets unavailable presence from the user's resources.
  unsubscribe: [
    ['None', false, null],
    ['None + Pending Out', false, null],
    ['None + Pending In', true, 'None'],
    ['None + Pending Out/In', true, 'None + Pending Out'],
    ['To', false, null],
    ['To + Pending In', true, 'To'],
    ['From', true, 'None', ['unavailable']],
    ['From + Pending Out', true, 'None + Pending Out', ['unavailable']],
    ['Both', true, 'To', ['unavailable']],
  ],
  unsubscribed: [
    ['None', false, null],
    ['None + Pending Out', true, 'None'],
    ['None + Pending In', false, null],
    ['None + Pending Out/In', true, 'None + Pending In'],
    ['To', true, 'None'],
    ['To + Pending In', true, 'None + Pending In'],
    ['From', false, null],
    ['From + Pending Out', true, 'From'],
    ['Both', true, 'From'],
  ],
};

/** The nine states of Appendix A.1. */
export const STATES: readonly State[] = [
  'None',
  'None + Pending Out',
  'None + Pending In',
  'None + Pending Out/In',
  'To',
  'To + Pending In',
  'From',
  'From + Pending Out',
  'Both',
];
