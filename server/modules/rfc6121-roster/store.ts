// Roster documents in the keyval store, one per user, with a per-user lock and a cache of online users' rosters.
import type { KeyValueStore } from '../../../storage/api/index.js';
import { decodeDoc, type RosterDoc } from './codec.js';

/** What a change to a document reports back: its result and whether the document must be written. */
export interface DocChange<R> {
  result: R;
  changed: boolean;
}

export class RosterStore {
  /** Documents of users with a bound resource; memory is bounded by the online users (evicted by `forget`). */
  private readonly cache = new Map<string, RosterDoc>();
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly kv: KeyValueStore<RosterDoc>,
    /** Whether a user's document is worth keeping in memory (the user is online). */
    private readonly keep: (host: string, user: string) => boolean,
  ) {}

  /** The current document; callers must not modify it (use `modify`). */
  async read(host: string, user: string): Promise<RosterDoc> {
    const hit = this.cache.get(key(host, user));
    if (hit) return hit;
    // Loading takes the lock so that a load can never cache a document older than a concurrent write.
    return this.locked(key(host, user), () => this.load(host, user));
  }

  /** Runs `fn` on the user's document under the user's lock and writes it back when it changed. */
  modify<R>(host: string, user: string, fn: (doc: RosterDoc) => DocChange<R> | Promise<DocChange<R>>): Promise<R> {
    const k = key(host, user);
    return this.locked(k, async () => {
      const doc = await this.load(host, user);
      try {
        const { result, changed } = await fn(doc);
        if (changed) await this.kv.set(host, user, doc);
        return result;
      } catch (err) {
        // The cached copy may hold a half-applied change: drop it so the next read reloads the stored one.
        this.cache.delete(k);
        throw err;
      }
    });
  }

  /** Drops a user's cached document (last resource gone, account deleted). */
  forget(host: string, user: string): void {
    this.cache.delete(key(host, user));
  }

  get cachedUsers(): number {
    return this.cache.size;
  }

  private async load(host: string, user: string): Promise<RosterDoc> {
    const k = key(host, user);
    const hit = this.cache.get(k);
    if (hit) return hit;
    const doc = decodeDoc(await this.kv.get(host, user));
    if (this.keep(host, user)) this.cache.set(k, doc);
    return doc;
  }

  private async locked<R>(k: string, fn: () => Promise<R>): Promise<R> {
    const prev = this.locks.get(k) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chain = prev.then(() => mine);
    this.locks.set(k, chain);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(k) === chain) this.locks.delete(k);
    }
  }
}

function key(host: string, user: string): string {
  return `${user}@${host}`;
}
