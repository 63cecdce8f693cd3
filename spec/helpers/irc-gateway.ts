// Helpers for the IRC gateway interop spec: XEP-0077 registration with the gateway from a real client, the gateway
// presence, and XEP-0045 stanza predicates.
import assert from 'node:assert/strict';
import { type ClientSession, type Element, isPresence, xml } from './im-clients.js';

export const NS_REGISTER = 'jabber:iq:register';
export const NS_DATA = 'jabber:x:data';
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';

const field = (name: string, value: string) => xml('field', { var: name }, xml('value', {}, value));

/** XEP-0077 §3.1 with an XEP-0004 form, then the XEP-0100 §4.1.1 subscription exchange with the gateway. */
export async function registerWithGateway(c: ClientSession, gw: string, values: Record<string, string>): Promise<void> {
  const form = xml(
    'x',
    { xmlns: NS_DATA, type: 'submit' },
    field('FORM_TYPE', NS_REGISTER),
    ...Object.entries(values).map(([k, v]) => field(k, v)),
  );
  await c.request(xml('iq', { type: 'set', to: gw }, xml('query', { xmlns: NS_REGISTER }, form)));
  await c.waitFor(isPresence(gw, 'subscribe'));
  await c.send(xml('presence', { to: gw, type: 'subscribed' }));
  await c.send(xml('presence', { to: gw, type: 'subscribe' }));
  await c.waitFor(isPresence(gw, 'subscribed'));
}

/** The gateway's presence while logged in: available without <show/> (DESIGN §6). */
export const gatewayOnline = (gw: string) => (el: Element) =>
  el.is('presence') && el.attrs.from === gw && el.attrs.type === undefined && !el.getChild('show');

export const gatewayOffline = (gw: string) => (el: Element) =>
  el.is('presence') && el.attrs.from === gw && el.attrs.type === 'unavailable';

export const isMessageFrom = (from: string, body?: string) => (el: Element) =>
  el.is('message') && el.attrs.from === from && (body === undefined || el.getChildText('body') === body);

/** XEP-0045 §7.2.3 occupant presence from `room/nick` (available unless `type` says otherwise). */
export const isOccupant = (roomJid: string, nick: string, type?: string) => (el: Element) =>
  el.is('presence') &&
  el.attrs.from === `${roomJid}/${nick}` &&
  el.attrs.type === type &&
  el.getChild('x', NS_MUC_USER) !== undefined;

export function statusCodes(el: Element): number[] {
  return (el.getChild('x', NS_MUC_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code));
}

export function mucItem(el: Element): Record<string, string> {
  const item = el.getChild('x', NS_MUC_USER)?.getChild('item');
  assert.ok(item, `no muc#user item in ${el.toString()}`);
  return item.attrs as Record<string, string>;
}

/** Every message stanza in the inbox carrying a body (for isolation checks). */
export function bodies(c: ClientSession): string[] {
  return c.inbox.filter((el) => el.is('message')).map((el) => `${el.attrs.from}: ${el.getChildText('body') ?? ''}`);
}

/** Waits for `n` messages matching `pred`, in arrival order. */
export async function collect(c: ClientSession, pred: (el: Element) => boolean, n: number, timeoutMs: number) {
  const got: Element[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`only ${got.length} of ${n} stanzas arrived`);
    got.push(await c.waitFor(pred, left));
  }
  return got;
}

/** The test server's `gateways:` section for the IRC driver (JSON is valid YAML flow syntax). */
export function gatewayYaml(domain: string, o: { defaultServer: string; servers: Record<string, unknown> }): string {
  const options = {
    default_server: o.defaultServer,
    servers: o.servers,
    // ngircd runs with MaxPenaltyTime = 0 in these tests; the pacing still applies (RFC 1459 §8.10).
    flood_burst: 20,
    flood_lines_per_second: 100,
    presence_poll_seconds: 1,
    keepalive_seconds: 30,
  };
  return [
    'gateways:',
    `  ${domain}:`,
    '    driver: irc',
    '    login_timeout_seconds: 10',
    '    reconnect: { initial_seconds: 0.3, max_seconds: 1, stable_seconds: 5 }',
    `    options: ${JSON.stringify(options)}`,
  ].join('\n');
}

/** A raw IRC line that is a PRIVMSG to `nick` (with `text`, if given). */
export const privmsgTo = (nick: string, text?: string) => (l: { command: string; params: string[] }) =>
  l.command === 'PRIVMSG' && l.params[0] === nick && (text === undefined || l.params[1] === text);
