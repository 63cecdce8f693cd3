// Per-account archiving preferences (XEP-0441 §2.1), stored per user and cached: every archived message
// consults them, once for the sender's archive and once for the recipient's.
import type { KeyValueStore } from '../../../storage/api/index.js';
import type { ArchivePrefs, DefaultPolicy } from './prefs-codec.js';

/** Accounts whose preferences are kept in memory; the least recently read are dropped beyond this. */
const CACHE_SIZE = 10_000;

export class PrefsStore {
  private readonly cache = new Map<string, ArchivePrefs>();

  constructor(
    private readonly store: KeyValueStore<ArchivePrefs>,
    private readonly host: string,
    /** The server's default (module option), for accounts that never set theirs. */
    private readonly policy: DefaultPolicy,
  ) {}

  async get(user: string): Promise<ArchivePrefs> {
    const hit = this.cache.get(user);
    if (hit) {
      this.cache.delete(user);
      this.cache.set(user, hit);
      return hit;
    }
    const stored = await this.store.get(this.host, user);
    // A set() that finished while this read was under way wins over what the read saw.
    const newer = this.cache.get(user);
    if (newer) return newer;
    const prefs = stored ?? { default: this.policy, always: [], never: [] };
    this.remember(user, prefs);
    return prefs;
  }

  async set(user: string, prefs: ArchivePrefs): Promise<void> {
    await this.store.set(this.host, user, prefs);
    this.remember(user, prefs);
  }

  /** The account was deleted; its stored preferences went with it (AccountStore.delete). */
  forget(user: string): void {
    this.cache.delete(user);
  }

  private remember(user: string, prefs: ArchivePrefs): void {
    this.cache.delete(user);
    this.cache.set(user, prefs);
    if (this.cache.size > CACHE_SIZE) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
  }
}
