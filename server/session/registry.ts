// Local client sessions by bare JID and resource: what delivery needs to find (RFC 6121 §8.5).
import type { SessionInfo } from '../core/hooks.js';
import type { Jid } from '../jid/index.js';

export class SessionRegistry {
  private readonly byBare = new Map<string, Map<string, SessionInfo>>();
  private total = 0;

  /** Adds a bound session; returns the session it replaces on the same full JID, if any. */
  add(session: SessionInfo): SessionInfo | undefined {
    const bare = session.jid.bareString;
    let resources = this.byBare.get(bare);
    if (!resources) {
      resources = new Map();
      this.byBare.set(bare, resources);
    }
    const old = resources.get(session.resource);
    resources.set(session.resource, session);
    if (!old) this.total++;
    return old;
  }

  /** Removes the session if it is still the one registered under its full JID. */
  remove(session: SessionInfo): boolean {
    const bare = session.jid.bareString;
    const resources = this.byBare.get(bare);
    if (!resources || resources.get(session.resource) !== session) return false;
    resources.delete(session.resource);
    this.total--;
    if (resources.size === 0) this.byBare.delete(bare);
    return true;
  }

  get(full: Jid): SessionInfo | undefined {
    if (full.resource === null) return undefined;
    return this.byBare.get(full.bareString)?.get(full.resource);
  }

  /** Every bound resource of an account. */
  resources(bare: Jid | string): SessionInfo[] {
    const key = typeof bare === 'string' ? bare : bare.bareString;
    const r = this.byBare.get(key);
    return r ? [...r.values()] : [];
  }

  /** Available resources with non-negative priority, highest priority first (RFC 6121 §8.5.2.1.1). */
  deliverable(bare: Jid | string): SessionInfo[] {
    const list = this.resources(bare).filter((s) => s.available && s.priority >= 0);
    if (list.length < 2) return list;
    const top = Math.max(...list.map((s) => s.priority));
    return list.filter((s) => s.priority === top);
  }

  count(): number {
    return this.total;
  }

  all(): IterableIterator<Map<string, SessionInfo>> {
    return this.byBare.values();
  }
}
