// XEP-0054 vcard-temp: the server stores each account's vCard and answers for it; XEP-0153 vCard-based avatars:
// the server adds the avatar hash to the user's available presence when the client left it out.
import { Type } from '@sinclair/typebox';
import type { StanzaEvent } from '../../core/hooks.js';
import { defineModule } from '../../core/module.js';
import { RecentCache } from '../../core/recent-cache.js';
import { StanzaError } from '../../errors/index.js';
import type { Jid } from '../../jid/index.js';
import {
  emptyVCard,
  hasPhotoUpdate,
  NS_VCARD,
  parseStoredVCard,
  photoHash,
  serializeVCard,
  withPhotoUpdate,
} from './codec.js';

/** The avatar hash kept beside the vCard, so that presence never has to parse a large vCard. */
interface PhotoRecord {
  hash: string | null;
}

export default defineModule({
  name: 'vcard',
  specs: [
    { xep: 54, version: '1.3.0', status: 'complete' },
    {
      xep: 153,
      version: '1.1.1',
      status: 'partial',
      note: 'server-side: the photo hash is added to available presence that lacks the update element; no re-broadcast on change',
    },
  ],
  options: Type.Object(
    {
      max_bytes: Type.Integer({
        minimum: 1024,
        default: 131_072,
        description: 'largest vCard accepted, in bytes of XML (avatars of XEP-0153 are often 8–64 KB)',
      }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    const cards = ctx.store.keyval<string>('vcard');
    const photos = ctx.store.keyval<PhotoRecord>('vcard_photo');
    const maxBytes = ctx.options.max_bytes;

    ctx.feature(NS_VCARD);
    ctx.accountFeature(NS_VCARD);

    const load = async (user: string) => {
      const text = await cards.get(ctx.host, user);
      return text === null ? null : parseStoredVCard(text);
    };
    const owner = (jid: Jid): string => {
      if (jid.local === null) throw StanzaError.badRequest('no account addressed');
      return jid.local;
    };

    /**
     * Hashes in memory, including "no avatar": presence is amended for every copy of a broadcast, and reading the
     * store each time (two reads for a user without a vCard) made presence fan-out storage-bound in the benchmark
     * (docs/benchmarks.md). The vCard set below keeps it current; it is bounded, and a miss reads the store.
     */
    const hashes = new RecentCache<string, { hash: string | null }>(10_000);

    /** The known avatar hash; computed once from the vCard when only the vCard is stored (e.g. imported). */
    const knownHash = async (user: string): Promise<string | null> => {
      const cached = hashes.get(user);
      if (cached !== undefined) return cached.hash;
      const rec = await photos.get(ctx.host, user);
      let hash: string | null = null;
      if (rec !== null) hash = rec.hash;
      else {
        const card = await load(user);
        if (card !== null) {
          hash = photoHash(card);
          await photos.set(ctx.host, user, { hash });
        }
      }
      hashes.set(user, { hash });
      return hash;
    };

    // XEP-0054 §3.1: one's own vCard; with none stored, an empty <vCard/> result (clients then publish one).
    ctx.iq('get', NS_VCARD, 'vCard', async (ev) => (await load(owner(ev.to))) ?? emptyVCard(), ['self']);

    // XEP-0054 §3.3: anyone may view a user's vCard; the server answers on the user's behalf. Without a vCard
    // (or without an account: nothing is stored then) the same service-unavailable, against directory harvesting.
    ctx.iq(
      'get',
      NS_VCARD,
      'vCard',
      async (ev) => {
        const card = await load(owner(ev.to));
        if (card === null) throw StanzaError.serviceUnavailable();
        return card;
      },
      ['bare'],
    );

    // XEP-0054 §3.3 note: a server may have a vCard of its own; this one has none to show, so it is empty.
    ctx.iq('get', NS_VCARD, 'vCard', () => emptyVCard(), ['host']);

    // XEP-0054 §3.2: the whole vCard is replaced; an oversized one is refused before anything is stored.
    ctx.iq(
      'set',
      NS_VCARD,
      'vCard',
      async (ev) => {
        const user = owner(ev.to);
        const text = serializeVCard(ev.payload);
        const bytes = text === null ? 0 : Buffer.byteLength(text, 'utf8');
        if (bytes > maxBytes) throw StanzaError.notAcceptable(`the vCard is larger than ${maxBytes} bytes`);
        await cards.set(ctx.host, user, text);
        const hash = text === null ? null : photoHash(ev.payload);
        await photos.set(ctx.host, user, text === null ? null : { hash });
        hashes.set(user, { hash });
        ctx.log.debug({ user, bytes }, 'vCard stored');
      },
      ['self'],
    );

    // XEP-0054 §3.2: only the owner may set a vCard; another user's (or the server's) is forbidden.
    ctx.iq(
      'set',
      NS_VCARD,
      'vCard',
      () => {
        throw StanzaError.forbidden('you can only change your own vCard');
      },
      ['bare', 'host'],
    );

    // XEP-0153 §4.1: every presence broadcast (and directed presence) should carry the update element. When the
    // client left it out, the server claims the stanza and routes a copy with the hash; the copy carries the
    // element, so it passes this hook untouched. Only available presence (no 'type') is amended.
    const addPhotoHash = async (ev: StanzaEvent): Promise<boolean> => {
      const { stanza, from } = ev;
      if (stanza.attrs.type !== undefined || from.local === null || from.domain !== ctx.host) return false;
      if (hasPhotoUpdate(stanza)) return false;
      const hash = await knownHash(from.local);
      if (hash === null) return false;
      // Awaited, so the copy is dispatched before the client's next stanza (RFC 6120 §10.1).
      await ctx.send(withPhotoUpdate(stanza, hash));
      return true;
    };
    // The store drops a deleted account's vCard with the account (AccountStore.delete); the cache follows.
    ctx.hook('user-deleted', ({ username }) => {
      hashes.delete(username);
    });
    ctx.hook('pre-presence/self', addPhotoHash, 10);
    ctx.hook('pre-presence/bare', addPhotoHash, 10);
    ctx.hook('pre-presence/full', addPhotoHash, 10);
  },
});
