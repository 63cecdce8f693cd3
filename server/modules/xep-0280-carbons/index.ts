// XEP-0280 Message Carbons: every carbons-enabled resource of an account sees both sides of its conversations.
// Received copies follow the message module's delivery ('message-delivered'), sent copies are made on the
// sender's 'pre-message/*' events; wrappers forged by anyone else are dropped or refused (§11).
import { Type } from '@sinclair/typebox';
import type { SessionInfo, StanzaEvent } from '../../core/hooks.js';
import { defineModule } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { errorReply, mayBounce } from '../../router/stanza.js';
import type { Element } from '../../xml/element.js';
import type {} from '../xep-0313-mam/types.js';
import { withStanzaId } from '../xep-0359-sid/codec.js';
import { carbonCopy, carbonWrapper, eligibility, NS_CARBONS, noCopies, withoutPrivate } from './codec.js';
import { type Direction, ErrorReplies } from './error-replies.js';

/** Session state key (SessionInfo.state) of a resource that enabled carbons (§4). */
const ENABLED = 'carbons';
/** Forged wrappers are dealt with before archiving (XEP-0313, 500 / 50) and delivery, after blocking (1000). */
const FORGERY_PRIORITY = 900;
/** <private/> is removed after archiving stamped its stanza-id (50), before delivery (-100). */
const PRIVATE_PRIORITY = 20;

export default defineModule({
  name: 'carbons',
  specs: [
    {
      xep: 280,
      version: '1.0.1',
      status: 'complete',
      note: '§6 rules as suggested, errors correlated with a bounded memory of recent messages',
    },
    { xep: 297, version: '1.0', status: 'complete', note: 'forwarding, for carbon copies and archive results' },
  ],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  setup(ctx) {
    ctx.feature(NS_CARBONS);
    const replies = new ErrorReplies();
    /** Delivered copies from which <private/> was removed: they must still not be copied (§9). */
    const privateCopies = new WeakSet<Element>();

    const enabledResources = (user: string, except: (s: SessionInfo) => boolean): SessionInfo[] =>
      ctx.sessions.resources(user).filter((s) => s.state.get(ENABLED) === true && !except(s));

    /** §6 for one message of `account` with `peer`; remembers eligible ones so that errors answering them match. */
    const copyable = (message: Element, direction: Direction, account: string, peer: string): boolean => {
      if (noCopies(message)) return false;
      const e = eligibility(message);
      if (e === 'ineligible') return false;
      if (e === 'error-reply') return replies.answers(direction, account, peer, message.attrs.id);
      replies.remember(direction, account, peer, message.attrs.id);
      return true;
    };

    // §4, §5: per session; §10.1: repeated requests simply succeed. §4.1: only the server's own clients.
    const setEnabled = (on: boolean) => (ev: StanzaEvent) => {
      const session = ev.origin.kind === 'c2s' ? ctx.sessions.get(ev.from) : undefined;
      if (!session) throw StanzaError.notAllowed('carbons are for clients of this server');
      if (on) session.state.set(ENABLED, true);
      else session.state.delete(ENABLED);
    };
    ctx.iq('set', NS_CARBONS, 'enable', setEnabled(true), ['self']);
    ctx.iq('set', NS_CARBONS, 'disable', setEnabled(false), ['self']);

    // §11: copies come only from the account's own bare JID, and this server sends them straight to the
    // sessions, never through routing: a wrapper arriving from anyone else is forged and is dropped unseen.
    const dropForged = (ev: StanzaEvent): boolean => {
      if (ev.to.local === null || !carbonWrapper(ev.stanza) || ev.from.equals(ev.to.bare())) return false;
      ctx.log.debug({ from: ev.from.toString(), to: ev.to.toString() }, 'dropped a forged carbon copy');
      return true;
    };
    ctx.hook('message/bare', dropForged, FORGERY_PRIORITY);
    ctx.hook('message/full', dropForged, FORGERY_PRIORITY);

    // §11: nor may a client make copies itself, for its own resources or anyone else's.
    const refuseForged = (ev: StanzaEvent): boolean => {
      if (ev.origin.kind !== 'c2s' || !carbonWrapper(ev.stanza)) return false;
      if (mayBounce(ev.stanza)) {
        ev.origin.send(errorReply(ev.stanza, StanzaError.forbidden('carbon copies are made by the server only')));
      }
      return true;
    };
    for (const event of ['pre-message/bare', 'pre-message/full', 'pre-message/self', 'pre-message/host'] as const) {
      ctx.hook(event, refuseForged, FORGERY_PRIORITY);
    }

    // §8: a client's eligible message goes, wrapped in <sent/>, to the account's other enabled resources. Messages
    // between resources of one account are left alone: they are already delivered to the account itself.
    const copySent = (ev: StanzaEvent): boolean => {
      if (ev.origin.kind !== 'c2s' || ev.from.bareEquals(ev.to)) return false;
      const user = ev.from.bare();
      const targets = enabledResources(user.bareString, (s) => s.jid.equals(ev.from));
      if (targets.length === 0 || !copyable(ev.stanza, 'sent', user.bareString, ev.to.bareString)) return false;
      // XEP-0313 §3.5: the copy carries the id under which the account's archive stored the message.
      const archived = ctx.maybe('mam')?.sentArchiveId(ev.stanza);
      const original = archived === undefined ? ev.stanza : withStanzaId(ev.stanza, archived, user);
      for (const s of targets) s.send(carbonCopy('sent', original, user.bareString, s.jid.toString()));
      return false;
    };
    ctx.hook('pre-message/bare', copySent);
    ctx.hook('pre-message/full', copySent);

    // §9: <private/> is removed from what the recipient gets; the copy delivered is remembered as private.
    const stripPrivate = (ev: StanzaEvent): boolean => {
      if (ev.to.local === null) return false;
      const stripped = withoutPrivate(ev.stanza);
      if (stripped !== ev.stanza) {
        privateCopies.add(stripped);
        ev.stanza = stripped;
      }
      return false;
    };
    ctx.hook('message/bare', stripPrivate, PRIVATE_PRIORITY);
    ctx.hook('message/full', stripPrivate, PRIVATE_PRIORITY);

    // §7: after RFC 6121 delivery, every enabled resource that did not get the message gets a <received/> copy.
    ctx.hook('message-delivered', ({ stanza, from, to, sessions }) => {
      if (to.local === null || from.bareEquals(to) || privateCopies.has(stanza)) return;
      const user = to.bareString;
      const targets = enabledResources(user, (s) => sessions.includes(s));
      if (targets.length === 0 || !copyable(stanza, 'received', user, from.bareString)) return;
      for (const s of targets) s.send(carbonCopy('received', stanza, user, s.jid.toString()));
    });
  },
});
