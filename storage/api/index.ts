// Storage interfaces (DESIGN §5). Modules see only these; drivers (knex, memory) implement them.

/** Salted SCRAM keys for one hash (RFC 5802 §3, RFC 7677). Never a plaintext or reversible password. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export type ScramHash = 'sha1' | 'sha256';

export interface AccountRecord {
  /** Prepared localpart (RFC 7622 §3.3). */
  username: string;
  host: string;
  scram: Partial<Record<ScramHash, ScramCredential>>;
  createdAt: Date;
}

export interface AccountStore {
  /** Creates an account; resolves false if it already exists. */
  create(host: string, username: string, scram: AccountRecord['scram']): Promise<boolean>;
  /** Bulk provisioning: inserts many accounts in few transactions; returns how many were created. */
  createMany(host: string, accounts: { username: string; scram: AccountRecord['scram'] }[]): Promise<number>;
  get(host: string, username: string): Promise<AccountRecord | null>;
  exists(host: string, username: string): Promise<boolean>;
  /** Replaces the credentials; resolves false if there is no such account. */
  setCredentials(host: string, username: string, scram: AccountRecord['scram']): Promise<boolean>;
  /** Deletes the account and every per-user store entry; resolves false if there was none. */
  delete(host: string, username: string): Promise<boolean>;
  list(host: string): Promise<string[]>;
  count(host: string): Promise<number>;
}

/** One JSON value per (host, user) in a named store (Prosody's keyval). */
export interface KeyValueStore<T> {
  get(host: string, user: string): Promise<T | null>;
  /**
   * The values of several users of one host in one read where the driver can (users without a value are absent
   * from the map). For caches that fill many entries at once: under load each storage round trip costs at least
   * an event-loop turn, so a thousand single reads can take seconds where one read of a thousand takes one turn.
   */
  getMany(host: string, users: readonly string[]): Promise<Map<string, T>>;
  set(host: string, user: string, value: T | null): Promise<void>;
}

/** Many JSON values per (host, user), each under a key (Prosody's map). */
export interface MapStore<T> {
  get(host: string, user: string, key: string): Promise<T | null>;
  set(host: string, user: string, key: string, value: T | null): Promise<void>;
  getAll(host: string, user: string): Promise<Map<string, T>>;
  /** Removes every key of the user. */
  clear(host: string, user: string): Promise<void>;
}

export interface ArchiveItem<T> {
  /** Opaque, unique, stable id (string form of a monotonic integer). */
  id: string;
  /** When the item was stored. */
  when: Date;
  /** The other party (bare JID) or other key used for filtering; may be empty. */
  with: string;
  value: T;
}

export interface ArchiveQuery {
  with?: string;
  start?: Date;
  end?: Date;
  /** Items strictly after / before this id (RSM paging, XEP-0059). */
  after?: string;
  before?: string;
  limit?: number;
  /** Newest first when true (used for "last page" queries). */
  reverse?: boolean;
  /** Case-insensitive substring search on the stored text index. */
  text?: string;
}

/** Time-ordered items per (host, user) in a named store: offline messages, message archives. */
export interface ArchiveStore<T> {
  append(host: string, user: string, item: { with: string; value: T; when?: Date; text?: string }): Promise<string>;
  /** Items in id order (or reverse order when query.reverse) honouring filters and limit. */
  find(host: string, user: string, query?: ArchiveQuery): Promise<ArchiveItem<T>[]>;
  count(
    host: string,
    user: string,
    query?: Omit<ArchiveQuery, 'limit' | 'after' | 'before' | 'reverse'>,
  ): Promise<number>;
  /** Deletes matching items (all of the user's when no query); returns how many. */
  delete(host: string, user: string, query?: { ids?: string[]; before?: Date; with?: string }): Promise<number>;
  /** Deletes items of every user on the host older than the date (retention); returns how many. */
  expire(host: string, olderThan: Date): Promise<number>;
}

/** One storage backend: owns connections and migrations. */
export interface StorageDriver {
  readonly accounts: AccountStore;
  keyval<T>(store: string): KeyValueStore<T>;
  map<T>(store: string): MapStore<T>;
  archive<T>(store: string): ArchiveStore<T>;
  /** Runs pending forward-only migrations. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}
