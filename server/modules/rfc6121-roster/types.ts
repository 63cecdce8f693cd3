// The roster service other modules use (blocking, last activity, presence). RFC 6121 §2.1.2 item attributes.
export type SubscriptionState = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  /** Bare JID of the contact, prepared. */
  jid: string;
  name?: string;
  subscription: SubscriptionState;
  /** RFC 6121 §2.1.2.2: an outbound subscription request is pending ("pending out"). */
  ask?: 'subscribe';
  /** RFC 6121 §3.4: subscription pre-approved by the user. */
  approved?: boolean;
  /** RFC 6121 §3.1.3: an inbound subscription request awaits the user's answer ("pending in"); not shown to clients. */
  pendingIn?: boolean;
  groups: string[];
}

export interface RosterService {
  /** The user's whole roster keyed by contact bare JID. */
  get(host: string, user: string): Promise<Map<string, RosterItem>>;
  item(host: string, user: string, contact: string): Promise<RosterItem | null>;
  /** True when the contact is allowed to see the user's presence (subscription from or both). */
  sharesPresenceWith(host: string, user: string, contact: string): Promise<boolean>;
  /** Replaces or removes (item null) one item and pushes it to the user's interested resources (RFC 6121 §2.1.6). */
  setItem(host: string, user: string, contact: string, item: RosterItem | null): Promise<void>;
}

declare module '../../core/module.js' {
  interface Services {
    roster: RosterService;
  }
}
