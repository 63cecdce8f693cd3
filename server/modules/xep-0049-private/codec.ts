// XEP-0049 Private XML Storage: pure parsing of jabber:iq:private queries and building of their answers.
import { StanzaError } from '../../errors/index.js';
import { type Element, parseXml, xml } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

export const NS_PRIVATE = 'jabber:iq:private';

/** Longest namespace accepted as a storage key. */
export const MAX_NAMESPACE_LENGTH = 1024;

/** What is stored per (user, namespace): the XML text of each element, in the order the client sent them. */
export type StoredFragments = string[];

/**
 * XEP-0049 §2.3: namespaces that are not the client's to store. The stream namespaces, 'jabber:iq:private'
 * itself, 'vcard-temp' and the protocols the server keeps elsewhere are always reserved; the caller adds the
 * namespaces the server advertises (its disco features), which grow with the loaded modules.
 */
const ALWAYS_RESERVED: ReadonlySet<string> = new Set([
  NS.CLIENT,
  NS.SERVER,
  NS.COMPONENT,
  NS.STREAM,
  NS_PRIVATE,
  'vcard-temp',
  NS.ROSTER,
  NS.REGISTER,
  NS.BIND,
  NS.SESSION,
  NS.DISCO_INFO,
  NS.DISCO_ITEMS,
  'jabber:iq:auth',
  'jabber:iq:privacy',
]);

export function isReservedNamespace(ns: string, serverNamespaces: ReadonlySet<string>): boolean {
  return ALWAYS_RESERVED.has(ns) || serverNamespaces.has(ns);
}

function elementChildren(el: Element): Element[] {
  return el.children.filter((c): c is Element => typeof c !== 'string');
}

/** The namespace of a stored fragment: it MUST be qualified by its own namespace (XEP-0049 §2.3). */
function ownNamespace(el: Element, serverNamespaces: ReadonlySet<string>): string {
  const ns = el.attrs.xmlns;
  if (ns === undefined || ns === '') {
    throw StanzaError.notAcceptable('each stored element must be qualified by its own namespace');
  }
  if (ns.length > MAX_NAMESPACE_LENGTH) throw StanzaError.notAcceptable('namespace is too long');
  if (isReservedNamespace(ns, serverNamespaces)) throw StanzaError.notAcceptable(`namespace ${ns} is reserved`);
  return ns;
}

/**
 * XEP-0049 §2.3: a get names exactly one namespace with one child element; without a child the answer is
 * bad-request (the spec's "Bad Format"), and more than one namespace in a get is not allowed.
 */
export function parsePrivateGet(
  query: Element,
  serverNamespaces: ReadonlySet<string>,
): { ns: string; request: Element } {
  const children = elementChildren(query);
  const request = children[0];
  if (request === undefined) throw StanzaError.badRequest('name the namespace to retrieve with a child element');
  if (children.length > 1) throw StanzaError.badRequest('a get retrieves exactly one namespace');
  return { ns: ownNamespace(request, serverNamespaces), request };
}

/**
 * XEP-0049 §2.3: a set holds at least one element (otherwise not-acceptable); several elements of one namespace
 * are stored together. Elements of several namespaces are accepted and grouped, each replacing its namespace.
 * Every element is checked before the caller stores anything.
 */
export function parsePrivateSet(query: Element, serverNamespaces: ReadonlySet<string>): Map<string, StoredFragments> {
  const children = elementChildren(query);
  if (children.length === 0) throw StanzaError.notAcceptable('a set must contain an element to store');
  const groups = new Map<string, StoredFragments>();
  for (const child of children) {
    const ns = ownNamespace(child, serverNamespaces);
    const list = groups.get(ns) ?? [];
    list.push(child.toString());
    groups.set(ns, list);
  }
  return groups;
}

/** Bytes of XML a namespace's fragments take, for the size limit. */
export function fragmentBytes(fragments: StoredFragments): number {
  return fragments.reduce((n, f) => n + Buffer.byteLength(f, 'utf8'), 0);
}

/**
 * XEP-0049 §2.3 result: the stored elements of the namespace, or (nothing stored) the requested element echoed
 * back empty, which clients read as "no data".
 */
export function privateResult(request: Element, stored: StoredFragments | null): Element {
  const query = xml('query', { xmlns: NS_PRIVATE });
  if (stored === null || stored.length === 0) {
    query.cnode(xml(request.name, { xmlns: request.attrs.xmlns }));
    return query;
  }
  for (const text of stored) query.cnode(parseXml(text));
  return query;
}
