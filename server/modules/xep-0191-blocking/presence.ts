// XEP-0191 §3.3 / §3.4: presence consequences of blocking and unblocking, decided from the roster
// (RFC 6121 §4: who may see the user's presence, and whose presence the user sees).
import type { SessionInfo } from '../../core/hooks.js';
import type { ModuleContext } from '../../core/module.js';
import { Jid } from '../../jid/index.js';
import { withAddresses } from '../../router/stanza.js';
import { type Element, xml } from '../../xml/element.js';
import type { RosterItem } from '../rfc6121-roster/types.js';
import { blockMatches, coveredAddresses } from './codec.js';

type Ctx = ModuleContext<unknown>;

const seesUser = (item: RosterItem): boolean => item.subscription === 'from' || item.subscription === 'both';
const userSees = (item: RosterItem): boolean => item.subscription === 'to' || item.subscription === 'both';

function availableResources(ctx: Ctx, user: string): SessionInfo[] {
  return ctx.sessions.resources(Jid.of(user, ctx.host)).filter((s) => s.available);
}

/**
 * §3.3: the newly blocked JIDs that may see the user's presence get unavailable presence from each of the
 * user's available resources (sent past the block by `send`); and the user's resources get unavailable
 * presence from the blocked contacts whose presence they were receiving, so that nothing stale stays shown.
 */
export async function presenceOnBlock(
  ctx: Ctx,
  user: string,
  added: readonly string[],
  send: (el: Element) => void,
): Promise<void> {
  const roster = ctx.maybe('roster');
  const mine = availableResources(ctx, user);
  if (!roster || mine.length === 0 || added.length === 0) return;
  const items = new Set(added);
  for (const [contact, item] of await roster.get(ctx.host, user)) {
    const covered = coveredAddresses(items, contact);
    if (covered.length === 0) continue;
    if (seesUser(item)) {
      for (const to of covered)
        for (const s of mine) send(xml('presence', { type: 'unavailable', from: s.jid.toString(), to }));
    }
    if (userSees(item)) {
      for (const from of contactAddresses(ctx, contact, covered)) {
        for (const s of mine) s.send(xml('presence', { type: 'unavailable', from, to: s.jid.toString() }));
      }
    }
  }
}

/** A local contact's available resources, else the covered addresses themselves. */
function contactAddresses(ctx: Ctx, contact: string, covered: readonly string[]): string[] {
  const jid = Jid.tryParse(contact);
  if (!jid || !ctx.isLocalDomain(jid.domain)) return [...covered];
  const full = ctx.sessions
    .resources(jid)
    .filter((s) => s.available)
    .map((s) => s.jid.toString());
  return covered.length === 1 && covered[0] === jid.bareString ? full : full.filter((f) => covered.includes(f));
}

/**
 * §3.4 / §3.5: the unblocked JIDs that may see the user's presence get the current presence of each available
 * resource; contacts whose presence the user subscribes to are probed (RFC 6121 §4.3), so the user sees them
 * again without waiting for their next change.
 */
export async function presenceOnUnblock(
  ctx: Ctx,
  user: string,
  removed: readonly string[],
  stillBlocked: ReadonlySet<string>,
): Promise<void> {
  const roster = ctx.maybe('roster');
  const mine = availableResources(ctx, user);
  if (!roster || mine.length === 0 || removed.length === 0) return;
  const items = new Set(removed);
  const userBare = Jid.of(user, ctx.host).bareString;
  for (const [contact, item] of await roster.get(ctx.host, user)) {
    const covered = coveredAddresses(items, contact).filter((a) => {
      const j = Jid.tryParse(a);
      return j !== null && !blockMatches(stillBlocked, j);
    });
    if (covered.length === 0) continue;
    if (seesUser(item)) {
      for (const to of covered) {
        for (const s of mine) if (s.presence) ctx.send(withAddresses(s.presence, s.jid.toString(), to));
      }
    }
    if (userSees(item)) ctx.send(xml('presence', { type: 'probe', from: userBare, to: contact }));
  }
}
