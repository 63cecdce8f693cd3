// XEP-0054 vcard-temp and XEP-0153 vCard-based avatars: pure conversions between stanzas and stored data.
import { createHash } from 'node:crypto';
import { Element, parseXml, xml } from '../../xml/element.js';

export const NS_VCARD = 'vcard-temp';
export const NS_VCARD_UPDATE = 'vcard-temp:x:update';

/** XEP-0054 §3.1: the answer when no vCard is stored (an empty <vCard/> result). */
export function emptyVCard(): Element {
  return xml('vCard', { xmlns: NS_VCARD });
}

/** True when the element carries neither child elements nor non-whitespace text. */
function isBlank(el: Element): boolean {
  return el.children.every((c) => typeof c === 'string' && c.trim() === '');
}

/**
 * The stored form of the vCard in a set: its XML text, or null when it is empty. XEP-0054 §3.2: a set carries
 * the whole vCard (there are no partial updates), so an empty one leaves the user without a vCard.
 */
export function serializeVCard(vcard: Element): string | null {
  if (isBlank(vcard)) return null;
  const attrs: Record<string, string> = { ...vcard.attrs, xmlns: NS_VCARD };
  const copy = new Element('vCard', attrs);
  copy.children = vcard.children;
  return copy.toString();
}

/** Reads a stored vCard back; a record that is not a vcard-temp vCard is an error in the store. */
export function parseStoredVCard(text: string): Element {
  const el = parseXml(text);
  if (!el.is('vCard', NS_VCARD)) throw new Error('stored vCard is not a vcard-temp <vCard/>');
  return el;
}

/** XEP-0153 §4.5: BINVAL is base64Binary and whitespace in it MUST be ignored. */
export function decodeBinval(text: string): Buffer | null {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return null;
  return Buffer.from(compact, 'base64');
}

/**
 * XEP-0153 §3.1: the avatar hash is the SHA-1 of the image data itself (not of its base64 form), as hexadecimal
 * digits; lower case, which the ecosystem expects. Null when the vCard has no usable PHOTO/BINVAL.
 */
export function photoHash(vcard: Element): string | null {
  const binval = vcard.getChild('PHOTO')?.getChildText('BINVAL');
  if (binval === null || binval === undefined) return null;
  const data = decodeBinval(binval);
  if (data === null || data.length === 0) return null;
  return createHash('sha1').update(data).digest('hex');
}

/** XEP-0153 §4.1: whether a presence already carries the update child (with or without a photo). */
export function hasPhotoUpdate(presence: Element): boolean {
  return presence.getChild('x', NS_VCARD_UPDATE) !== undefined;
}

/** XEP-0153 §3.1: <x xmlns='vcard-temp:x:update'><photo>HASH</photo></x>. */
export function photoUpdate(hash: string): Element {
  return xml('x', { xmlns: NS_VCARD_UPDATE }, xml('photo', null, hash));
}

/**
 * A copy of the presence with the photo hash added (DESIGN §9.7: the incoming stanza is never mutated; its
 * children are shared read-only and keep their parent).
 */
export function withPhotoUpdate(presence: Element, hash: string): Element {
  const copy = new Element(presence.name, { ...presence.attrs });
  copy.children = [...presence.children];
  copy.cnode(photoUpdate(hash));
  return copy;
}
