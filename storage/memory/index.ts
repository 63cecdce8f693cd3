// In-process driver for tests. It mirrors the SQL driver's observable behaviour, including JSON round-trips
// of values, so a test passing here does not fail only because a value was not serialisable.
import type {
  AccountRecord,
  AccountStore,
  ArchiveItem,
  ArchiveQuery,
  ArchiveStore,
  KeyValueStore,
  MapStore,
  ScramCredential,
  StorageDriver,
} from '../api/index.js';

interface StoredItem {
  id: number;
  host: string;
  user: string;
  with: string;
  when: number;
  text: string | null;
  value: string;
}

type Filters = Pick<ArchiveQuery, 'with' | 'start' | 'end' | 'text'>;

function encode(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('storage: value is not JSON-serialisable');
  return text;
}

function decode<T>(text: string): T {
  return JSON.parse(text) as T;
}

// NUL cannot occur in a JID part (RFC 7622 forbids control characters), so it cannot make two keys collide.
function key(...parts: string[]): string {
  return parts.join('\u0000');
}

function parseId(id: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

function copyScram(scram: AccountRecord['scram']): AccountRecord['scram'] {
  const out: AccountRecord['scram'] = {};
  for (const hash of ['sha1', 'sha256'] as const) {
    const c = scram[hash];
    if (!c) continue;
    const copy: ScramCredential = {
      salt: Buffer.from(c.salt),
      iterations: c.iterations,
      storedKey: Buffer.from(c.storedKey),
      serverKey: Buffer.from(c.serverKey),
    };
    out[hash] = copy;
  }
  return out;
}

function matches(item: StoredItem, f: Filters): boolean {
  if (f.with !== undefined && item.with !== f.with) return false;
  if (f.start !== undefined && item.when < f.start.getTime()) return false;
  if (f.end !== undefined && item.when > f.end.getTime()) return false;
  // Like SQL's `NULL LIKE ...`, an item stored without text never matches a text query, even an empty one.
  if (f.text !== undefined && (item.text === null || !item.text.includes(f.text.toLowerCase()))) return false;
  return true;
}

export function createMemoryStorage(): StorageDriver {
  const accounts = new Map<string, AccountRecord>();
  // Per-user data is keyed by owner first so account deletion can drop it in one step.
  // host+user -> store -> JSON
  const keyvalData = new Map<string, Map<string, string>>();
  // host+user -> store -> key -> JSON
  const mapData = new Map<string, Map<string, Map<string, string>>>();
  // store -> items in ascending id order (appends only ever add larger ids)
  const archiveData = new Map<string, StoredItem[]>();
  // Ids are global across stores, like the SQL table's single sequence.
  let nextId = 1;

  function forgetUser(host: string, user: string): void {
    keyvalData.delete(key(host, user));
    mapData.delete(key(host, user));
    for (const [store, items] of archiveData) {
      archiveData.set(
        store,
        items.filter((i) => !(i.host === host && i.user === user)),
      );
    }
  }

  const accountStore: AccountStore = {
    async create(host, username, scram) {
      const k = key(host, username);
      if (accounts.has(k)) return false;
      accounts.set(k, { host, username, scram: copyScram(scram), createdAt: new Date() });
      return true;
    },
    async createMany(host, list) {
      let n = 0;
      for (const a of list) if (await accountStore.create(host, a.username, a.scram)) n++;
      return n;
    },
    async get(host, username) {
      const a = accounts.get(key(host, username));
      return a ? { ...a, scram: copyScram(a.scram), createdAt: new Date(a.createdAt) } : null;
    },
    async exists(host, username) {
      return accounts.has(key(host, username));
    },
    async setCredentials(host, username, scram) {
      const a = accounts.get(key(host, username));
      if (!a) return false;
      a.scram = copyScram(scram);
      return true;
    },
    async delete(host, username) {
      const existed = accounts.delete(key(host, username));
      forgetUser(host, username);
      return existed;
    },
    async list(host) {
      return [...accounts.values()]
        .filter((a) => a.host === host)
        .map((a) => a.username)
        .sort();
    },
    async count(host) {
      let n = 0;
      for (const a of accounts.values()) if (a.host === host) n++;
      return n;
    },
  };

  function keyval<T>(store: string): KeyValueStore<T> {
    return {
      async get(host, user) {
        const v = keyvalData.get(key(host, user))?.get(store);
        return v === undefined ? null : decode<T>(v);
      },
      async getMany(host, users) {
        const out = new Map<string, T>();
        for (const user of users) {
          const v = keyvalData.get(key(host, user))?.get(store);
          if (v !== undefined) out.set(user, decode<T>(v));
        }
        return out;
      },
      async set(host, user, value) {
        const owner = key(host, user);
        if (value === null) {
          keyvalData.get(owner)?.delete(store);
          return;
        }
        const text = encode(value);
        let stores = keyvalData.get(owner);
        if (!stores) {
          stores = new Map();
          keyvalData.set(owner, stores);
        }
        stores.set(store, text);
      },
    };
  }

  function map<T>(store: string): MapStore<T> {
    const entries = (host: string, user: string): Map<string, string> | undefined =>
      mapData.get(key(host, user))?.get(store);
    return {
      async get(host, user, k) {
        const v = entries(host, user)?.get(k);
        return v === undefined ? null : decode<T>(v);
      },
      async set(host, user, k, value) {
        if (value === null) {
          entries(host, user)?.delete(k);
          return;
        }
        const text = encode(value);
        const owner = key(host, user);
        let stores = mapData.get(owner);
        if (!stores) {
          stores = new Map();
          mapData.set(owner, stores);
        }
        let m = stores.get(store);
        if (!m) {
          m = new Map();
          stores.set(store, m);
        }
        m.set(k, text);
      },
      async getAll(host, user) {
        const out = new Map<string, T>();
        for (const [k, v] of entries(host, user) ?? []) out.set(k, decode<T>(v));
        return out;
      },
      async clear(host, user) {
        mapData.get(key(host, user))?.delete(store);
      },
    };
  }

  function archive<T>(store: string): ArchiveStore<T> {
    const items = (): StoredItem[] => archiveData.get(store) ?? [];
    const userItems = (host: string, user: string): StoredItem[] =>
      items().filter((i) => i.host === host && i.user === user);
    const remove = (pred: (i: StoredItem) => boolean): number => {
      const before = items();
      const kept = before.filter((i) => !pred(i));
      archiveData.set(store, kept);
      return before.length - kept.length;
    };
    return {
      async append(host, user, item) {
        const stored: StoredItem = {
          id: nextId++,
          host,
          user,
          with: item.with,
          when: (item.when ?? new Date()).getTime(),
          text: item.text === undefined ? null : item.text.toLowerCase(),
          value: encode(item.value),
        };
        const list = archiveData.get(store);
        if (list) list.push(stored);
        else archiveData.set(store, [stored]);
        return String(stored.id);
      },
      async find(host, user, q = {}) {
        if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) {
          throw new RangeError(`storage: archive limit must be a non-negative integer, got ${q.limit}`);
        }
        const after = q.after === undefined ? undefined : parseId(q.after);
        const before = q.before === undefined ? undefined : parseId(q.before);
        if (after === null || before === null) return [];
        let found = userItems(host, user).filter(
          (i) => matches(i, q) && (after === undefined || i.id > after) && (before === undefined || i.id < before),
        );
        if (q.reverse) found.reverse();
        if (q.limit !== undefined) found = found.slice(0, q.limit);
        return found.map(
          (i): ArchiveItem<T> => ({
            id: String(i.id),
            with: i.with,
            when: new Date(i.when),
            value: decode<T>(i.value),
          }),
        );
      },
      async count(host, user, q = {}) {
        return userItems(host, user).filter((i) => matches(i, q)).length;
      },
      async delete(host, user, q = {}) {
        const ids = q.ids && new Set(q.ids.map(parseId));
        return remove(
          (i) =>
            i.host === host &&
            i.user === user &&
            (q.before === undefined || i.when < q.before.getTime()) &&
            (q.with === undefined || i.with === q.with) &&
            (ids === undefined || ids.has(i.id)),
        );
      },
      async expire(host, olderThan) {
        return remove((i) => i.host === host && i.when < olderThan.getTime());
      },
    };
  }

  return {
    accounts: accountStore,
    keyval,
    map,
    archive,
    async migrate() {},
    async close() {},
  };
}
