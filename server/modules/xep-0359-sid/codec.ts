// XEP-0359 Unique and Stable Stanza IDs: reading, removing and adding <stanza-id/> elements on message copies.
// Pure (DESIGN §1); incoming stanzas are never changed, every edit returns a shallow copy (DESIGN §9.7).
import { Jid } from '../../jid/index.js';
import { Element, xml } from '../../xml/element.js';

export const NS_SID = 'urn:xmpp:sid:0';

export interface StanzaId {
  id: string;
  by: string;
}

/** The <stanza-id/> elements in the direct child level of a stanza (§3), with their 'id' and 'by'. */
export function stanzaIds(stanza: Element): StanzaId[] {
  const out: StanzaId[] = [];
  for (const c of stanza.children) {
    if (typeof c === 'string' || !c.is('stanza-id', NS_SID)) continue;
    out.push({ id: c.attrs.id ?? '', by: c.attrs.by ?? '' });
  }
  return out;
}

/** Whether two JID strings name the same address once prepared (§5 rule 7: 'by' is compared normalized). */
function sameJid(a: string, b: Jid): boolean {
  const parsed = Jid.tryParse(a);
  return parsed?.equals(b) === true;
}

/**
 * A copy without the <stanza-id/> elements whose 'by' satisfies `drop` (given the prepared JID, or null when
 * 'by' is missing or not a JID); the stanza itself when nothing is removed.
 */
export function withoutStanzaIds(stanza: Element, drop: (by: Jid | null) => boolean): Element {
  let removed = false;
  const kept = stanza.children.filter((c) => {
    if (typeof c === 'string' || !c.is('stanza-id', NS_SID)) return true;
    if (!drop(Jid.tryParse(c.attrs.by))) return true;
    removed = true;
    return false;
  });
  if (!removed) return stanza;
  const copy = new Element(stanza.name, { ...stanza.attrs });
  copy.children = kept;
  return copy;
}

/**
 * §5 rule 3: an entity that assigns IDs ignores (here: removes) any <stanza-id/> claiming its own address, then
 * adds its own, so the stanza carries at most one per 'by' (rule 4). Returns a copy.
 */
export function withStanzaId(stanza: Element, id: string, by: Jid): Element {
  const base = withoutStanzaIds(stanza, (b) => b?.equals(by) === true);
  const copy = new Element(base.name, { ...base.attrs });
  const sid = xml('stanza-id', { xmlns: NS_SID, id, by: by.toString() });
  copy.children = [...base.children, sid];
  sid.parent = copy;
  return copy;
}

/** The 'id' the given entity assigned, if the stanza carries one. */
export function stanzaIdBy(stanza: Element, by: Jid): string | undefined {
  return stanzaIds(stanza).find((s) => sameJid(s.by, by))?.id;
}
