// XEP-0106 JID Escaping: lets a localpart carry the characters RFC 7622 §3.3.1 forbids (gateways use this to
// embed foreign addresses, e.g. sip:alice@pbx.example as alice\40pbx.example@sip.example.com).
import { JidError } from './precis.js';

/** XEP-0106 §3.2 escaping table: the nine disallowed characters plus the escape character itself. */
const ESCAPES: Readonly<Record<string, string>> = {
  ' ': '\\20',
  '"': '\\22',
  '&': '\\26',
  "'": '\\27',
  '/': '\\2f',
  ':': '\\3a',
  '<': '\\3c',
  '>': '\\3e',
  '@': '\\40',
  '\\': '\\5c',
};

/**
 * A disallowed character, or a backslash that would otherwise start an escape sequence (XEP-0106 §4.1 rule 7,
 * §4.2 step 3). Any other backslash stays as is (§4.3: partial or unknown sequences are left alone). The
 * lookahead ignores case because the localpart is lowercased afterwards, turning '\2F' into the live '\2f'.
 */
const NEEDS_ESCAPE = /[ "&'/:<>@]|\\(?=20|22|26|27|2f|3a|3c|3e|40|5c)/gi;

/** XEP-0106 §3.3: only these exact lowercase sequences are unescaped (§4.1 rule 3, §3.1 "case is significant"). */
const ESCAPED = /\\(20|22|26|27|2f|3a|3c|3e|40|5c)/g;

/** Escapes a foreign identifier for use as a localpart; the result still has to go through Jid.of(). */
export function escapeLocal(s: string): string {
  // XEP-0106 §3.2 note and §4.1 rule 6: '\20' may be neither the first nor the last sequence.
  if (s.startsWith(' ') || s.endsWith(' ')) {
    throw new JidError('XEP-0106: a localpart cannot begin or end with a space');
  }
  return s.replace(NEEDS_ESCAPE, (c) => ESCAPES[c] ?? c);
}

/** Reverses escapeLocal(); for display and for gateways talking to the foreign network (XEP-0106 §4.1). */
export function unescapeLocal(s: string): string {
  return s.replace(ESCAPED, (_seq, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}
