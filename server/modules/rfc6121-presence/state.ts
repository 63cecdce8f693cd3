// What the presence handlers share: their dependencies and the per-session presence state.
import type { SessionInfo } from '../../core/hooks.js';
import type { ModuleContext } from '../../core/module.js';
import type { RosterItem, RosterService } from '../rfc6121-roster/types.js';
import type { LastPresenceStore } from './last-presence.js';
import type { KeyedRateLimiter } from './rate-limit.js';

export type Ctx = ModuleContext<Record<string, never>>;

export interface Deps {
  ctx: Ctx;
  roster: RosterService;
  /** Bounds deliveries and automatic answers per (user, contact) pair. */
  limiter: KeyedRateLimiter;
  /** The accounts' last unavailable presence (RFC 6121 §4.3.2, XEP-0012 §3). */
  last: LastPresenceStore;
}

/** Per-session presence state, kept beside the session's own `available` flag (which the core resets on close). */
export interface PresenceState {
  /** The resource sent initial presence and has not gone unavailable (RFC 6121 §4.2, §4.5). */
  available: boolean;
  /**
   * Entities that received directed available presence from this resource and are not contacts (§4.6.2); made
   * on the first such presence (few resources send any), so an idle session does not carry an empty set.
   */
  directed: Set<string> | null;
  /** Status text of this resource's latest unavailable presence, cleared when it becomes available again. */
  unavailableStatus?: string;
  /** The account is being deleted: nothing more is recorded for it when this session ends. */
  accountRemoved?: boolean;
}

const STATE_KEY = 'presence';
/** Directed presence is remembered for this many entities per resource at most. */
export const MAX_DIRECTED = 1000;

export function presenceState(session: SessionInfo): PresenceState {
  let st = session.state.get(STATE_KEY) as PresenceState | undefined;
  if (!st) {
    st = { available: false, directed: null };
    session.state.set(STATE_KEY, st);
  }
  return st;
}

export function peekPresenceState(session: SessionInfo): PresenceState | undefined {
  return session.state.get(STATE_KEY) as PresenceState | undefined;
}

/** RFC 6121 §4.2.2: contacts subscribed to the user's presence (from, both). */
export function subscribers(roster: Map<string, RosterItem>): string[] {
  return [...roster.values()].filter((i) => i.subscription === 'from' || i.subscription === 'both').map((i) => i.jid);
}

/** RFC 6121 §4.2.2: contacts whose presence the user is subscribed to (to, both): they are probed. */
export function subscriptions(roster: Map<string, RosterItem>): string[] {
  return [...roster.values()].filter((i) => i.subscription === 'to' || i.subscription === 'both').map((i) => i.jid);
}

/** The user's available resources (RFC 6121 §4.1: those that sent initial presence). */
export function availableResources(ctx: Ctx, bare: string): SessionInfo[] {
  return ctx.sessions.resources(bare).filter((s) => s.available);
}
