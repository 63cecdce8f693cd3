// Parses one XML document received from the network (a PIDF body) through the server's strict framer, so SIP
// bodies get the same treatment as XMPP input (DESIGN §4): restricted XML (no DTD, entities, PIs or comments),
// UTF-8 only, bounded size, depth and attribute count. The framer expects a stream, so the document's root
// element is read as the single child of a synthetic one.

import type { Element } from '../../server/xml/element.js';
import { XmlFramer } from '../../server/xml/framer.js';

export interface XmlDocLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxAttributes: number;
}

export const DOC_LIMITS: XmlDocLimits = { maxBytes: 32_768, maxDepth: 16, maxAttributes: 32 };

/** The document's root element, or null when it is not one well-formed element within the limits. */
export function parseXmlDocument(input: Buffer, limits: XmlDocLimits = DOC_LIMITS): Element | null {
  if (input.length > limits.maxBytes) return null;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    return null;
  }
  // XML 1.0 §2.8: an optional declaration (and a BOM) before the root; the framer sees only the element.
  text = text.replace(/^\uFEFF/, '').replace(/^\s*<\?xml\s[^?]*\?>/, '');
  let root: Element | null = null;
  let count = 0;
  let failed = false;
  const framer = new XmlFramer(
    { maxStanzaBytes: limits.maxBytes, maxDepth: limits.maxDepth, maxAttributes: limits.maxAttributes },
    {
      streamOpen: () => {},
      stanza: (el) => {
        count++;
        root = el;
      },
      streamClose: () => {},
      error: () => {
        failed = true;
      },
    },
  );
  framer.write(Buffer.from(`<stream>${text}</stream>`, 'utf8'));
  return failed || count !== 1 ? null : root;
}
