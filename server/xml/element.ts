// Facade over ltx: the only place that imports it, so the rest of the server depends on these names.
import * as ltx from 'ltx';

export type { Node } from 'ltx';
export const Element = ltx.Element;
export type Element = ltx.Element;
export const escapeXML = ltx.escapeXML;
export const escapeXMLText = ltx.escapeXMLText;

type Attrs = Record<string, string | number | undefined | null>;

/** Builds an element; undefined/null attributes are left out. */
export function xml(
  name: string,
  attrs?: Attrs | null,
  ...children: (Element | string | null | undefined | false)[]
): Element {
  const clean: Record<string, string> = {};
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== undefined && v !== null) clean[k] = String(v);
    }
  }
  const el = new ltx.Element(name, clean);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (typeof c === 'string') el.t(c);
    else el.cnode(c);
  }
  return el;
}

/** Parses one complete XML fragment (tests and stored data only; network input goes through the framer). */
export function parseXml(s: string): Element {
  return ltx.parse(s);
}

/** Deep copy, so that incoming stanzas are never mutated (DESIGN §9.7). */
export function cloneElement(el: Element): Element {
  return ltx.clone(el);
}
