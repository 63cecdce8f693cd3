// XEP-0313 Message Archive Management for user archives, with XEP-0359 stanza-ids on archived messages,
// XEP-0441 preferences, XEP-0431 full-text search and a retention period.
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { KeyValueStore } from '../../../storage/api/index.js';
import type { IqEvent } from '../../core/hooks.js';
import { defineModule } from '../../core/module.js';
import { StanzaError, SwitchboardError } from '../../errors/index.js';
import type { Jid } from '../../jid/index.js';
import { type Element, parseXml } from '../../xml/element.js';
import { NS_SID } from '../xep-0359-sid/codec.js';
import { archiveMessages, exchangedWith } from './archiving.js';
import {
  finElement,
  metadataElement,
  NS_FULLTEXT,
  NS_MAM,
  NS_MAM_EXTENDED,
  parseQuery,
  queryFormElement,
  resultMessage,
} from './codec.js';
import { ArchiveIds } from './ids.js';
import { PrefsStore } from './prefs.js';
import { type ArchivePrefs, parsePrefs, prefsElement } from './prefs-codec.js';
import { runQuery, type Scope } from './query.js';
import './types.js';

const DAY_MS = 86_400_000;

export default defineModule({
  name: 'mam',
  specs: [
    { xep: 313, version: '1.1.3', status: 'complete', note: 'user archives; no groupchat messages (§6.1.1 MAY)' },
    { xep: 359, version: '0.7.0', status: 'complete', note: 'stanza-id on messages archived for the recipient' },
    { xep: 441, version: '0.2.0', status: 'complete' },
    { xep: 431, version: '0.2.0', status: 'partial', note: 'case-insensitive substring search of bodies' },
    { xep: 59, version: '1.0', status: 'partial', note: 'no paging by <index/> (feature-not-implemented)' },
    { xep: 334, version: '0.3.0', status: 'partial', note: 'store, no-store, no-permanent-store (no-copy: carbons)' },
  ],
  options: Type.Object(
    {
      default_policy: Type.Union([Type.Literal('always'), Type.Literal('never'), Type.Literal('roster')], {
        default: 'always',
        description: "archiving for accounts that set no preferences (XEP-0441 'default')",
      }),
      default_page_size: Type.Integer({ minimum: 1, default: 50, description: 'results per query page if unasked' }),
      max_page_size: Type.Integer({ minimum: 1, maximum: 1000, default: 250, description: 'largest query page' }),
      expire_days: Type.Integer({ minimum: 0, default: 0, description: 'retention in days; 0 keeps forever' }),
      expire_check_seconds: Type.Integer({ minimum: 1, default: 3600, description: 'how often retention runs' }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  async setup(ctx) {
    const o = ctx.options;
    if (o.default_page_size > o.max_page_size) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG_INVALID',
        `modules.mam.default_page_size (${o.default_page_size}) exceeds modules.mam.max_page_size (${o.max_page_size})`,
      );
    }
    const archive = ctx.store.archive<string>('mam');
    const ids = new ArchiveIds(await archiveKey(ctx.store.keyval<string>('mam-key'), ctx.host));
    const prefs = new PrefsStore(ctx.store.keyval<ArchivePrefs>('mam-prefs'), ctx.host, o.default_policy);
    const { sentIds } = archiveMessages(ctx, archive, ids, prefs);
    ctx.provide('mam', { sentArchiveId: (stanza) => sentIds.get(stanza) });

    // §7: the archive lives on the account's bare JID; XEP-0359 §2: so do the stanza-ids it assigns.
    for (const f of [NS_MAM, NS_MAM_EXTENDED, NS_SID, NS_FULLTEXT]) ctx.accountFeature(f);

    const decode = (user: string, id: string, value: string): Element | null => {
      try {
        return parseXml(value);
      } catch (err) {
        ctx.log.warn({ err, user, id }, 'skipping an unreadable archived message');
        return null;
      }
    };
    const scope = (user: string): Scope => ({
      archive,
      host: ctx.host,
      user,
      ids,
      defaultMax: o.default_page_size,
      hardMax: o.max_page_size,
      withFull: (value: string, jid: Jid) => {
        const m = decode(user, '?', value);
        return m !== null && exchangedWith(m, jid);
      },
    });
    /** §8.1: only the owner reads an archive, from one of its own sessions (results go to that stream). */
    const owner = (ev: IqEvent): string => {
      if (ev.origin.kind !== 'c2s' || ev.to.local === null) throw StanzaError.forbidden('not your archive');
      return ev.to.local;
    };

    // §4: results first, straight onto the requesting stream, then the iq result with <fin/> (§4.3.2).
    ctx.iq(
      'set',
      NS_MAM,
      'query',
      async (ev) => {
        const user = owner(ev);
        const q = parseQuery(ev.payload);
        const outcome = await runQuery(scope(user), q);
        const page = q.flip ? [...outcome.items].reverse() : outcome.items;
        const requester = ev.from.toString();
        for (const item of page) {
          const message = decode(user, item.id, item.value);
          if (!message) continue;
          const stanzaId = randomBytes(9).toString('base64url');
          const id = ids.encode(item.id);
          const r = { to: requester, from: ev.to.bareString, stanzaId, id, when: item.when, message };
          ev.origin.send(resultMessage(q.queryId === undefined ? r : { ...r, queryId: q.queryId }));
        }
        return finElement(outcome.complete, outcome.rsm);
      },
      ['self'],
    );
    // §4.1.5: the query form.
    ctx.iq(
      'get',
      NS_MAM,
      'query',
      (ev) => {
        owner(ev);
        return queryFormElement();
      },
      ['self'],
    );
    // §5: the first and last items.
    ctx.iq(
      'get',
      NS_MAM,
      'metadata',
      async (ev) => {
        const user = owner(ev);
        const [first] = await archive.find(ctx.host, user, { limit: 1 });
        const [last] = await archive.find(ctx.host, user, { limit: 1, reverse: true });
        if (!first || !last) return metadataElement();
        return metadataElement(
          { id: ids.encode(first.id), when: first.when },
          { id: ids.encode(last.id), when: last.when },
        );
      },
      ['self'],
    );
    // XEP-0441 §2.1: preferences.
    ctx.iq('get', NS_MAM, 'prefs', async (ev) => prefsElement(await prefs.get(owner(ev))), ['self']);
    ctx.iq(
      'set',
      NS_MAM,
      'prefs',
      async (ev) => {
        const user = owner(ev);
        const p = parsePrefs(ev.payload);
        await prefs.set(user, p);
        return prefsElement(p);
      },
      ['self'],
    );
    // §8.1: another entity asking for a user's archive is refused.
    const refuse = (): never => {
      throw StanzaError.forbidden('only the owner may access this archive');
    };
    for (const [type, name] of [
      ['set', 'query'],
      ['get', 'query'],
      ['get', 'metadata'],
      ['get', 'prefs'],
      ['set', 'prefs'],
    ] as const) {
      ctx.iq(type, NS_MAM, name, refuse, ['bare']);
    }

    // §3.2: retention removes the oldest messages only, so no holes appear; ids are never reused (the store's).
    if (o.expire_days > 0) {
      const expire = async (): Promise<void> => {
        const n = await archive.expire(ctx.host, new Date(Date.now() - o.expire_days * DAY_MS));
        if (n > 0) ctx.log.info({ removed: n }, 'expired archived messages');
      };
      ctx.timer(Math.min(o.expire_check_seconds * 1000, 10_000), expire);
      ctx.timer(o.expire_check_seconds * 1000, expire, { repeat: true });
    }

    ctx.hook('user-deleted', ({ host, username }) => {
      if (host === ctx.host) prefs.forget(username);
    });
  },
});

/**
 * The host's archive id key (see ids.ts), created on first start and kept in storage, so that ids stay stable
 * across restarts. It is stored under the empty username, which no account can have (RFC 7622 §3.3).
 */
async function archiveKey(store: KeyValueStore<string>, host: string): Promise<Buffer> {
  const stored = await store.get(host, '');
  if (stored !== null) return Buffer.from(stored, 'base64');
  const key = ArchiveIds.newKey();
  await store.set(host, '', key.toString('base64'));
  return key;
}
