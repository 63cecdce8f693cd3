// XEP-0012 Last Activity: pure building of jabber:iq:last answers and of the stored logout record.
import { type Element, xml } from '../../xml/element.js';

export const NS_LAST = 'jabber:iq:last';

/** What the server remembers when an account's last resource goes away (XEP-0012 §3). */
export interface LastRecord {
  /** When the last resource went away, in ms since the epoch. */
  at: number;
  /** Status text of the user's last unavailable presence, if it had one. */
  status?: string;
}

/** XEP-0012 §2: the REQUIRED 'seconds' attribute, with OPTIONAL character data. */
export function lastResult(seconds: number, text?: string): Element {
  const s = Math.max(0, Math.floor(seconds));
  return xml('query', { xmlns: NS_LAST, seconds: s }, text ? text : null);
}

/** Whole seconds elapsed since a time, never negative (a clock stepping back must not give a negative value). */
export function secondsSince(at: number, now: number): number {
  return Math.max(0, Math.floor((now - at) / 1000));
}

/** XEP-0012 §3: the status text of an unavailable presence; the first <status/> without another language wins. */
export function unavailableStatus(presence: Element): string | undefined {
  const statuses = presence.getChildren('status');
  const chosen = statuses.find((s) => s.attrs['xml:lang'] === undefined) ?? statuses[0];
  const text = chosen?.getText();
  return text ? text : undefined;
}

/** Reads a stored record defensively: anything malformed counts as no record. */
export function parseLastRecord(value: unknown): LastRecord | null {
  if (typeof value !== 'object' || value === null) return null;
  const { at, status } = value as { at?: unknown; status?: unknown };
  if (typeof at !== 'number' || !Number.isFinite(at)) return null;
  return typeof status === 'string' ? { at, status } : { at };
}
