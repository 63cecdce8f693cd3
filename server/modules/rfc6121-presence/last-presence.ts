// The last unavailable presence of each account, for probe answers (RFC 6121 §4.3.2) and last activity
// (XEP-0012 §3): one record per account in the keyval store 'last', written as the account goes offline.
import type { KeyValueStore } from '../../../storage/api/index.js';
import { KeyedSerial } from '../../core/keyed-serial.js';
import { type LastRecord, parseLastRecord } from './codec.js';
import type { LastPresenceService } from './types.js';

export class LastPresenceStore implements LastPresenceService {
  /** Writes of one account run in order, so that a logout never overtakes the unavailable before it. */
  private readonly serial = new KeyedSerial();

  constructor(
    private readonly kv: KeyValueStore<LastRecord>,
    private readonly host: string,
    private readonly now: () => number = Date.now,
  ) {}

  async get(user: string): Promise<LastRecord | null> {
    return parseLastRecord(await this.kv.get(this.host, user));
  }

  /**
   * The account's last available resource became unavailable (RFC 6121 §4.5): by unavailable presence, with
   * its status, or by its session ending, without one.
   */
  wentUnavailable(user: string, status: string | undefined): Promise<void> {
    return this.serial.run(user, () => this.kv.set(this.host, user, record(this.now(), status)));
  }

  /**
   * The account's last connected resource went away (XEP-0012 §3: the logout time). The status stays that of
   * the account's last unavailable presence, unless this session sent a newer one.
   */
  loggedOut(user: string, status: string | undefined): Promise<void> {
    return this.serial.run(user, async () => {
      const kept = status ?? (await this.get(user))?.status;
      await this.kv.set(this.host, user, record(this.now(), kept));
    });
  }
}

function record(at: number, status: string | undefined): LastRecord {
  return status === undefined ? { at } : { at, status };
}
