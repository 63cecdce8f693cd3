// XEP-0198 Stream Management: the nonzas of urn:xmpp:sm:3 and the sequence-number arithmetic. Pure, no I/O.
import { StreamError } from '../../errors/index.js';
import { type Element, xml } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

export const NS_SM = 'urn:xmpp:sm:3';

/** XEP-0198 §4: 'h' is an xs:unsignedInt that wraps from 2^32-1 back to zero. */
export const H_MODULO = 2 ** 32;

/** h advanced by n stanzas, modulo 2^32 (XEP-0198 §4). */
export function addH(h: number, n = 1): number {
  return (h + n) % H_MODULO;
}

/** How many stanzas lie between sequence numbers `from` and `to` (`to` taken to be at or after `from`). */
export function diffH(to: number, from: number): number {
  return (((to - from) % H_MODULO) + H_MODULO) % H_MODULO;
}

/** Parses an 'h' attribute (xs:unsignedInt, XEP-0198 §4); null when absent or not one. */
export function parseH(value: string | undefined): number | null {
  if (value === undefined || !/^[0-9]{1,10}$/.test(value)) return null;
  const n = Number(value);
  return n < H_MODULO ? n : null;
}

/** XEP-0198 §3 and §5: a 'resume' or similar boolean attribute ("true" or "1"). */
export function isTrue(value: string | undefined): boolean {
  return value === 'true' || value === '1';
}

/** A positive whole number of seconds (the client's preferred 'max', XEP-0198 §3), or null. */
export function parseSeconds(value: string | undefined): number | null {
  if (value === undefined || !/^[0-9]{1,9}$/.test(value)) return null;
  const n = Number(value);
  return n > 0 ? n : null;
}

export function enabled(attrs: { id?: string; resume?: boolean; max?: number }): Element {
  return xml('enabled', {
    xmlns: NS_SM,
    id: attrs.id,
    resume: attrs.resume ? 'true' : undefined,
    max: attrs.max,
  });
}

export function resumed(previd: string, h: number): Element {
  return xml('resumed', { xmlns: NS_SM, previd, h });
}

/** XEP-0198 §6: <failed/> carries a stanza error condition. */
export function failed(condition: string, h?: number): Element {
  return xml('failed', { xmlns: NS_SM, h }, xml(condition, { xmlns: NS.STANZAS_ERR }));
}

export function ackAnswer(h: number): Element {
  return xml('a', { xmlns: NS_SM, h });
}

export function ackRequest(): Element {
  return xml('r', { xmlns: NS_SM });
}

/** XEP-0198 §6: the peer acknowledged more stanzas than it was sent. */
export function handledCountTooHigh(h: number, sendCount: number): StreamError {
  return new StreamError('undefined-condition', `You acknowledged ${h} stanzas, but I only sent you ${sendCount}.`, {
    app: xml('handled-count-too-high', { xmlns: NS_SM, h, 'send-count': sendCount }),
  });
}

/** XEP-0198 §4: only stanzas are counted and acknowledged, never nonzas or stream-level elements. */
export function isStanza(el: Element): boolean {
  const ns = el.attrs.xmlns;
  return (
    (ns === undefined || ns === NS.CLIENT) && (el.name === 'message' || el.name === 'presence' || el.name === 'iq')
  );
}
