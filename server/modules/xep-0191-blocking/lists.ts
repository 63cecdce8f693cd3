// Blocklists of one host: stored per user in keyval 'blocklist' (XEP-0191 §3.3: the block applies across
// sessions), cached in memory because every stanza to or from a local user is checked against them.
import type { KeyValueStore } from '../../../storage/api/index.js';
import { KeyedSerial } from '../../core/keyed-serial.js';
import { RecentCache } from '../../core/recent-cache.js';

export class BlockLists {
  /** Recently used lists; bounded so that a large user base cannot grow it forever. */
  private readonly cache: RecentCache<string, ReadonlySet<string>>;
  private readonly loading = new Map<string, Promise<ReadonlySet<string>>>();
  /** Changes of one user are serial, so concurrent block and unblock commands cannot lose each other. */
  private readonly serial = new KeyedSerial();

  constructor(
    private readonly store: KeyValueStore<string[]>,
    private readonly host: string,
    maxCached = 10_000,
  ) {
    this.cache = new RecentCache(maxCached);
  }

  /** The list when it is in memory, without waiting; undefined when it must be loaded (use `get`). */
  cached(user: string): ReadonlySet<string> | undefined {
    return this.cache.get(user);
  }

  get(user: string): Promise<ReadonlySet<string>> {
    const hit = this.cache.get(user);
    if (hit) return Promise.resolve(hit);
    let p = this.loading.get(user);
    if (!p) {
      p = this.store.get(this.host, user).then((stored) => {
        // An update that finished while this read was under way holds the newer list.
        const current = this.cache.get(user) ?? new Set(stored ?? []);
        this.cache.set(user, current);
        return current;
      });
      const settle = (): void => {
        this.loading.delete(user);
      };
      p.then(settle, settle);
      this.loading.set(user, p);
    }
    return p;
  }

  /** Adds the JIDs; resolves with those that were not blocked before. */
  block(user: string, jids: readonly string[]): Promise<string[]> {
    return this.change(user, (list) => {
      const added = jids.filter((j) => !list.has(j));
      for (const j of added) list.add(j);
      return added;
    });
  }

  /** Removes the JIDs ('all': every one); resolves with those that were blocked. */
  unblock(user: string, jids: readonly string[] | 'all'): Promise<string[]> {
    return this.change(user, (list) => {
      const removed = jids === 'all' ? [...list] : jids.filter((j) => list.has(j));
      for (const j of removed) list.delete(j);
      return removed;
    });
  }

  forget(user: string): void {
    this.cache.delete(user);
  }

  private change(user: string, edit: (list: Set<string>) => string[]): Promise<string[]> {
    return this.serial.run(user, async () => {
      // Copy on write: a check running meanwhile keeps seeing the list it started with.
      const list = new Set(await this.get(user));
      const changed = edit(list);
      if (changed.length === 0) return changed;
      await this.store.set(this.host, user, list.size > 0 ? [...list] : null);
      this.cache.set(user, list);
      return changed;
    });
  }
}
