// XEP-0441 Message Archive Management Preferences (split out of XEP-0313): the <prefs/> payload and the
// JID matching rules of §2.3. Pure (DESIGN §1).
import { StanzaError } from '../../errors/index.js';
import { Jid } from '../../jid/index.js';
import { type Element, xml } from '../../xml/element.js';
import { NS_MAM } from './codec.js';

/** §2.1.1: the behaviour for JIDs in neither list. */
export type DefaultPolicy = 'always' | 'never' | 'roster';
const POLICIES: readonly string[] = ['always', 'never', 'roster'];

export interface ArchivePrefs {
  default: DefaultPolicy;
  /** Prepared JIDs, bare or full (§2.1.2, §2.1.3). */
  always: string[];
  never: string[];
}

function jids(list: Element | undefined): string[] {
  const out = new Set<string>();
  for (const j of list?.getChildren('jid') ?? []) {
    const jid = Jid.tryParse(j.getText().trim());
    if (!jid) throw StanzaError.jidMalformed(`not a valid JID: ${j.getText()}`);
    out.add(jid.toString());
  }
  return [...out];
}

/** §2.1: a prefs set. 'default' is required; a missing <always/> or <never/> is an empty list. */
export function parsePrefs(payload: Element): ArchivePrefs {
  const policy = payload.attrs.default;
  if (policy === undefined || !POLICIES.includes(policy)) {
    throw StanzaError.badRequest(`prefs 'default' must be one of ${POLICIES.join(', ')}`);
  }
  return {
    default: policy as DefaultPolicy,
    always: jids(payload.getChild('always')),
    never: jids(payload.getChild('never')),
  };
}

/** §2.1: the answer always carries both lists, even when empty. */
export function prefsElement(p: ArchivePrefs): Element {
  return xml(
    'prefs',
    { xmlns: NS_MAM, default: p.default },
    xml('always', {}, ...p.always.map((j) => xml('jid', {}, j))),
    xml('never', {}, ...p.never.map((j) => xml('jid', {}, j))),
  );
}

/**
 * §2.3.1: a listed full JID matches the target exactly; a listed bare JID matches the target's bare JID.
 * The target is the 'to' of an outgoing message (§2.3.2) or the 'from' of an incoming one (§2.3.3).
 */
export function listMatches(list: readonly string[], target: Jid): boolean {
  const full = target.toString();
  const bare = target.bareString;
  return list.some((entry) => (entry.includes('/') ? entry === full : entry === bare));
}

/**
 * What the preferences decide for one message: 'never' wins over 'always' when a JID is in both lists, the
 * conservative reading of a contradiction; 'roster' leaves the answer to the caller's roster lookup.
 */
export function prefsDecision(p: ArchivePrefs, target: Jid): 'archive' | 'skip' | 'roster' {
  if (listMatches(p.never, target)) return 'skip';
  if (listMatches(p.always, target)) return 'archive';
  if (p.default === 'always') return 'archive';
  if (p.default === 'never') return 'skip';
  return 'roster';
}
