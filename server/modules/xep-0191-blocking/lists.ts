// Blocklists of one host: stored per user in keyval 'blocklist' (XEP-0191 §3.3: the block applies across
// sessions), cached in memory because every stanza to or from a local user is checked against them.
import type { KeyValueStore } from '../../../storage/api/index.js';
import { KeyedSerial } from '../../core/keyed-serial.js';
import { RecentCache } from '../../core/recent-cache.js';

export class BlockLists {
  /** Recently used lists; bounded so that a large user base cannot grow it forever. */
  private readonly cache: RecentCache<string, ReadonlySet<string>>;
  private readonly loading = new Map<string, Promise<ReadonlySet<string>>>();
  /** Lists asked for and not yet read, with their waiters; read together by the next read (see `get`). */
  private queued = new Map<string, { resolve: (list: ReadonlySet<string>) => void; reject: (err: unknown) => void }>();
  private reading = false;
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

  /**
   * The user's list, from memory or storage. Lists not in memory are read in batches: one read at a time, and
   * every list asked for meanwhile goes into the next one. Under load each storage round trip waits for an
   * event-loop turn; read one by one, the lists of a thousand users logging in at once took longer than the hook
   * deadline, and the messages waiting for them were bounced (docs/benchmarks.md).
   */
  get(user: string): Promise<ReadonlySet<string>> {
    const hit = this.cache.get(user);
    if (hit) return Promise.resolve(hit);
    let p = this.loading.get(user);
    if (!p) {
      p = new Promise<ReadonlySet<string>>((resolve, reject) => this.queued.set(user, { resolve, reject }));
      this.loading.set(user, p);
      if (!this.reading) this.readQueued();
    }
    return p;
  }

  private readQueued(): void {
    this.reading = true;
    // Lists asked for in the same turn of the event loop as this one go into the same read.
    queueMicrotask(() => {
      const batch = this.queued;
      this.queued = new Map();
      const users = [...batch.keys()];
      const read = users.length === 1 ? this.readOne(users[0] as string) : this.store.getMany(this.host, users);
      read
        .then(
          (stored) => {
            for (const [user, waiter] of batch) {
              this.loading.delete(user);
              // An update that finished while this read was under way holds the newer list.
              const current = this.cache.get(user) ?? new Set(stored.get(user) ?? []);
              this.cache.set(user, current);
              waiter.resolve(current);
            }
          },
          (err: unknown) => {
            for (const [user, waiter] of batch) {
              this.loading.delete(user);
              waiter.reject(err);
            }
          },
        )
        .finally(() => {
          this.reading = false;
          if (this.queued.size > 0) this.readQueued();
        });
    });
  }

  private async readOne(user: string): Promise<Map<string, string[]>> {
    const stored = await this.store.get(this.host, user);
    return stored ? new Map([[user, stored]]) : new Map();
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
