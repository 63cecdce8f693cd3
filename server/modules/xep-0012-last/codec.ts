// XEP-0012 Last Activity: pure building of jabber:iq:last answers (the record itself is the presence module's).
import { type Element, xml } from '../../xml/element.js';

export const NS_LAST = 'jabber:iq:last';

/** XEP-0012 §2: the REQUIRED 'seconds' attribute, with OPTIONAL character data. */
export function lastResult(seconds: number, text?: string): Element {
  const s = Math.max(0, Math.floor(seconds));
  return xml('query', { xmlns: NS_LAST, seconds: s }, text ? text : null);
}

/** Whole seconds elapsed since a time, never negative (a clock stepping back must not give a negative value). */
export function secondsSince(at: number, now: number): number {
  return Math.max(0, Math.floor((now - at) / 1000));
}
