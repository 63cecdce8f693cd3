// Legacy group chats as XEP-0045 rooms, for drivers that offer them (LegacySession.joinRoom, sink.occupant):
// which of the user's resources joined which room, entry and exit (XEP-0045 §7.2, §7.14), occupant presence and
// groupchat messages fanned out to the joined full JIDs (a groupchat message to a bare JID is not delivered:
// RFC 6121 §8.5.2.1.1), and the exit of every room when the legacy session ends (status 332, XEP-0045 §15.6).
import type { Logger } from 'pino';
import { StanzaError } from '../../server/errors/index.js';
import { Jid, JidError } from '../../server/jid/index.js';
import { errorReply } from '../../server/router/stanza.js';
import { type Element, xml } from '../../server/xml/element.js';
import { NS } from '../../server/xml/ns.js';
import type { AddressMapper } from './address.js';
import {
  type AddressCodec,
  LegacyError,
  type LegacyId,
  type LegacyMessage,
  type LegacyOccupant,
  type LegacySession,
} from './driver.js';
import { contactMessage } from './stanzas.js';

export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

/** XEP-0045 §7.2.3 occupant presence, from `room/nick` to one of the user's full JIDs. */
export function occupantPresence(room: Jid, to: string, o: LegacyOccupant): Element {
  const item = xml('item', {
    affiliation: o.affiliation ?? 'none',
    role: o.role ?? (o.available ? 'participant' : 'none'),
    nick: o.newNick,
  });
  return xml(
    'presence',
    { from: room.withResource(o.nick).toString(), to, type: o.available ? undefined : 'unavailable' },
    o.available && o.show ? xml('show', null, o.show) : null,
    o.status ? xml('status', null, o.status) : null,
    xml('x', { xmlns: NS_MUC_USER }, item, ...(o.codes ?? []).map((code) => xml('status', { code: String(code) }))),
  );
}

/**
 * XEP-0045 §6.4 disco#info on a room JID, for drivers whose codec says the id is a room: identity conference/text
 * and the muc feature, so that clients treat the JID as a room before entering it. Null for other JIDs.
 */
export function roomDiscoInfo(mapper: AddressMapper, codec: AddressCodec, to: Jid, payload: Element): Element | null {
  if (to.resource !== null || payload.attrs.node) return null;
  const id = mapper.fromJid(to);
  if (id === null || !codec.isRoom?.(id)) return null;
  return xml(
    'query',
    { xmlns: NS.DISCO_INFO },
    xml('identity', { category: 'conference', type: 'text', name: id }),
    ...[NS.DISCO_INFO, NS_MUC, 'muc_open', 'muc_semianonymous', 'muc_temporary', 'muc_unsecured'].map((f) =>
      xml('feature', { var: f }),
    ),
  );
}

interface Joined {
  /** The user's own nick in the room, from its latest self-presence (status 110). */
  nick: string;
  readonly resources: Set<string>;
}

export interface RoomsDeps {
  readonly mapper: AddressMapper;
  readonly log: Logger;
  send(el: Element): void;
}

export class Rooms {
  private readonly joined = new Map<LegacyId, Joined>();

  constructor(private readonly deps: RoomsDeps) {}

  /**
   * Rooms are keyed by their JID: the id the user addressed comes back case-folded (RFC 7622), while the driver
   * may report the network's spelling (`#Chan` for `#chan`), and both name the same room JID.
   */
  private key(room: LegacyId): string {
    return this.deps.mapper.tryToJid(room)?.bareString ?? room;
  }

  /** Whether `full` (a resource of the user) is an occupant of `room`. */
  has(room: LegacyId, full?: string): boolean {
    const j = this.joined.get(this.key(room));
    return j !== undefined && (full === undefined || j.resources.has(full));
  }

  /**
   * Presence from the user to `room@gateway/nick`: available enters (XEP-0045 §7.2), unavailable exits (§7.14).
   * Failures become a presence error from the occupant JID (§7.2.6 and following).
   */
  async presence(
    el: Element,
    from: Jid,
    to: Jid,
    room: LegacyId,
    session: () => Promise<LegacySession>,
  ): Promise<void> {
    const full = from.toString();
    const nick = to.resource ?? '';
    if (el.attrs.type === 'unavailable') return this.exit(room, full, to, session, el.getChildText('status'));
    if (el.attrs.type !== undefined) return;
    const current = this.joined.get(this.key(room));
    if (current?.resources.has(full)) return; // presence update or nick change request: IRC-like networks keep it
    let legacy: LegacySession;
    try {
      legacy = await session();
    } catch (err) {
      return this.refuse(el, err);
    }
    if (!legacy.joinRoom) return this.refuse(el, new LegacyError('this gateway has no rooms', 'service-unavailable'));
    const entry = current ?? { nick, resources: new Set<string>() };
    entry.resources.add(full);
    this.joined.set(this.key(room), entry);
    if (current) return; // already in the room through another resource: the driver has nothing to do
    try {
      await legacy.joinRoom(room, nick, el.getChild('x', NS_MUC)?.getChildText('password') ?? undefined);
    } catch (err) {
      entry.resources.delete(full);
      if (entry.resources.size === 0) this.joined.delete(this.key(room));
      this.refuse(el, err);
    }
  }

  /** XEP-0045 §7.2.6 and following: an entry refused, as a presence error carrying the muc `<x/>`. */
  private refuse(el: Element, err: unknown): void {
    const se = err instanceof LegacyError ? new StanzaError(err.condition, err.message) : StanzaError.internal();
    if (!(err instanceof LegacyError)) this.deps.log.warn({ err }, 'room entry failed');
    const reply = errorReply(el, se);
    reply.children.unshift(xml('x', { xmlns: NS_MUC }));
    this.deps.send(reply);
  }

  private async exit(
    room: LegacyId,
    full: string,
    to: Jid,
    session: () => Promise<LegacySession>,
    status: string | null,
  ) {
    const entry = this.joined.get(this.key(room));
    if (!entry?.resources.delete(full)) return;
    // XEP-0045 §7.14: the leaving occupant gets its own unavailable presence with status 110.
    const self: LegacyOccupant = { nick: entry.nick, available: false, codes: [110] };
    this.deps.send(occupantPresence(to.bare(), full, self));
    if (entry.resources.size > 0) return;
    this.joined.delete(this.key(room));
    const legacy = await session().catch(() => null); // logged out already: nothing to leave
    await legacy?.leaveRoom?.(room, status ?? undefined);
  }

  /** sink.occupant(): fans the presence out to the joined resources; the user's own exit forgets the room. */
  occupant(room: LegacyId, o: LegacyOccupant): void {
    const entry = this.joined.get(this.key(room));
    const jid = entry ? this.deps.mapper.tryToJid(room) : null;
    if (!entry || !jid) return;
    const self = o.codes?.includes(110) ?? false;
    for (const full of entry.resources) this.send(() => occupantPresence(jid, full, o));
    if (!self) return;
    if (o.available) entry.nick = o.nick;
    else if (o.newNick !== undefined) entry.nick = o.newNick;
    else this.joined.delete(this.key(room));
  }

  /** sink.message() of type groupchat: to every joined resource; dropped when the user is not in the room. */
  message(room: LegacyId, m: LegacyMessage): void {
    const entry = this.joined.get(this.key(room));
    const jid = entry ? this.deps.mapper.tryToJid(room) : null;
    if (!entry || !jid) {
      this.deps.log.debug({ room }, 'groupchat message for a room the user is not in; dropped');
      return;
    }
    for (const full of entry.resources) this.send(() => contactMessage(jid, full, m));
  }

  /** A nick the legacy network accepts may still be no valid resourcepart (RFC 7622 §3.4): drop, never throw. */
  private send(build: () => Element): void {
    let el: Element;
    try {
      el = build();
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      this.deps.log.info({ err: err.message }, 'occupant nick is not a valid resourcepart; stanza dropped');
      return;
    }
    this.deps.send(el);
  }

  /** The legacy session ended: every room is left, shown as XEP-0045 status 332 (service shut down). */
  gone(reason: string): void {
    for (const [key, entry] of this.joined) {
      const jid = Jid.tryParse(key);
      const o: LegacyOccupant = { nick: entry.nick, available: false, status: reason, codes: [110, 332] };
      if (jid) for (const full of entry.resources) this.send(() => occupantPresence(jid, full, o));
    }
    this.joined.clear();
  }
}
