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

/**
 * One contact's place in the RFC 6121 Appendix A state machine: the subscription plus the two pending flags and
 * the pre-approval (§3.4). It exists whether or not the contact has a visible roster item.
 */
export interface SubscriptionSnapshot {
  subscription: SubscriptionState;
  pendingOut: boolean;
  pendingIn: boolean;
  approved: boolean;
}

/** What a state change decided: the next state, the inbound request to keep (§3.1.3) and a caller-defined result. */
export interface SubscriptionUpdate<R> {
  /** The next state; null leaves everything unchanged. */
  next: SubscriptionSnapshot | null;
  /** The subscribe stanza (serialized) to keep while the request is pending in; only used when it becomes pending. */
  pendingStanza?: string;
  result: R;
}

export interface PendingRequest {
  /** Bare JID of the contact that asked. */
  jid: string;
  /** The original subscribe stanza, serialized, when it was kept (its status and nick). */
  stanza: string | null;
}

export interface RosterService {
  /** The user's whole roster keyed by contact bare JID. */
  get(host: string, user: string): Promise<Map<string, RosterItem>>;
  item(host: string, user: string, contact: string): Promise<RosterItem | null>;
  /** True when the contact is allowed to see the user's presence (subscription from or both). */
  sharesPresenceWith(host: string, user: string, contact: string): Promise<boolean>;
  /** Replaces or removes (item null) one item and pushes it to the user's interested resources (RFC 6121 §2.1.6). */
  setItem(host: string, user: string, contact: string, item: RosterItem | null): Promise<void>;
  /**
   * Applies one subscription state change (RFC 6121 §3, Appendix A) under the user's lock: `decide` sees the
   * current state and returns the next. Visible changes are stored, versioned and pushed (RFC 6121 §2.1.6); a
   * roster item is created when the new state needs one. Throws StanzaError not-allowed when the roster is full.
   */
  update<R>(
    host: string,
    user: string,
    contact: string,
    decide: (current: SubscriptionSnapshot) => SubscriptionUpdate<R>,
  ): Promise<R>;
  /** Inbound subscription requests still awaiting the user's answer (RFC 6121 §3.1.3). */
  pendingRequests(host: string, user: string): Promise<PendingRequest[]>;
}

declare module '../../core/module.js' {
  interface Services {
    roster: RosterService;
  }
}
