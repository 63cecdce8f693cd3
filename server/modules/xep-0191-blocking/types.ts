// The blocking service other modules may consult (e.g. to leave blocked contacts out of a broadcast).
import type { Jid } from '../../jid/index.js';

export interface BlockingService {
  /** XEP-0191 §6: whether the local user's blocklist matches the JID. */
  isBlocked(user: string, jid: Jid): Promise<boolean>;
}

declare module '../../core/module.js' {
  interface Services {
    blocking: BlockingService;
  }
}
