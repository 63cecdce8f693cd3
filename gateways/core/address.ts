// Legacy address ⇄ JID on the gateway domain (XEP-0100 §6.3): the driver's AddressCodec composed with XEP-0106
// escaping, so drivers never deal with JID syntax.
import { escapeLocal, Jid, JidError, unescapeLocal } from '../../server/jid/index.js';
import type { AddressCodec, LegacyId } from './driver.js';

export class AddressMapper {
  constructor(
    private readonly codec: AddressCodec,
    readonly domain: string,
  ) {}

  /** The contact JID for a legacy id; throws JidError when it cannot be one (XEP-0106 §4.1: edge spaces, length). */
  toJid(id: LegacyId): Jid {
    return Jid.of(escapeLocal(this.codec.toLocal(id)), this.domain);
  }

  /** Like toJid(), or null: for ids the legacy network hands us, which must not break the caller. */
  tryToJid(id: LegacyId): Jid | null {
    try {
      return this.toJid(id);
    } catch (err) {
      if (err instanceof JidError) return null;
      throw err;
    }
  }

  /** The legacy id a JID on the gateway domain names (XEP-0106 §4.3 unescaping first), or null. */
  fromJid(jid: Jid): LegacyId | null {
    if (jid.domain !== this.domain || jid.local === null) return null;
    return this.codec.fromLocal(unescapeLocal(jid.local));
  }

  /** XEP-0100 §6.3 set: what the user typed → the contact JID, or null when it is no legacy address. */
  translate(input: string): Jid | null {
    const id = this.codec.parse(input.trim());
    return id === null ? null : this.tryToJid(id);
  }
}
