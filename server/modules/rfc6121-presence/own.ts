// RFC 6121 §4.2–§4.6: the user's own presence: initial presence, updates, unavailable (sent or implied by the
// session ending) and the directed presence that unavailable must also reach.
import type { SessionInfo, StanzaEvent } from '../../core/hooks.js';
import { Jid } from '../../jid/index.js';
import { type Element, xml } from '../../xml/element.js';
import type {} from '../xep-0191-blocking/types.js';
import { applyOwnPresence, pendingRequest, probe, readdress, typedPresence, unavailableStatus } from './codec.js';
import {
  availableResources,
  type Deps,
  MAX_DIRECTED,
  type PresenceState,
  peekPresenceState,
  presenceState,
  subscribers,
  subscriptions,
} from './state.js';

/** A presence the user's client sent without 'to' (it arrives addressed to the user's bare JID, target 'self'). */
export async function ownPresence(deps: Deps, ev: StanzaEvent): Promise<void> {
  const type = ev.stanza.attrs.type;
  // Only availability is broadcast (§4.2, §4.4, §4.5). Subscriptions to oneself have no meaning, a probe of
  // oneself is not needed (the resources see each other's broadcasts) and a presence error is never answered.
  if (type !== undefined && type !== 'unavailable') return;
  const session = deps.ctx.sessions.get(ev.from);
  if (!session) return;
  const st = presenceState(session);
  if (type === undefined) {
    const initial = !st.available;
    // RFC 6121 §8.5.2.1.1: only an available resource with a non-negative priority gets bare-JID messages.
    const wasDeliverable = st.available && session.priority >= 0;
    applyOwnPresence(session, ev.stanza);
    st.available = true;
    st.unavailableStatus = undefined;
    await broadcastAvailable(deps, session, ev.stanza, initial);
    if (initial) await becameAvailable(deps, session);
    // XEP-0160 §2: a resource that started with a negative priority and raises it gets the stored messages now.
    if (!wasDeliverable && session.priority >= 0) await fireSafely(deps, 'session-deliverable', session);
    return;
  }
  const wasAvailable = st.available;
  applyOwnPresence(session, ev.stanza);
  st.available = false;
  st.unavailableStatus = unavailableStatus(ev.stanza);
  await broadcastUnavailable(deps, session, ev.stanza, wasAvailable);
  if (!wasAvailable) return;
  await recordUnavailable(deps, session, st.unavailableStatus);
  await fireSafely(deps, 'session-unavailable', session);
}

/**
 * RFC 6121 §4.5.2: a session that ends without unavailable presence gets one broadcast on its behalf. The last
 * connected resource going away is also the account's logout (XEP-0012 §3).
 */
export async function sessionEnded(deps: Deps, session: SessionInfo): Promise<void> {
  const st = peekPresenceState(session);
  if (st && (st.available || (st.directed !== null && st.directed.size > 0))) await announceEnd(deps, session, st);
  if (st?.accountRemoved || deps.ctx.sessions.resources(session.jid.bareString).length > 0) return;
  const status = st?.unavailableStatus;
  await recordSafely(deps, session, () => deps.last.loggedOut(session.username, status));
}

async function announceEnd(deps: Deps, session: SessionInfo, st: PresenceState): Promise<void> {
  const wasAvailable = st.available;
  st.available = false;
  // RFC 6120 §7.7.2.2: a session replaced by a newer one on the same full JID that is already available must
  // not make that resource look offline.
  const current = deps.ctx.sessions.get(session.jid);
  if (current && current !== session && current.available) return;
  await broadcastUnavailable(deps, session, xml('presence', { type: 'unavailable' }), wasAvailable);
  if (!wasAvailable) return;
  await recordUnavailable(deps, session, undefined);
  await fireSafely(deps, 'session-unavailable', session);
}

/**
 * The account's last available resource became unavailable: its presence is remembered for probe answers
 * (RFC 6121 §4.3.2), with the status text if the unavailable presence had one.
 */
async function recordUnavailable(deps: Deps, session: SessionInfo, status: string | undefined): Promise<void> {
  if (peekPresenceState(session)?.accountRemoved) return;
  if (availableResources(deps.ctx, session.jid.bareString).length > 0) return;
  await recordSafely(deps, session, () => deps.last.wentUnavailable(session.username, status));
}

async function recordSafely(deps: Deps, session: SessionInfo, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (err) {
    // A storage failure costs the probe answers their stamp, not the presence change that already went out.
    deps.ctx.log.error({ err, jid: session.jid.toString() }, 'recording the last presence failed');
  }
}

/** §4.2.2 (initial) and §4.4.2 (update): to the contacts subscribed to the user and to the user's resources. */
async function broadcastAvailable(deps: Deps, session: SessionInfo, stanza: Element, initial: boolean): Promise<void> {
  const { ctx, roster } = deps;
  const full = session.jid.toString();
  const bare = session.jid.bareString;
  const items = await roster.get(ctx.host, session.username);
  for (const contact of subscribers(items)) ctx.send(readdress(stanza, full, contact));
  // §4.2.2: every available resource of the user, including the one that sent it.
  for (const s of ctx.sessions.resources(bare)) {
    if (s.available || s === session) s.send(readdress(stanza, full, s.jid.toString()));
  }
  // §4.2.2, §4.3.1: initial presence also probes the contacts the user is subscribed to, from the bare JID.
  if (initial) for (const contact of subscriptions(items)) ctx.send(probe(bare, contact));
}

/** §4.5.2: to subscribed contacts (if the resource was available), to directed-presence entities (§4.6.3) and own resources. */
async function broadcastUnavailable(
  deps: Deps,
  session: SessionInfo,
  stanza: Element,
  wasAvailable: boolean,
): Promise<void> {
  const { ctx, roster } = deps;
  const full = session.jid.toString();
  const st = presenceState(session);
  const targets = new Set<string>();
  if (wasAvailable)
    for (const contact of subscribers(await roster.get(ctx.host, session.username))) targets.add(contact);
  for (const d of st.directed ?? []) {
    const bare = d.split('/')[0] ?? d;
    if (!targets.has(bare)) targets.add(d);
  }
  st.directed = null;
  for (const t of targets) ctx.send(readdress(stanza, full, t));
  if (!wasAvailable) return;
  for (const s of ctx.sessions.resources(session.jid.bareString)) {
    if (s.available || s === session) s.send(readdress(stanza, full, s.jid.toString()));
  }
}

/** After initial presence: pending subscription requests (§3.1.3), then the 'session-available' hook. */
async function becameAvailable(deps: Deps, session: SessionInfo): Promise<void> {
  const { ctx, roster } = deps;
  const bare = session.jid.bareString;
  // §3.1.3 rule 4: a pending request is delivered whenever the user creates an available resource, until answered.
  const blocking = ctx.maybe('blocking');
  for (const req of await roster.pendingRequests(ctx.host, session.username)) {
    // Kept requests skip the router's inbound policy, so a contact blocked since (XEP-0191 §3.3) is checked here.
    const contact = Jid.tryParse(req.jid);
    if (!contact || (blocking && (await blocking.isBlocked(session.username, contact)))) continue;
    let request: Element;
    try {
      request = pendingRequest(req.stanza, req.jid, bare);
    } catch (err) {
      // A kept stanza that no longer parses still stands for a request: deliver a plain one instead.
      ctx.log.warn({ err, contact: req.jid }, 'kept subscription request is unreadable');
      request = typedPresence('subscribe', req.jid, bare);
    }
    session.send(request);
  }
  await fireSafely(deps, 'session-available', session);
}

/**
 * RFC 6121 §4.6.2: directed presence from a resource is remembered so that its unavailable reaches the entity
 * too (§4.6.3); contacts subscribed to the user get the broadcast anyway and need no entry.
 */
export async function trackDirected(deps: Deps, ev: StanzaEvent): Promise<void> {
  const session = deps.ctx.sessions.get(ev.from);
  // Presence to one of the user's own resources needs no unavailable later: they see the broadcast.
  if (!session || ev.to.bareEquals(ev.from)) return;
  const target = ev.to.toString();
  if (ev.stanza.attrs.type === 'unavailable') {
    peekPresenceState(session)?.directed?.delete(target);
    return;
  }
  if (await deps.roster.sharesPresenceWith(deps.ctx.host, session.username, ev.to.bareString)) return;
  const st = presenceState(session);
  st.directed ??= new Set();
  if (st.directed.size < MAX_DIRECTED) st.directed.add(target);
}

async function fireSafely(
  deps: Deps,
  event: 'session-available' | 'session-deliverable' | 'session-unavailable',
  session: SessionInfo,
): Promise<void> {
  try {
    await deps.ctx.fire(event, { session });
  } catch (err) {
    // A failing listener (offline delivery, say) must not undo the presence change that already went out.
    deps.ctx.log.error({ err, event, jid: session.jid.toString() }, 'presence event listener failed');
  }
}
