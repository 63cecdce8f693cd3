// What goes into user archives (XEP-0313 §6.1.1): each one-to-one message once in the sender's archive (on the
// sender's 'pre-message/*' events) and once in the recipient's (on its delivery events), with the XEP-0359
// stanza-id of the recipient's archive stamped on the copy the recipient gets (XEP-0313 §3.5).
import type { ArchiveStore } from '../../../storage/api/index.js';
import type { StanzaEvent } from '../../core/hooks.js';
import type { ModuleContext } from '../../core/module.js';
import { Jid } from '../../jid/index.js';
import type { Element } from '../../xml/element.js';
import { withoutStanzaIds, withStanzaId } from '../xep-0359-sid/codec.js';
import type { ArchiveIds } from './ids.js';
import type { PrefsStore } from './prefs.js';
import { prefsDecision } from './prefs-codec.js';
import { archivable, searchText } from './rules.js';

/** After blocking (1000) and forged carbons (900), before carbons copy the sent message (0). */
export const OUTBOUND_PRIORITY = 500;
/** After blocking and forged carbons, before <private/> removal (20), offline ordering (10) and delivery (-100). */
export const INBOUND_PRIORITY = 50;

export interface Archiving {
  /** The archive id of an outgoing message, by the element the 'pre-message/*' handlers after us see. */
  sentIds: WeakMap<Element, string>;
}

export function archiveMessages(
  ctx: ModuleContext<unknown>,
  archive: ArchiveStore<string>,
  ids: ArchiveIds,
  prefs: PrefsStore,
): Archiving {
  const sentIds = new WeakMap<Element, string>();

  /** XEP-0441 §2.3: the account's preferences for the other party (its 'to' or 'from'). */
  const wanted = async (user: string, peer: Jid): Promise<boolean> => {
    const decision = prefsDecision(await prefs.get(user), peer);
    if (decision !== 'roster') return decision === 'archive';
    // §2.1.1 'roster': the contact's bare JID must be in the roster; the account itself always is.
    if (peer.local === user && peer.domain === ctx.host) return true;
    const roster = ctx.maybe('roster');
    return roster !== undefined && (await roster.item(ctx.host, user, peer.bareString)) !== null;
  };

  const store = async (user: string, message: Element, peer: Jid): Promise<string | undefined> => {
    try {
      const text = searchText(message);
      const item = { with: peer.bareString, value: message.toString(), ...(text === undefined ? {} : { text }) };
      return ids.encode(await archive.append(ctx.host, user, item));
    } catch (err) {
      // The message is still delivered: a storage failure loses an archive entry, never the message itself.
      ctx.log.error({ err, user }, 'could not archive a message');
      return undefined;
    }
  };

  const exists = async (account: Jid): Promise<boolean> =>
    ctx.sessions.resources(account).length > 0 || (await ctx.accounts.exists(ctx.host, account.local ?? ''));

  // Incoming: XEP-0359 §5 rule 3, a stanza-id claiming the recipient's archive is removed whatever happens next;
  // an archived message gets the real one. Only existing accounts have archives (RFC 6121 §8.5.1).
  const inbound = async (ev: StanzaEvent): Promise<boolean> => {
    const user = ev.to.local;
    if (user === null) return false;
    const owner = ev.to.bare();
    let stanza = withoutStanzaIds(ev.stanza, (by) => by?.equals(owner) === true);
    if (archivable(stanza) && (await exists(owner)) && (await wanted(user, ev.from))) {
      const id = await store(user, stanza, ev.from);
      if (id !== undefined) stanza = withStanzaId(stanza, id, owner);
    }
    if (stanza !== ev.stanza) ev.stanza = stanza;
    return false;
  };
  ctx.hook('message/bare', inbound, INBOUND_PRIORITY);
  ctx.hook('message/full', inbound, INBOUND_PRIORITY);

  // Outgoing, from the user's own clients: a client may not put stanza-ids of local archives on what it sends
  // (the recipient would take them for its server's). Messages between one account's resources are archived
  // once, as incoming (XEP-0313 §6.1.1: one copy per archive).
  const outbound = async (ev: StanzaEvent): Promise<boolean> => {
    if (ev.origin.kind !== 'c2s') return false;
    const stanza = withoutStanzaIds(
      ev.stanza,
      (by) => by !== null && by.local !== null && ctx.isLocalDomain(by.domain),
    );
    if (stanza !== ev.stanza) ev.stanza = stanza;
    const user = ev.from.local;
    if (user === null || ev.from.bareEquals(ev.to) || !archivable(stanza)) return false;
    if (!(await wanted(user, ev.to))) return false;
    const id = await store(user, stanza, ev.to);
    if (id !== undefined) sentIds.set(stanza, id);
    return false;
  };
  ctx.hook('pre-message/bare', outbound, OUTBOUND_PRIORITY);
  ctx.hook('pre-message/full', outbound, OUTBOUND_PRIORITY);

  return { sentIds };
}

/** §4.1.1: whether a message was exchanged with exactly this full JID. */
export function exchangedWith(message: Element, jid: Jid): boolean {
  const from = Jid.tryParse(message.attrs.from);
  const to = Jid.tryParse(message.attrs.to);
  return from?.equals(jid) === true || to?.equals(jid) === true;
}
