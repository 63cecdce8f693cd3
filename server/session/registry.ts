// Local client sessions by bare JID and resource: what delivery needs to find (RFC 6121 §8.5).
import type { SessionInfo } from '../core/hooks.js';
import type { Jid } from '../jid/index.js';

/**
 * An account's bound resources: the session itself while there is one (most accounts), a map by resource from
 * the second on, so that an idle account costs no Map of its own.
 */
type Resources = SessionInfo | Map<string, SessionInfo>;

export class SessionRegistry {
  private readonly byBare = new Map<string, Resources>();
  private total = 0;

  /** Adds a bound session; returns the session it replaces on the same full JID, if any. */
  add(session: SessionInfo): SessionInfo | undefined {
    const bare = session.jid.bareString;
    const resource = session.resource;
    const cur = this.byBare.get(bare);
    if (cur === undefined) {
      this.byBare.set(bare, session);
      this.total++;
      return undefined;
    }
    if (cur instanceof Map) {
      const old = cur.get(resource);
      cur.set(resource, session);
      if (!old) this.total++;
      return old;
    }
    if (cur.resource === resource) {
      this.byBare.set(bare, session);
      return cur;
    }
    this.byBare.set(
      bare,
      new Map([
        [cur.resource, cur],
        [resource, session],
      ]),
    );
    this.total++;
    return undefined;
  }

  /** Removes the session if it is still the one registered under its full JID. */
  remove(session: SessionInfo): boolean {
    const bare = session.jid.bareString;
    const cur = this.byBare.get(bare);
    if (cur === undefined) return false;
    if (!(cur instanceof Map)) {
      if (cur !== session) return false;
      this.byBare.delete(bare);
      this.total--;
      return true;
    }
    if (cur.get(session.resource) !== session) return false;
    cur.delete(session.resource);
    this.total--;
    if (cur.size === 1) this.byBare.set(bare, cur.values().next().value as SessionInfo);
    else if (cur.size === 0) this.byBare.delete(bare);
    return true;
  }

  get(full: Jid): SessionInfo | undefined {
    if (full.resource === null) return undefined;
    const cur = this.byBare.get(full.bareString);
    if (cur === undefined) return undefined;
    if (cur instanceof Map) return cur.get(full.resource);
    return cur.resource === full.resource ? cur : undefined;
  }

  /** Every bound resource of an account. */
  resources(bare: Jid | string): SessionInfo[] {
    const cur = this.byBare.get(typeof bare === 'string' ? bare : bare.bareString);
    if (cur === undefined) return [];
    return cur instanceof Map ? [...cur.values()] : [cur];
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

  /** Every bound session. */
  *all(): IterableIterator<SessionInfo> {
    for (const cur of this.byBare.values()) {
      if (cur instanceof Map) yield* cur.values();
      else yield cur;
    }
  }
}
