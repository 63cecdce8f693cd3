// Account operations shared by the CLI, in-band registration and SASL: always salted SCRAM keys (DESIGN §5).

import { pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { AccountStore, ScramCredential, ScramHash } from '../../storage/api/index.js';
import { SwitchboardError } from '../errors/index.js';
import { JidError, prepareLocalpart, preparePassword } from '../jid/index.js';
import { digest, HASH_BYTES, hmac } from '../stream/sasl/credentials.js';
import { deriveAll } from '../stream/sasl/index.js';

const pbkdf2Async = promisify(pbkdf2);

/** RFC 5802 §3 key derivation on libuv's thread pool, so bulk provisioning uses every core. */
async function deriveAsync(password: string, hash: ScramHash, iterations: number): Promise<ScramCredential> {
  const salt = randomBytes(16);
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES[hash], hash);
  return {
    salt,
    iterations,
    storedKey: digest(hash, hmac(hash, salted, 'Client Key')),
    serverKey: hmac(hash, salted, 'Server Key'),
  };
}

export interface AccountEvents {
  created(host: string, username: string): Promise<void>;
  /** Runs before the account's data is deleted, while it can still be read (its roster, for instance). */
  deleting(host: string, username: string): Promise<void>;
  deleted(host: string, username: string): Promise<void>;
}

const NO_EVENTS: AccountEvents = { created: async () => {}, deleting: async () => {}, deleted: async () => {} };

export class AccountService {
  constructor(
    private readonly store: AccountStore,
    private readonly iterations: number,
    private readonly events: AccountEvents = NO_EVENTS,
  ) {}

  /** RFC 7622 §3.3 localpart preparation; throws SB_ERR_JID_INVALID. */
  prepareUsername(username: string): string {
    try {
      return prepareLocalpart(username);
    } catch (err) {
      if (err instanceof JidError) throw new SwitchboardError('SB_ERR_JID_INVALID', `invalid username: ${err.message}`);
      throw err;
    }
  }

  credentials(password: string): Record<ScramHash, ScramCredential> {
    return deriveAll(preparePassword(password), { iterations: this.iterations });
  }

  async create(host: string, username: string, password: string): Promise<void> {
    const user = this.prepareUsername(username);
    const ok = await this.store.create(host, user, this.credentials(password));
    if (!ok) throw new SwitchboardError('SB_ERR_ACCOUNT_EXISTS', `account ${user}@${host} already exists`);
    await this.events.created(host, user);
  }

  /**
   * Bulk provisioning: derives keys in parallel and inserts in batches; existing accounts are skipped.
   * Returns how many were created.
   */
  async createMany(host: string, entries: { username: string; password: string }[]): Promise<number> {
    const prepared = entries.map((e) => ({
      username: this.prepareUsername(e.username),
      password: preparePassword(e.password),
    }));
    let created = 0;
    const batch = 500;
    for (let i = 0; i < prepared.length; i += batch) {
      const slice = prepared.slice(i, i + batch);
      const rows = await Promise.all(
        slice.map(async (e) => {
          const [sha1, sha256] = await Promise.all([
            deriveAsync(e.password, 'sha1', this.iterations),
            deriveAsync(e.password, 'sha256', this.iterations),
          ]);
          return { username: e.username, scram: { sha1, sha256 } };
        }),
      );
      created += await this.store.createMany(host, rows);
    }
    return created;
  }

  async setPassword(host: string, username: string, password: string): Promise<void> {
    const user = this.prepareUsername(username);
    const ok = await this.store.setCredentials(host, user, this.credentials(password));
    if (!ok) throw new SwitchboardError('SB_ERR_ACCOUNT_NOT_FOUND', `no account ${user}@${host}`);
  }

  /**
   * Deletes an account and all its data (AccountStore.delete). The 'deleting' event comes first, so that
   * listeners still find what they need (XEP-0077 §3.2: the subscriptions in the roster are cancelled), and only
   * for an account that exists.
   */
  async delete(host: string, username: string): Promise<void> {
    const user = this.prepareUsername(username);
    if (!(await this.store.exists(host, user)))
      throw new SwitchboardError('SB_ERR_ACCOUNT_NOT_FOUND', `no account ${user}@${host}`);
    await this.events.deleting(host, user);
    const ok = await this.store.delete(host, user);
    if (!ok) throw new SwitchboardError('SB_ERR_ACCOUNT_NOT_FOUND', `no account ${user}@${host}`);
    await this.events.deleted(host, user);
  }

  exists(host: string, username: string): Promise<boolean> {
    return this.store.exists(host, username);
  }

  async scram(host: string, username: string, hash: ScramHash): Promise<ScramCredential | null> {
    const rec = await this.store.get(host, username);
    return rec?.scram[hash] ?? null;
  }
}
