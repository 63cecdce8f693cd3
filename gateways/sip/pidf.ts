// Presence documents: XMPP presence ⇄ PIDF (RFC 3863) with RPID activities (RFC 4480), as RFC 8048 maps them.
// - available ⇄ `<basic>open</basic>`, unavailable ⇄ `<basic>closed</basic>` (RFC 8048 §4, §5)
// - `<status/>` ⇄ the tuple's `<note/>` (RFC 3863 §4.1.6)
// - `<show/>` has no standard PIDF form: RFC 8048 §4 recommends carrying the `jabber:client` `<show/>` element in the
//   PIDF; SIP peers read RPID activities instead, so both are written (away/xa → away, dnd → busy) and, when reading,
//   the jabber:client element wins over activities (busy, on-the-phone, meeting → dnd; vacation, sleeping → xa).
// - one tuple per available XMPP resource (RFC 8048 §4), most available first, each with the resource's GRUU as
//   `<contact>` (RFC 3863 §4.1.5; `sip:user@domain;gr=resource`, RFC 7247 §6); a resource that went unavailable
//   while others stay is left out (each NOTIFY carries the whole document, RFC 3856), none left → one closed tuple.
//   Tuple ids are xs:ID (RFC 3863 §4.1.4), which cannot start with a digit.
// Reading is by namespace, never by prefix (a peer may write `<rpid:away/>` or `<r:away/>` or a default namespace).
import { createHash } from 'node:crypto';
import { type Element, xml } from '../../server/xml/element.js';
import type { LegacyPresence, PresenceShow } from '../core/driver.js';
import { parseXmlDocument } from './xmldoc.js';

export const NS_PIDF = 'urn:ietf:params:xml:ns:pidf';
export const NS_DM = 'urn:ietf:params:xml:ns:pidf:data-model';
export const NS_RPID = 'urn:ietf:params:xml:ns:pidf:rpid';
export const NS_JABBER_CLIENT = 'jabber:client';
export const PIDF_TYPE = 'application/pidf+xml';

const SHOWS: ReadonlySet<string> = new Set(['away', 'chat', 'dnd', 'xa']);

/** RFC 4480 §3.2 activities as XMPP show values. */
const ACTIVITY_SHOW: Readonly<Record<string, PresenceShow>> = {
  away: 'away',
  busy: 'dnd',
  'on-the-phone': 'dnd',
  meeting: 'dnd',
  appointment: 'dnd',
  presentation: 'dnd',
  performance: 'dnd',
  vacation: 'xa',
  holiday: 'xa',
  sleeping: 'xa',
  'permanent-absence': 'xa',
};

/** XMPP show → the RPID activity written for SIP peers (none for `chat`: plain available). */
const SHOW_ACTIVITY: Readonly<Record<PresenceShow, string | undefined>> = {
  away: 'away',
  xa: 'away',
  dnd: 'busy',
  chat: undefined,
};

/** An xs:ID (NCName) for a resource: never starts with a digit, stable, and distinct for distinct resources. */
export function xsId(prefix: string, key: string): string {
  const safe = key.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 32);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return `${prefix}${safe ? `-${safe}` : ''}-${hash}`;
}

export interface PidfTuple {
  /** The XMPP resource this tuple stands for; undefined for the user's aggregate presence. */
  readonly resource?: string;
  readonly presence: LegacyPresence;
  /** RFC 3863 §4.1.5: a URI that reaches this resource (its GRUU, RFC 7247 §6). */
  readonly contact?: string;
}

/** How available a show is, for ordering tuples (RFC 6121 §4.7.2.1): chat, plain available, away, xa, dnd. */
const RANK: Readonly<Record<PresenceShow | 'none', number>> = { chat: 0, none: 1, away: 2, xa: 3, dnd: 4 };

/**
 * The tuples for a user's resources (resource → its latest available presence): one per available resource, most
 * available first (ties keep the given order), each with its GRUU as contact when `contactOf` is given.
 */
export function resourceTuples(
  resources: Iterable<readonly [string, LegacyPresence]>,
  contactOf?: (resource: string) => string | null,
): PidfTuple[] {
  const list: PidfTuple[] = [];
  for (const [resource, presence] of resources) {
    if (!presence.available) continue;
    const contact = contactOf?.(resource) ?? null;
    list.push({ resource, presence, ...(contact ? { contact } : {}) });
  }
  const rank = (t: PidfTuple) => RANK[t.presence.show ?? 'none'];
  return list.sort((a, b) => rank(a) - rank(b));
}

/** Builds a PIDF document for `entity` (a SIP URI, RFC 3863 §4.1.2) with one tuple per resource. */
export function buildPidf(entity: string, tuples: readonly PidfTuple[], lang?: string): Buffer {
  const list = tuples.length > 0 ? tuples : [{ presence: { available: false } }];
  const doc = xml('presence', { xmlns: NS_PIDF, 'xmlns:dm': NS_DM, 'xmlns:rpid': NS_RPID, entity });
  const stamp = new Date().toISOString();
  for (const t of list) {
    const p = t.presence;
    const tuple = xml(
      'tuple',
      { id: xsId('t', t.resource ?? entity) },
      xml('status', null, xml('basic', null, p.available ? 'open' : 'closed')),
      p.available && p.show ? xml('show', { xmlns: NS_JABBER_CLIENT }, p.show) : null,
      t.contact ? xml('contact', null, t.contact) : null,
      p.status ? xml('note', lang ? { 'xml:lang': lang } : null, p.status) : null,
      xml('timestamp', null, stamp),
    );
    doc.cnode(tuple);
  }
  // RFC 4480 §3.2: the person's activities, from the most available resource (the first one given).
  const first = list.find((t) => t.presence.available)?.presence;
  const activity = first?.show ? SHOW_ACTIVITY[first.show] : undefined;
  if (activity) {
    doc.cnode(
      xml(
        'dm:person',
        { id: xsId('p', entity) },
        xml('rpid:activities', null, xml(`rpid:${activity}`)),
        first?.status ? xml('dm:note', null, first.status) : null,
      ),
    );
  }
  return Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${doc.toString()}`, 'utf8');
}

export interface ParsedPidf {
  readonly entity?: string;
  /** The aggregate presence: available when any tuple is open. */
  readonly presence: LegacyPresence;
  readonly tuples: readonly { readonly id: string; readonly open: boolean }[];
}

/** Reads a PIDF body; null when it is not a well-formed PIDF document (RFC 3863 §4.1.1 root `presence`). */
export function parsePidf(body: Buffer): ParsedPidf | null {
  const root = parseXmlDocument(body);
  if (!root?.is('presence', NS_PIDF)) return null;
  const tuples = root.getChildren('tuple', NS_PIDF);
  const parsed = tuples.map((t) => ({
    el: t,
    id: t.attrs.id ?? '',
    open: t.getChild('status', NS_PIDF)?.getChildText('basic', NS_PIDF)?.trim() === 'open',
  }));
  const open = parsed.filter((t) => t.open);
  const person = root.getChildren('person', NS_DM)[0];
  const available = open.length > 0;
  const scope = available ? open.map((t) => t.el) : parsed.map((t) => t.el);
  const show = available ? readShow(scope, person) : undefined;
  const status = readNote(scope, root, person);
  const presence: LegacyPresence = {
    available,
    ...(show !== undefined ? { show } : {}),
    ...(status !== undefined ? { status } : {}),
  };
  return {
    ...(root.attrs.entity !== undefined ? { entity: root.attrs.entity } : {}),
    presence,
    tuples: parsed.map(({ id, open }) => ({ id, open })),
  };
}

/** RFC 8048 §5: the jabber:client show inside a tuple first, then RPID activities of the person or a tuple. */
function readShow(tuples: readonly Element[], person: Element | undefined): PresenceShow | undefined {
  for (const t of tuples) {
    const s = findDeep(t, 'show', NS_JABBER_CLIENT, 3)?.getText().trim();
    if (s !== undefined && SHOWS.has(s)) return s as PresenceShow;
  }
  for (const scope of [person, ...tuples]) {
    const acts = scope ? findDeep(scope, 'activities', NS_RPID, 3) : undefined;
    for (const a of acts?.getChildElements() ?? []) {
      if (a.getNS() !== NS_RPID) continue;
      const show = ACTIVITY_SHOW[a.getName()];
      if (show) return show;
    }
  }
  return undefined;
}

function readNote(tuples: readonly Element[], root: Element, person: Element | undefined): string | undefined {
  for (const t of tuples) {
    const n = t.getChildText('note', NS_PIDF)?.trim();
    if (n) return n;
  }
  const top = root.getChildText('note', NS_PIDF)?.trim();
  if (top) return top;
  const dm = person?.getChildText('note', NS_DM)?.trim();
  return dm || undefined;
}

/** The first descendant named `name` in `ns`, at most `depth` levels down. */
function findDeep(el: Element, name: string, ns: string, depth: number): Element | undefined {
  for (const c of el.getChildElements()) {
    if (c.getName() === name && c.getNS() === ns) return c;
    if (depth > 1) {
      const hit = findDeep(c, name, ns, depth - 1);
      if (hit) return hit;
    }
  }
  return undefined;
}
