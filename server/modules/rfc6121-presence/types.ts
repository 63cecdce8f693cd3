// The presence service other modules use: what the server remembers of an account that went offline.
import type { LastRecord } from './codec.js';

export type { LastRecord } from './codec.js';

export interface LastPresenceService {
  /**
   * When the account last went offline (its last available resource became unavailable, or its last connected
   * resource went away) with the status of its last unavailable presence; null when nothing is recorded.
   */
  get(user: string): Promise<LastRecord | null>;
}

declare module '../../core/module.js' {
  interface Services {
    lastPresence: LastPresenceService;
  }
}
