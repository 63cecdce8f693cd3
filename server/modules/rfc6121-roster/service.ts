// The roster service (RFC 6121 §2): reads, client roster sets and subscription state changes, each followed by
// the roster push that keeps the user's interested resources in step (§2.1.6).
import { StanzaError } from '../../errors/index.js';
import {
  type RosterDoc,
  type RosterSet,
  type StoredItem,
  sameVisible,
  snapshotOf,
  toRosterItem,
  toStoredItem,
  withSnapshot,
} from './codec.js';
import type { RosterStore } from './store.js';
import type { PendingRequest, RosterItem, RosterService, SubscriptionSnapshot, SubscriptionUpdate } from './types.js';

/** Sends a roster push for one item (null: removed) to the user's interested resources. */
export type PushFn = (host: string, user: string, jid: string, item: StoredItem | null, ver: number) => void;

/** What a removal (§2.5) found, so that the caller can send the presence stanzas the RFC asks for. */
export interface Removed {
  item: StoredItem;
  pendingIn: boolean;
}

interface Applied<R> {
  result: R;
  push: { item: StoredItem | null; ver: number } | null;
}

export class RosterServiceImpl implements RosterService {
  constructor(
    private readonly store: RosterStore,
    private readonly maxItems: number,
    private readonly push: PushFn,
  ) {}

  async get(host: string, user: string): Promise<Map<string, RosterItem>> {
    const doc = await this.store.read(host, user);
    const out = new Map<string, RosterItem>();
    for (const [jid, item] of Object.entries(doc.items)) out.set(jid, toRosterItem(jid, item, jid in doc.pending));
    return out;
  }

  async item(host: string, user: string, contact: string): Promise<RosterItem | null> {
    const doc = await this.store.read(host, user);
    const item = doc.items[contact];
    return item ? toRosterItem(contact, item, contact in doc.pending) : null;
  }

  async sharesPresenceWith(host: string, user: string, contact: string): Promise<boolean> {
    const s = (await this.store.read(host, user)).items[contact]?.subscription;
    return s === 'from' || s === 'both';
  }

  document(host: string, user: string): Promise<RosterDoc> {
    return this.store.read(host, user);
  }

  async pendingRequests(host: string, user: string): Promise<PendingRequest[]> {
    const doc = await this.store.read(host, user);
    return Object.entries(doc.pending).map(([jid, p]) => ({ jid, stanza: p.stanza ?? null }));
  }

  async setItem(host: string, user: string, contact: string, item: RosterItem | null): Promise<void> {
    await this.apply(host, user, contact, (doc) => {
      const before = doc.items[contact];
      const after = item ? toStoredItem(item) : null;
      if (item?.pendingIn) doc.pending[contact] ??= {};
      else delete doc.pending[contact];
      return { result: undefined, after: sameVisible(before, after) ? undefined : after };
    });
  }

  update<R>(
    host: string,
    user: string,
    contact: string,
    decide: (cur: SubscriptionSnapshot) => SubscriptionUpdate<R>,
  ): Promise<R> {
    return this.apply(host, user, contact, (doc) => {
      const item = doc.items[contact];
      const pending = doc.pending[contact];
      const { next, pendingStanza, result } = decide(snapshotOf(item, pending !== undefined));
      if (!next) return { result, after: undefined };
      if (next.pendingIn && !pending && Object.keys(doc.pending).length >= this.maxItems) {
        throw StanzaError.notAllowed('too many subscription requests are pending');
      }
      const after = withSnapshot(item, next);
      if (next.pendingIn && !pending)
        doc.pending[contact] = pendingStanza === undefined ? {} : { stanza: pendingStanza };
      else if (!next.pendingIn && pending) delete doc.pending[contact];
      return { result, after: sameVisible(item, after) ? undefined : after };
    });
  }

  /** RFC 6121 §2.3 (add or update) and §2.5 (remove) from the user's client; returns what a removal removed. */
  clientSet(host: string, user: string, set: RosterSet): Promise<Removed | null> {
    return this.apply(host, user, set.jid, (doc) => {
      const before = doc.items[set.jid];
      if (set.remove) {
        // §2.5.3: removing an item that is not in the roster is item-not-found.
        if (!before) throw StanzaError.itemNotFound('the item is not in the roster');
        const pendingIn = set.jid in doc.pending;
        delete doc.pending[set.jid];
        return { result: { item: before, pendingIn }, after: null };
      }
      // §2.1.2.5: the client cannot change subscription, ask or approved; only name and groups.
      const after: StoredItem = { ...(before ?? { subscription: 'none' }), groups: set.groups };
      if (set.name === undefined) delete after.name;
      else after.name = set.name;
      return { result: null, after: sameVisible(before, after) ? undefined : after };
    });
  }

  /**
   * Runs a change under the user's lock. `change` mutates pending entries itself and returns the item's new
   * visible form (undefined: unchanged, null: removed); the version is bumped and the push sent after the write.
   */
  private async apply<R>(
    host: string,
    user: string,
    contact: string,
    change: (doc: RosterDoc) => { result: R; after: StoredItem | null | undefined },
  ): Promise<R> {
    const applied = await this.store.modify<Applied<R>>(host, user, (doc) => {
      const pendingBefore = JSON.stringify(doc.pending[contact] ?? null);
      const { result, after } = change(doc);
      const pendingChanged = pendingBefore !== JSON.stringify(doc.pending[contact] ?? null);
      if (after === undefined) return { result: { result, push: null }, changed: pendingChanged };
      if (after && !(contact in doc.items) && Object.keys(doc.items).length >= this.maxItems) {
        // A full roster refuses new items (RFC 6121 §2.3.3 leaves the limit to the server; not-allowed as policy).
        throw StanzaError.notAllowed(`the roster is limited to ${this.maxItems} items`);
      }
      if (after) doc.items[contact] = after;
      else delete doc.items[contact];
      doc.ver++;
      return { result: { result, push: { item: after, ver: doc.ver } }, changed: true };
    });
    if (applied.push) this.push(host, user, contact, applied.push.item, applied.push.ver);
    return applied.result;
  }
}
