// RFC 6121 §2 roster management: get, set, remove, pushes and versioning (§2.6), plus the roster service.
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { IqEvent } from '../../core/hooks.js';
import { defineModule, type ModuleContext } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { errorReply } from '../../router/stanza.js';
import { type Element, xml } from '../../xml/element.js';
import {
  NS_PRE_APPROVAL,
  NS_ROSTER,
  NS_ROSTER_VER,
  parseRosterSet,
  type RosterDoc,
  rosterPush,
  rosterQuery,
  type StoredItem,
} from './codec.js';
import { type Removed, RosterServiceImpl } from './service.js';
import { RosterStore } from './store.js';
import type {} from './types.js';

const options = Type.Object(
  {
    /** Most items one roster may hold; a roster set beyond it is refused with not-allowed. */
    max_items: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  },
  { additionalProperties: false },
);

type Ctx = ModuleContext<{ max_items: number }>;

/** Per-session roster state: the resource requested the roster (it is "interested", RFC 6121 §2.1.6). */
interface SessionRoster {
  /** The client used versioning (sent 'ver'), so pushes carry 'ver' too (RFC 6121 §2.6.3). */
  versioned: boolean;
}
const STATE_KEY = 'roster';

export default defineModule({
  name: 'roster',
  specs: [
    { rfc: 6121, status: 'complete', note: '§2 roster management, §2.6 roster versioning' },
    { xep: 237, status: 'complete', note: 'roster versioning, as folded into RFC 6121 §2.6' },
  ],
  options,
  defaultEnabled: true,
  core: true,
  setup(ctx) {
    const store = new RosterStore(
      ctx.store.keyval<RosterDoc>('roster'),
      (host, user) => ctx.sessions.resources(`${user}@${host}`).length > 0,
    );
    const service = new RosterServiceImpl(store, ctx.options.max_items, (host, user, jid, item, ver) =>
      pushToInterested(ctx, `${user}@${host}`, jid, item, ver),
    );
    ctx.provide('roster', service);

    // RFC 6121 §2.1.3 roster get from the account itself.
    ctx.iq('get', NS_ROSTER, 'query', (ev) => rosterGet(ctx, service, ev), ['self']);
    // RFC 6121 §2.1.3, §2.3.3: only the account's own resources may read or change its roster.
    const forbidden = (): never => {
      throw StanzaError.forbidden("only the account's own resources may use its roster");
    };
    ctx.iq('get', NS_ROSTER, 'query', forbidden, ['bare']);
    ctx.iq('set', NS_ROSTER, 'query', forbidden, ['bare']);
    ctx.iq('set', NS_ROSTER, 'query', (ev) => rosterSet(ctx, service, ev), ['self']);

    // RFC 6121 §2.1.6: a roster push comes only from the account's own server, never over the router. Anything
    // routed to a full JID that looks like one (a client or a peer forging a push) is refused, not delivered.
    ctx.hook(
      'iq/full',
      (ev) => {
        if (ev.stanza.attrs.type !== 'set' || !ev.stanza.getChild('query', NS_ROSTER)) return false;
        ctx.send(errorReply(ev.stanza, StanzaError.forbidden('roster pushes come only from the server')));
        return true;
      },
      10,
    );

    // RFC 6121 §2.6.1 and §3.4.1: versioning and pre-approval are offered after authentication.
    ctx.hook('stream-features', ({ session, features }) => {
      if (!session.authenticated) return;
      features.push(xml('ver', { xmlns: NS_ROSTER_VER }), xml('sub', { xmlns: NS_PRE_APPROVAL }));
    });

    // The cache holds online users only: drop a roster when its last resource goes, or its account is deleted.
    ctx.hook('resource-unbind', ({ session }) => {
      if (ctx.sessions.resources(session.jid.bare()).length === 0) store.forget(session.host, session.username);
    });
    ctx.hook('user-deleted', ({ host, username }) => store.forget(host, username));

    // XEP-0077 §3.2: an account being deleted cancels every subscription in its roster first, as if each item
    // were removed (RFC 6121 §2.5.2); the contacts' servers then update their rosters (Appendix A.3).
    ctx.hook('user-deleting', async ({ host, username }) => {
      if (host === ctx.host) await cancelAllSubscriptions(ctx, await service.document(host, username), username);
    });
  },
});

async function rosterGet(ctx: Ctx, service: RosterServiceImpl, ev: IqEvent): Promise<Element | undefined> {
  const doc = await service.document(ctx.host, ev.to.local ?? '');
  const ver = ev.payload.attrs.ver;
  const session = ctx.sessions.get(ev.from);
  if (session) session.state.set(STATE_KEY, { versioned: ver !== undefined } satisfies SessionRoster);
  // RFC 6121 §2.6.3: the client's version is current: an empty result, and later changes come as pushes.
  if (ver !== undefined && ver === String(doc.ver)) return undefined;
  return rosterQuery(doc, ver !== undefined);
}

async function rosterSet(ctx: Ctx, service: RosterServiceImpl, ev: IqEvent): Promise<void> {
  const set = parseRosterSet(ev.payload);
  const user = ev.to.local ?? '';
  // A subscription to oneself has no meaning (the account always sees its own presence): refused as a policy.
  if (set.jid === ev.to.bareString) throw StanzaError.notAllowed('you cannot add yourself to your roster');
  const removed = await service.clientSet(ctx.host, user, set);
  if (removed) await cancelSubscriptions(ctx, ev.to.bareString, set.jid, removed);
}

/**
 * RFC 6121 §2.5.2: removing an item cancels the subscriptions in both directions: unsubscribe when the user was
 * subscribed to the contact (or asked to be), unsubscribed when the contact was subscribed to the user (or asked).
 * Sent from the user's bare JID through the router, so outbound policy (blocking) applies. Resolves once local
 * contacts have processed them.
 */
async function cancelSubscriptions(ctx: Ctx, user: string, contact: string, removed: Removed): Promise<void> {
  const sent: Promise<void>[] = [];
  const sub = removed.item.subscription;
  if (sub === 'to' || sub === 'both' || removed.item.ask === 'subscribe') {
    sent.push(ctx.send(xml('presence', { type: 'unsubscribe', from: user, to: contact })));
  }
  const sharedPresence = sub === 'from' || sub === 'both';
  if (sharedPresence || removed.pendingIn)
    sent.push(ctx.send(xml('presence', { type: 'unsubscribed', from: user, to: contact })));
  // RFC 6121 §3.2.2: the contact no longer sees the user's presence: it gets unavailable from each resource.
  if (sharedPresence) {
    for (const s of ctx.sessions.resources(user)) {
      if (s.available)
        sent.push(ctx.send(xml('presence', { type: 'unavailable', from: s.jid.toString(), to: contact })));
    }
  }
  await Promise.all(sent);
}

/**
 * XEP-0077 §3.2: every subscription of an account being deleted is cancelled, as §2.5.2 does for one removed
 * item; requests still pending in (kept without a roster item, §3.1.3) are denied with unsubscribed.
 */
async function cancelAllSubscriptions(ctx: Ctx, doc: RosterDoc, username: string): Promise<void> {
  const user = `${username}@${ctx.host}`;
  const cancelled: Promise<void>[] = [];
  for (const [jid, item] of Object.entries(doc.items)) {
    cancelled.push(cancelSubscriptions(ctx, user, jid, { item, pendingIn: jid in doc.pending }));
  }
  for (const jid of Object.keys(doc.pending)) {
    if (!(jid in doc.items)) cancelled.push(ctx.send(xml('presence', { type: 'unsubscribed', from: user, to: jid })));
  }
  await Promise.all(cancelled);
}

/** RFC 6121 §2.1.6: a push goes to every resource that requested the roster. */
function pushToInterested(ctx: Ctx, bare: string, jid: string, item: StoredItem | null, ver: number): void {
  for (const s of ctx.sessions.resources(bare)) {
    const state = s.state.get(STATE_KEY) as SessionRoster | undefined;
    if (state) s.send(rosterPush(s.jid.toString(), pushId(), jid, item, state.versioned ? ver : null));
  }
}

function pushId(): string {
  return `push-${randomBytes(6).toString('base64url')}`;
}
